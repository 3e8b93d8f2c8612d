"""Progress of long work (issue 10): the library reports through a callback, the CLI draws a bar
only for a person at a terminal, and intake never changes the calling process.

One scenario walks the four long jobs: ingest of a batch, media build, full verification and the
disposal run; each reports ``done`` rising from 0 to ``total``.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
import threading
from pathlib import Path

import pytest

from pipeline.progress import Progress
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

TODAY = dt.date.today()
T0 = dt.date(TODAY.year - 5, 1, 15)  # live cases: documents are filed, not reviewed
A, B = f"PPS-{T0.year}-0001", f"PPS-{T0.year}-0002"


def _rising(seen: list[Progress], stage: str) -> list[int]:
    """The ``done`` values of ``stage``: from 0, never falling, ending at the one total."""
    mine = [p for p in seen if p.stage == stage]
    assert mine, f"no progress reported for {stage}: {seen}"
    totals = {p.total for p in mine}
    assert len(totals) == 1, mine
    done = [p.done for p in mine]
    assert done[0] == 0 and done[-1] == mine[0].total, done
    assert done == sorted(done) and all(0 <= d <= mine[0].total for d in done), done
    return done


def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__ARCHIVE_MEDIUM", '"image-files"')
    run("init")
    for ref in (A, B):
        run("case", "open", ref, "--consent-to-store", "--as-of", T0.isoformat())
    return home


def _batch(tmp_path: Path, name: str, ref: str) -> Path:
    return ScanFactory(seed=len(name)).batch(tmp_path / "in", name, [Cover(ref, "retain", "NOTE"), Doc("note", ref)],
                                             container="pdf-text", dpi=150).files[0]


@pytest.mark.slow
def test_the_four_long_jobs_report_rising_progress(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline import disposal, intake, media
    from pipeline.workspace import Workspace
    from tests.auth_helpers import unlocked

    home = _setup(tmp_path, monkeypatch)
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "1")  # about progress, not the approval
    seen: list[Progress] = []
    ws = Workspace.load(home)
    try:
        files = [_batch(tmp_path, "a.pdf", A), _batch(tmp_path, "bb.pdf", B)]
        results = intake.ingest(ws, None, files, workers=1, progress=seen.append)
        assert [r["outcome"] for r in results] == ["done", "done"]
        assert _rising(seen, "ingest")[-1] == 2

        from pipeline import authority

        bob = authority.recover(ws, PASSPHRASE.encode())
        built = media.build(ws, tmp_path / "out", auth=bob, today=TODAY, progress=seen.append)
        assert _rising(seen, "build") == [0, len(built)] == [0, 1]  # default capacity: one disc

        image = Path(built[0]["path"])
        report = media.verify(ws, image, full=True, auth=bob, progress=seen.append)
        assert _rising(seen, "verify")[-1] == report["items"] >= 2
        assert media.verify(ws, image, full=False, auth=None, progress=seen.append)["ok"]
        assert len([p for p in seen if p.stage == "verify"]) == report["items"] + 1  # a quick read counts nothing

        from tests.auth_helpers import backdate

        with ws.transaction() as s:  # time passes (a disposal runs on the real date): the cases fall due today
            auth = unlocked(s, ws.config, "bob")
            backdate(s, dt.date(T0.year - 2, T0.month, T0.day), [A, B])
        cert = disposal.execute(ws, [image], TODAY, auth=auth, consent="--yes", progress=seen.append)
        assert sorted(c["case_ref"] for c in cert["destroyed"]) == [A, B]
        assert _rising(seen, "dispose") == [0, 1, 2]
    finally:
        ws.close()


def test_no_bar_without_a_terminal_and_a_bar_on_one() -> None:
    """The CLI's bar: nothing with --json or off a terminal (the callback is not even given to the
    library), a bar on a terminal."""
    from pipeline.cli._progress import progress_bar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    for quiet, err, out in ((True, Tty(), Tty()), (False, io.StringIO(), Tty()), (False, Tty(), io.StringIO())):
        with progress_bar("building discs", quiet=quiet, stream=err, stdout=out) as progress:
            assert progress is None
        assert err.getvalue() == ""
    err = Tty()
    with progress_bar("building discs", stream=err, stdout=Tty()) as progress:
        assert progress is not None
        for done in range(4):
            progress(Progress("build", done, 3))
    assert "building discs" in err.getvalue() and "3/3" in err.getvalue()


@pytest.mark.slow
def test_cli_ingest_prints_no_bar_when_not_a_tty(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(tmp_path, monkeypatch)
    r = run("ingest", str(_batch(tmp_path, "c.pdf", A)))
    assert r.out.startswith("c.pdf: done") and "processing inputs" not in r.err and "\x1b[" not in r.err + r.out
    r = run("ingest", str(_batch(tmp_path, "dd.pdf", B)), "--json")
    assert r.json()["inputs"][0]["outcome"] == "done" and r.err == ""


@pytest.mark.slow
def test_ingest_from_a_thread_leaves_the_process_as_it_was(database_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A threaded web server calls intake: the jobs run in worker processes, so neither the
    environment (the passphrase, TMPDIR, Tesseract's thread cap) nor the temp dir of the calling
    process changes, not afterwards and not meanwhile as another thread sees it."""
    from pipeline import intake
    from pipeline.workspace import Workspace

    home = _setup(tmp_path, monkeypatch)
    file = _batch(tmp_path, "e.pdf", A)
    before_env, before_tmp = dict(os.environ), tempfile.tempdir
    seen_env: list[dict] = []
    seen_tmp: set[str | None] = set()
    results: list[list[dict]] = []
    ws = Workspace.load(home)
    try:
        worker = threading.Thread(target=lambda: results.append(intake.ingest(ws, None, [file], workers=1)))
        worker.start()
        while worker.is_alive():
            seen_env.append(dict(os.environ))
            seen_tmp.add(tempfile.tempdir)
            worker.join(0.02)
    finally:
        ws.close()
    assert results and results[0][0]["outcome"] == "done"
    assert dict(os.environ) == before_env and tempfile.tempdir == before_tmp
    assert len(seen_env) > 5 and all(env == before_env for env in seen_env)
    assert seen_tmp == {before_tmp}


