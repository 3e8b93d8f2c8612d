"""Crash safety of intake (issue 3): SIGKILL ``pps-archive ingest`` at many points, restart, and check
that every input ends processed exactly once with nothing left behind.

The program runs as a real process in its own process group; a kill takes it and all its workers
(and their ocrmypdf/Tesseract children) down at once, as a power cut or the OOM killer would. Kill
points are moments of the batch seen from outside: a delay after start (starting, taking in), a new
input row, a job's working folder appearing (OCR under way), a temp file in the vault (encrypting),
a new vault blob (encrypted, not yet committed), a new document row, an input finishing. After
each kill the next ``ingest`` gets the originals still in the drop folder (those not yet taken).

A restart must take over the jobs of the killed workers at once (no waiting for their leases).
A killed worker may leave an encrypted blob it never committed; the sweep at the next start removes
such blobs once older than twice a job's lease, so the test ages the vault's files by an hour (a
stand-in for that wait) and runs ``ingest`` once more before checking the vault.

The batch is run once per database backend (module-scoped); the tests below check its outcome.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.factory import Batch, Cover, Doc, ScanFactory
from tests.intake._crash_run import (
    EMPTY,
    REF,
    CrashRun,
    database,
    kill_points,
    make_batch,
    one_round,
    quarantine_dirs,
    vault_files,
)
from tests.intake._helpers import DbProbe, entries, files_under, kill_group, plaintext_files, pps, pps_env, sqlite_url, start

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crashed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashRun]:
    tmp = tmp_path_factory.mktemp(f"crash-{request.param}")
    for database_url in database(request, tmp):
        home, drop = tmp / "home", tmp / "drop"
        batches, _ = make_batch(drop)
        run = CrashRun(request.param, home, drop, pps_env(home, database_url), batches)
        pps(run.env, "init")
        pps(run.env, "case", "open", REF, "--consent-to-store")
        probe = DbProbe(database_url)
        t0 = time.monotonic()
        try:
            for event, seconds in kill_points(run, probe):
                one_round(run, probe, len(run.kills), event, seconds)
            # the last restart runs to the end, with the originals not yet taken dropped in again
            left = [str(p) for p in sorted(drop.iterdir()) if p.is_file()]
            final = pps(run.env, "ingest", "--json", *left, expect=None)
            assert final.code in (0, ExitCode.QUARANTINED), final.err[-3000:]
            run.last_ingest = pps(run.env, "ingest", "--json").json()["inputs"]
            run.seconds = time.monotonic() - t0
            run.inputs, run.referenced = probe.inputs(), probe.vault_items()
            run.orphans = {b.removesuffix(".age") for b in vault_files(home)[0]} - run.referenced
            an_hour_ago = time.time() - 3600
            for f in files_under(home / "vault"):
                os.utime(f, (an_hour_ago, an_hour_ago))
            pps(run.env, "ingest")  # starts with the sweep
        finally:
            probe.close()
        run.documents = pps(run.env, "documents", "--json").json()
        run.quarantine = pps(run.env, "quarantine", "list", "--json").json()
        print(f"\n{run.backend}: {len(run.landed())} kills in {len(run.kills)} rounds, {run.seconds:.1f} s in all; "
              f"caught a vault temp file: {run.caught_tmp}, an uncommitted blob: {run.caught_blob}, "
              f"a stashed but uncommitted quarantine: {run.caught_quarantining}; "
              f"{len(run.orphans)} orphan blob(s) before the sweep")
        for k in run.kills:
            print("  ", *k)
        print("   inputs (id, name, state, attempts):", run.inputs)
        yield run


def expected_names(batches: list[Batch]) -> set[str]:
    return {b.files[0].name if len(b.files) == 1 else f"{b.files[0].name} (+{len(b.files) - 1} more pages)"
            for b in batches} | {EMPTY}


# --- the outcome ---------------------------------------------------------------------------------

def test_enough_kill_points_were_hit(crashed: CrashRun) -> None:
    assert len(crashed.landed()) >= 8, crashed.kills


def test_each_input_is_recorded_once_and_ends_done(crashed: CrashRun) -> None:
    names = Counter(i[1] for i in crashed.inputs)
    assert set(names) == expected_names(crashed.batches)
    assert max(names.values()) == 1, f"inputs taken in more than once: {names}"
    states = {i[1]: i[2] for i in crashed.inputs}
    assert states.pop(EMPTY) == "quarantined"
    assert set(states.values()) == {"done"}, states


def test_documents_are_not_duplicated_nor_lost(crashed: CrashRun) -> None:
    got = sorted(tuple(d["source_pages"]) for d in crashed.documents)
    want = sorted(e.source_pages for b in crashed.batches for e in b.documents)
    assert got == want
    truth = {e.source_pages: (e.decision, e.doc_class, e.case_ref) for b in crashed.batches for e in b.documents}
    assert all(truth[tuple(d["source_pages"])] == (d["decision"], d["class"], d["case_ref"]) for d in crashed.documents)


def test_only_the_bad_input_is_in_quarantine(crashed: CrashRun) -> None:
    assert [q["file"] for q in crashed.quarantine] == [EMPTY]


def test_the_bad_input_keeps_its_reason_through_crashes(crashed: CrashRun) -> None:
    """A kill while the empty file is being quarantined must not turn "is empty" into "processing
    failed 3 times (FileNotFoundError ...)"."""
    assert "empty" in crashed.quarantine[0]["reason"], crashed.quarantine[0]["reason"]


