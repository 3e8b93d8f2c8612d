"""Fault injection for the disposal run: a real ``pps-archive dispose`` process is SIGKILLed at a
random moment or point (after a vault blob is deleted, while a certificate is written), again and
again, each time on a fresh copy of one prepared archive. After every
kill each case is either untouched (key, vault blobs and documents as they were) or disposed of
(no key, a tombstone, and any blob left behind still named by its tombstone so the next run deletes
it); after a re-run every due case is fully disposed of, the certificate is on disk and complete,
and the audit chain verifies.

Also: a process holding a read transaction open during the run (as a running ``watch`` does) keeps
the destroyed keys' old bytes in the SQLite file; the run then writes no certificate and says what
to stop, and once the reader has gone a re-run finishes and the bytes are gone from both files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import FAST_KDF, PASSPHRASE, PG_ENV, pg_drop_database
from tests.factory import Cover, Doc, ScanFactory

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-01-01"
OPENED = dt.date(dt.date.today().year - 5, 3, 1)
WITH_DOCS = [f"PPS-2019-{i:04d}" for i in range(0, 40, 3)]  # one retained scan each
KEY_ONLY = [f"PPS-2019-{i:04d}" for i in range(40) if i % 3]  # keys made, no documents
HELD = "PPS-2019-0090"
RECENT = "PPS-2025-0001"
DUE = WITH_DOCS + KEY_ONLY


@dataclass
class Prepared:
    home: Path
    discs: list[Path]
    db_url: str  # "" for the SQLite file in the data dir
    pg_template: str | None = None
    pg_copies: list[str] = field(default_factory=list)  # dropped at the end of the test


def _env(home: Path, db_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PPS_ARCHIVE") or k == PG_ENV}
    env.update(FAST_KDF, PPS_ARCHIVE_HOME=str(home), PPS_ARCHIVE_PASSPHRASE=PASSPHRASE,
               PPS_ARCHIVE__DISPOSAL__ERASE_WAIT_SECONDS="3", PYTHONPATH=str(ROOT),
               PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS="1")  # about faults: one person runs it
    env["PPS_ARCHIVE_DATABASE_URL"] = db_url  # empty: the SQLite file in the data dir
    return env


def _prepare(root: Path, db_url: str = "") -> Prepared:
    from pipeline import keystore
    from pipeline.workspace import Workspace

    home = root / "home"
    env = _env(home, db_url)
    run("init", env=env)
    opened = OPENED.isoformat()  # intake files only to cases not yet due for disposal: backdated below
    for ref in DUE + [HELD]:
        run("case", "open", ref, "--consent-to-store", "--as-of", opened, env=env)
    run("case", "open", RECENT, "--consent-to-store", "--as-of", "2025-06-01", env=env)
    run("case", "hold", HELD, "--reason", "sar", "--note", "request received", "--as-of", opened, env=env)
    items = []
    for ref in WITH_DOCS + [RECENT]:
        items += [Cover(ref, "retain", "NOTE"), Doc("note", ref)]
    batch = ScanFactory(seed=33).batch(root / "in", "a.pdf", items, container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]), env=env)
    ws = Workspace.load(home, environ=env)
    try:
        with ws.transaction() as s:
            for ref in KEY_ONLY + [HELD]:
                assert keystore.has_case_key(s, ref)  # case open made (and signed) it
    finally:
        ws.close()
    discs = [Path(b["path"]) for b in run("media", "build", "--out", str(root / "discs"), "--json", env=env).json()]
    for d in discs:
        run("media", "verify", str(d), env=env, expect=ExitCode.NOT_READ_FROM_DISC)  # an image: no shredding unlocked
    _backdate(home, db_url, DUE + [HELD])
    return Prepared(home, discs, db_url)


def _backdate(home: Path, db_url: str, refs: list[str]) -> None:
    """Then time passes: no activity on these cases since 2019, so they are due on the run date
    (in the register and the keyed log alike, as tests/auth_helpers.backdate does)."""
    from pipeline.workspace import Workspace
    from tests.auth_helpers import backdate

    ws = Workspace.load(home, environ=_env(home, db_url))
    try:
        with ws.transaction() as s:
            backdate(s, dt.date(2019, 3, 1), refs)
    finally:
        ws.close()


def _copy(prep: Prepared, dest: Path) -> tuple[Path, str]:
    """A fresh copy of the prepared archive: data dir, and on PostgreSQL a database."""
    home = dest / "home"
    shutil.copytree(prep.home, home)
    if not prep.db_url:
        return home, ""
    name = f"pps_fault_{uuid.uuid4().hex[:10]}"
    prep.pg_copies.append(name)
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{prep.pg_template}"')
    return home, make_url(prep.db_url).set(database=name).render_as_string(hide_password=False)


def _pg_admin(sql: str) -> None:
    engine = create_engine(os.environ[PG_ENV], isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def _url(home: Path, db_url: str) -> str:
    return db_url or f"sqlite+pysqlite:///{home / 'pps-archive.sqlite3'}"


def _state(home: Path, db_url: str) -> dict:
    """What the database holds per case: disposed?, key?, documents; and which blobs exist."""
    engine = create_engine(_url(home, db_url))
    try:
        with engine.connect() as conn:
            cases = {r.ref: {"disposed": r.disposed_on is not None, "id": r.id, "docs": {}}
                     for r in conn.execute(text("SELECT id, ref, disposed_on FROM cases"))}
            finished = conn.execute(text("SELECT count(*) FROM disposal_runs WHERE finished_at IS NOT NULL")).scalar()
            keys = {r[0] for r in conn.execute(text("SELECT case_ref FROM wrapped_keys WHERE purpose = 'case'"))}
            by_id = {c["id"]: ref for ref, c in cases.items()}
            for d in conn.execute(text("SELECT id, case_id, state, vault_item, plaintext_sha256 FROM documents")):
                if d.case_id in by_id:
                    cases[by_id[d.case_id]]["docs"][d.id] = (d.state, d.vault_item, d.plaintext_sha256)
    finally:
        engine.dispose()
    for ref, c in cases.items():
        c["key"] = ref in keys
    blobs = {p.stem for p in (home / "vault").glob("*/*.age")}
    return {"cases": cases, "blobs": blobs, "finished_runs": finished}


def _check_after_kill(before: dict, after: dict) -> str:
    """Every case untouched or disposed of; returns which it was for the due cases, as a summary."""
    disposed = 0
    for ref, old in before["cases"].items():
        new = after["cases"][ref]
        old_blobs = {v for _s, v, _h in old["docs"].values() if v}
        if not new["disposed"]:
            assert new["key"] == old["key"] and new["docs"] == old["docs"], f"{ref} half disposed of: {new}"
            assert old_blobs <= after["blobs"], f"{ref} is live but lost vault blobs"
            continue
        assert ref in DUE, f"{ref} should never be disposed of"
        disposed += 1
        assert not new["key"], f"{ref} disposed of but its key is still there"
        assert all(state == "disposed" and sha is None for state, _v, sha in new["docs"].values()), new
        named = {v for _s, v, _h in new["docs"].values() if v}
        assert (old_blobs & after["blobs"]) <= named, f"{ref}: a blob is left that no tombstone names"
    return f"{disposed}/{len(DUE)}"


def _check_finished(home: Path, db_url: str, before: dict) -> None:
    after = _state(home, db_url)
    for ref in DUE:
        c = after["cases"][ref]
        assert c["disposed"] and not c["key"], ref
        assert all(v is None and state == "disposed" for state, v, _h in c["docs"].values()), c
    for ref in (HELD, RECENT):
        assert after["cases"][ref] == before["cases"][ref]
    gone = {v for ref in DUE for _s, v, _h in before["cases"][ref]["docs"].values() if v}
    assert gone and not (gone & after["blobs"]), "blobs of disposed cases are left in the vault"
    kept = {v for ref in (HELD, RECENT) for _s, v, _h in before["cases"][ref]["docs"].values() if v}
    assert kept <= after["blobs"]
    # the certificate on disk is whole and covers every case the run disposed of, also those
    # disposed of by the killed attempt
    js = home / "certificates" / f"disposal-{AS_OF}-run1.json"
    pdf = js.with_suffix(".pdf")
    on_disk = json.loads(js.read_text())
    assert sorted(d["case_ref"] for d in on_disk["destroyed"]) == sorted(DUE)
    assert sorted(on_disk["keys_destroyed"]) == sorted(DUE)
    assert on_disk["audit_head"] and on_disk["erasure"]["records"] == len(DUE)
    if not db_url:
        assert on_disk["erasure"]["verified"] is True
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF") and body.rstrip().endswith(b"%%EOF")
    assert not list((home / "certificates").glob(".tmp-*"))
    run("audit", "verify", env=_env(home, db_url))


def _argv(discs: list[Path]) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "dispose", *[a for d in discs for a in ("--media", str(d))],
            "--as-of", AS_OF, "--yes", "--json"]


def _timed_run(prep: Prepared, dest: Path) -> float:
    home, url = _copy(prep, dest)
    t0 = time.monotonic()
    subprocess.run(_argv(prep.discs), env=_env(home, url), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def _kill_when(proc: subprocess.Popen, ready, deadline: float) -> None:  # noqa: ANN001 - a predicate
    """SIGKILL ``proc`` as soon as ``ready()`` holds (polled every half millisecond)."""
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            break
        time.sleep(0.0005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


def _fault_runs(prep: Prepared, tmp: Path, runs: int, seed: int) -> list[str]:
    """Kill points, in turn: a random moment of the whole run; right after the k-th vault blob
    of the run is deleted (k random); while a certificate file is being written."""
    rng = random.Random(seed)
    before = _state(prep.home, prep.db_url)
    startup = _timed_startup(prep, tmp / "startup")  # imports, reading the discs
    total = _timed_run(prep, tmp / "whole")
    outcomes = []
    for n in range(runs):
        home, url = _copy(prep, tmp / f"run{n}")
        blobs = len(before["blobs"])
        proc = subprocess.Popen(_argv(prep.discs), env=_env(home, url), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t0 = time.monotonic()
        if n % 3 == 0:
            _kill_when(proc, lambda: False, t0 + rng.uniform(0.8 * startup, 1.1 * total))
        elif n % 3 == 1:
            k = rng.randint(1, blobs)
            _kill_when(proc, lambda k=k, home=home, blobs=blobs: len(list((home / "vault").glob("*/*.age"))) <= blobs - k, t0 + 60)
        else:
            _kill_when(proc, lambda home=home: any(p.name != ".dispose.lock" for p in (home / "certificates").iterdir()),
                       t0 + 60)
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr.read().decode()
        proc.stderr.close()
        killed = _state(home, url)
        summary = _check_after_kill(before, killed)
        outcomes.append("finished" if killed["finished_runs"] else summary)
        cert = run("dispose", *[a for d in prep.discs for a in ("--media", str(d))], "--as-of", AS_OF, "--yes", "--json",
                   env=_env(home, url)).json()
        assert cert["run"] == (2 if killed["finished_runs"] else 1)  # the re-run finishes the killed run
        _check_finished(home, url, before)
        shutil.rmtree(home)
        if url:
            pg_drop_database(os.environ[PG_ENV], make_url(url).database)
            prep.pg_copies.remove(make_url(url).database)
    return outcomes


def _timed_startup(prep: Prepared, dest: Path) -> float:
    home, url = _copy(prep, dest)
    t0 = time.monotonic()
    argv = [a for a in _argv(prep.discs) if a != "--yes"] + ["--dry-run"]
    subprocess.run(argv, env=_env(home, url), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


@pytest.fixture(scope="module")
def prepared_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    return _prepare(tmp_path_factory.mktemp("prepared"))


@pytest.mark.slow
def test_dispose_killed_at_random_points_on_sqlite(prepared_sqlite: Prepared, tmp_path: Path) -> None:
    outcomes = _fault_runs(prepared_sqlite, tmp_path, runs=int(os.environ.get("FAULT_RUNS", 32)), seed=9)
    inside = [o for o in outcomes if o != "finished" and not o.startswith("0/")]
    assert len(inside) >= len(outcomes) // 3, f"too few kills landed inside the disposal: {outcomes}"


@pytest.mark.slow
@pytest.mark.postgres
def test_dispose_killed_at_random_points_on_postgresql(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"no PostgreSQL: set ${PG_ENV}")
    name = f"pps_faultprep_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = make_url(os.environ[PG_ENV]).set(database=name).render_as_string(hide_password=False)
    prep = None
    try:
        prep = _prepare(tmp_path_factory.mktemp("prepared-pg"), url)
        prep.pg_template = name
        outcomes = _fault_runs(prep, tmp_path, runs=12, seed=10)
        assert any(o != "finished" and not o.startswith("0/") for o in outcomes), outcomes
    finally:
        for copy in [*(prep.pg_copies if prep else []), name]:
            pg_drop_database(os.environ[PG_ENV], copy)


# --- a reader holding the database open during the run -------------------------------------------

READER_SQLITE = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN")
c.execute("SELECT count(*) FROM wrapped_keys").fetchone()
print("ready", flush=True)
sys.stdin.readline()
"""