@pytest.mark.slow
def test_cli_dispose_draws_a_bar_on_a_terminal_and_none_with_json(database_url: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The disposal run's progress reaches the CLI's bar (cases disposed of, on stderr) for a person
    at a terminal; with --json on the same terminal nothing but the certificate is printed."""
    from pipeline import cli as _cli  # noqa: F401 - the CLI's modules, loaded before the patch
    from pipeline.cli import _progress
    from pipeline.workspace import Workspace
    from tests.auth_helpers import backdate

    home = _setup(tmp_path, monkeypatch)
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "1")  # about progress, not the approval
    for name, ref in (("f.pdf", A), ("gg.pdf", B)):
        run("ingest", str(_batch(tmp_path, name, ref)))
    [disc] = run("media", "build", "--out", str(tmp_path / "out"), "--json").json()
    monkeypatch.setattr(_progress, "_isatty", lambda _stream: True)  # as if a person were watching
    ws = Workspace.load(home)
    try:
        for ref in (A, B):
            with ws.transaction() as s:  # one case at a time is six years inactive (register and log alike)
                backdate(s, dt.date(TODAY.year - 8, 1, 1), [ref])
            r = run("dispose", "--media", disc["path"], "--yes", *(["--json"] if ref == B else []))
            if ref == A:
                assert "disposing of cases" in r.err and "1/1" in r.err and f"cases to dispose of: {A}" in r.out
            else:
                assert r.err == "" and [c["case_ref"] for c in r.json()["destroyed"]] == [B]
    finally:
        ws.close()