def test_quarantine_keeps_the_refused_file_once_under_its_entry(crashed: CrashRun) -> None:
    assert quarantine_dirs(crashed.home) == {crashed.quarantine[0]["kept_at"]}
    kept = files_under(crashed.home / crashed.quarantine[0]["kept_at"])
    assert len(kept) == 1, f"the entry's folder holds {kept}"


def test_nothing_is_left_to_do_nor_in_the_drop_folder(crashed: CrashRun) -> None:
    assert crashed.last_ingest == []
    assert entries(crashed.drop) == []


def test_spool_and_work_are_empty(crashed: CrashRun) -> None:
    assert entries(crashed.home / "spool") == []
    assert entries(crashed.home / "work") == []


def test_no_plaintext_outside_the_vault(crashed: CrashRun) -> None:
    """No file in the data dir starts like a PDF, TIFF, JPEG or PNG (or holds a PDF); quarantine
    keeps refused files encrypted too."""
    assert plaintext_files(crashed.home) == []


def test_every_document_blob_is_in_the_vault(crashed: CrashRun) -> None:
    blobs, _ = vault_files(crashed.home)
    missing = crashed.referenced - {b.removesuffix(".age") for b in blobs}
    assert not missing, f"documents whose encrypted scan is missing: {missing}"
    retained = [d for d in crashed.documents if d["decision"] == "retain"]
    assert len(crashed.referenced) == len(retained)


def test_no_orphan_blob_in_the_vault_after_the_sweep(crashed: CrashRun) -> None:
    """Blobs a killed worker wrote but never committed are gone once old enough (the vault was aged)."""
    if not crashed.caught_blob:
        pytest.skip("no kill landed between a blob's write and its commit in this run")
    assert crashed.orphans, "a kill between write and commit left no orphan: was the blob committed after all?"
    blobs, _ = vault_files(crashed.home)
    assert not {b.removesuffix(".age") for b in blobs} - crashed.referenced


def test_no_temp_file_left_in_the_vault(crashed: CrashRun) -> None:
    if not crashed.caught_tmp:
        pytest.skip("no kill landed while a blob was being written in this run")
    _, temps = vault_files(crashed.home)
    assert not temps, f"left in the vault: {sorted(temps)}"


def test_audit_log_verifies(crashed: CrashRun) -> None:
    pps(crashed.env, "audit", "verify")


# --- restarting without waiting ------------------------------------------------------------------

def test_restart_after_a_kill_does_not_wait_for_the_lease(tmp_path: Path) -> None:
    home, drop = tmp_path / "home", tmp_path / "drop"
    batch = ScanFactory(seed=6).batch(drop, "scan_0301.pdf", [Cover(REF, "shred", "SEN-LETTER"), Doc("sen-letter", REF)], dpi=200)
    env = pps_env(home)
    pps(env, "init")
    pps(env, "case", "open", REF, "--consent-to-store")
    probe = DbProbe(sqlite_url(home))
    try:
        proc = start(env, "ingest", "--workers", "1", str(batch.path))
        while proc.poll() is None and not any(i[2] == "processing" for i in probe.inputs()):
            time.sleep(0.01)
        kill_group(proc)
        assert [i[2] for i in probe.inputs()] == ["processing"], "the kill came too late to test anything"
    finally:
        probe.close()
    restarted = start(env, "ingest")
    try:
        restarted.wait(timeout=25)
    except Exception:
        kill_group(restarted)
        raise AssertionError("'pps-archive ingest' did not finish the killed job within 25 s") from None
    docs = pps(env, "documents", "--json").json()
    assert [d["source_pages"] for d in docs] == [["scan_0301.pdf#2"]]
    assert json.loads(pps(env, "quarantine", "list", "--json").out) == []