READER_PG = """
import psycopg, sys
c = psycopg.connect(sys.argv[1])
c.execute("SELECT count(*) FROM wrapped_keys").fetchone()  # psycopg opens a transaction
print("ready", flush=True)
sys.stdin.readline()
"""


def _small(root: Path, db_url: str) -> tuple[Path, list[str], list[bytes]]:
    """Three due cases with keys (one with a scan on a disc); returns the key records too."""
    from pipeline import keystore
    from pipeline.workspace import Workspace

    home = root / "home"
    env = _env(home, db_url) | {"PPS_ARCHIVE__DISPOSAL__ERASE_WAIT_SECONDS": "2"}
    run("init", env=env)
    refs = ["PPS-2019-0100", "PPS-2019-0101", "PPS-2019-0102"]
    for ref in refs:
        run("case", "open", ref, "--consent-to-store", "--as-of", OPENED.isoformat(), env=env)
    batch = ScanFactory(seed=34).batch(root / "in", "a.pdf", [Cover(refs[0], "retain", "NOTE"), Doc("note", refs[0])],
                                       container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]), env=env)
    ws = Workspace.load(home, environ=env)
    try:
        with ws.transaction() as s:
            for ref in refs[1:]:
                assert keystore.has_case_key(s, ref)  # case open made (and signed) it
    finally:
        ws.close()
    discs = [b["path"] for b in run("media", "build", "--out", str(root / "discs"), "--json", env=env).json()]
    _backdate(home, db_url, refs)
    engine = create_engine(_url(home, db_url))
    try:
        with engine.connect() as conn:
            records = [bytes(r[0]) for r in conn.execute(text("SELECT record FROM wrapped_keys WHERE purpose = 'case'"))]
    finally:
        engine.dispose()
    assert len(records) == 3
    return home, [a for d in discs for a in ("--media", d)], records


def _files_holding(home: Path, records: list[bytes]) -> list[str]:
    out = []
    for name in ("pps-archive.sqlite3", "pps-archive.sqlite3-wal"):
        path = home / name
        data = path.read_bytes() if path.exists() else b""
        if any(r in data or r[:100] in data for r in records):
            out.append(name)
    return out


@pytest.mark.slow
def test_a_reader_holding_an_old_snapshot_stops_the_certificate_until_it_goes(database_url: str, tmp_path: Path) -> None:
    pg = database_url.startswith("postgresql")
    home, media, records = _small(tmp_path, database_url if pg else "")
    env = _env(home, database_url if pg else "") | {"PPS_ARCHIVE__DISPOSAL__ERASE_WAIT_SECONDS": "2"}
    if pg:
        target = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        reader = subprocess.Popen([sys.executable, "-c", READER_PG, target], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    else:
        assert _files_holding(home, records) == ["pps-archive.sqlite3"]
        reader = subprocess.Popen([sys.executable, "-c", READER_SQLITE, str(home / "pps-archive.sqlite3")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "ready"
        r = run("dispose", *media, "--as-of", AS_OF, "--yes", "--json", env=env, expect=ExitCode.ERASURE_UNVERIFIED)
        assert "watch daemon" in r.err and "run the disposal again" in r.err, r.err
        assert not list((home / "certificates").glob("*.json")), "a certificate was written while the bytes remain"
        if not pg:
            assert _files_holding(home, records), "the test did not keep the old bytes in place"
    finally:
        reader.communicate("\n", timeout=30)
    cert = run("dispose", *media, "--as-of", AS_OF, "--yes", "--json", env=env).json()
    assert cert["run"] == 1 and sorted(cert["keys_destroyed"]) == ["PPS-2019-0100", "PPS-2019-0101", "PPS-2019-0102"]
    assert (home / "certificates" / f"disposal-{AS_OF}-run1.json").is_file()
    if pg:
        assert cert["erasure"]["verified"] is False and "VACUUM FULL" in " ".join(cert["erasure"]["checked"])
        assert "base backups" in " ".join(cert["erasure"]["not_checked"])
    else:
        assert cert["erasure"]["verified"] is True
        assert _files_holding(home, records) == []


# --- finishing what an earlier run left ------------------------------------------------------------

def _media(prep: Prepared) -> list[str]:
    return [a for d in prep.discs for a in ("--media", str(d))]


@pytest.mark.slow
def test_a_run_killed_one_day_is_certified_by_the_next_days_run(prepared_sqlite: Prepared, tmp_path: Path) -> None:
    before = _state(prepared_sqlite.home, "")
    home, _ = _copy(prepared_sqlite, tmp_path)
    proc = subprocess.Popen(_argv(prepared_sqlite.discs), env=_env(home), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    blobs = len(before["blobs"])
    _kill_when(proc, lambda: len(list((home / "vault").glob("*/*.age"))) <= blobs - 3, time.monotonic() + 60)
    assert proc.returncode == -signal.SIGKILL
    cert = run("dispose", *_media(prepared_sqlite), "--as-of", "2026-01-02", "--yes", "--json", env=_env(home)).json()
    assert cert["run"] == 2 and cert["run_date"] == "2026-01-02"
    first = json.loads((home / "certificates" / f"disposal-{AS_OF}-run1.json").read_text())
    assert first["destroyed"] and first["erasure"]["verified"] is True
    assert sorted([d["case_ref"] for d in first["destroyed"]] + [d["case_ref"] for d in cert["destroyed"]]) == sorted(DUE)
    assert not _state(home, "")["blobs"] & {v for ref in DUE for _s, v, _h in before["cases"][ref]["docs"].values() if v}


@pytest.mark.slow
def test_missing_certificate_files_are_written_again(prepared_sqlite: Prepared, tmp_path: Path) -> None:
    home, _ = _copy(prepared_sqlite, tmp_path)
    run("dispose", *_media(prepared_sqlite), "--as-of", AS_OF, "--yes", env=_env(home))
    js = home / "certificates" / f"disposal-{AS_OF}-run1.json"
    original = json.loads(js.read_text())
    js.unlink()
    js.with_suffix(".pdf").unlink()
    run("dispose", *_media(prepared_sqlite), "--as-of", AS_OF, "--yes", env=_env(home))
    assert json.loads(js.read_text()) == original and js.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


def test_the_erase_wait_is_bounded(tmp_path: Path) -> None:
    from pipeline.config import load_config
    from pps_archive.errors import ConfigInvalid

    assert load_config(None, {}).section("disposal")["erase_wait_seconds"] == 60.0
    with pytest.raises(ConfigInvalid, match="disposal.erase_wait_seconds"):
        load_config(None, {"PPS_ARCHIVE__DISPOSAL__ERASE_WAIT_SECONDS": "-1"})


def test_a_killed_two_person_run_is_finished_by_executing_the_same_plan(prepared_sqlite: Prepared, tmp_path: Path) -> None:
    """The approved plan stays the plan of its interrupted run: the cases it disposed of already
    still count as its cases, so executing it again finishes the run instead of being refused."""
    home, url = _copy(prepared_sqlite, tmp_path / "two")
    env = _env(home, url) | {"PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS": "2"}
    before = _state(prepared_sqlite.home, prepared_sqlite.db_url)
    logins = {}
    for name, password in (("alice", "alice keeps the garden shed key 41"), ("bob", "bob plays the tuba on tuesdays 17")):
        path = tmp_path / f"{name}.pw"
        path.write_text(password + "\n")
        path.chmod(0o600)
        run("staff", "add", name, "--role", "manager", env=env | {"PPS_ARCHIVE_NEW_PASSWORD_FILE": str(path)})
        logins[name] = env | {"PPS_ARCHIVE_USER": name, "PPS_ARCHIVE_PASSWORD_FILE": str(path)}
    plan = run("dispose", *_media(prepared_sqlite), "--as-of", AS_OF, "--prepare", "--json", env=logins["alice"]).json()
    run("dispose", "--approve", str(plan["id"]), "--plan-hash", plan["sha256"], "--yes", env=logins["bob"])
    argv = [sys.executable, "-m", "pipeline.cli", "dispose", "--execute", str(plan["id"]), *_media(prepared_sqlite),
            "--yes", "--json"]
    env = logins["bob"]
    blobs = len(before["blobs"])
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _kill_when(proc, lambda: len(list((home / "vault").glob("*/*.age"))) <= blobs - 3, time.monotonic() + 60)
    proc.stderr.close()
    killed = _state(home, url)
    assert proc.returncode == -signal.SIGKILL and not killed["finished_runs"]
    assert 0 < sum(c["disposed"] for c in killed["cases"].values()) < len(DUE)
    cert = run("dispose", "--execute", str(plan["id"]), *_media(prepared_sqlite), "--yes", "--json", env=env).json()
    assert cert["run"] == 1 and cert["approvers"] == ["alice", "bob"]
    _check_finished(home, url, before)
