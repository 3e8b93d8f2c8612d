"""Taking files in exactly once, on both databases (no OCR: these are the bookkeeping rules)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import queue, quarantine, spool
from pipeline.models import Input
from tests.conftest import PASSPHRASE

NOW = dt.datetime(2026, 1, 5, 9, 30)


def drop(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_take_in_moves_into_a_private_spool_and_queues(workspace, tmp_path: Path) -> None:
    f = drop(tmp_path / "drop", "Smith letter.pdf", b"%PDF-1.4 one")
    taken = spool.take_in(workspace, [f], ["Smith letter.pdf"], "office", now=NOW)
    assert taken.outcome == "queued"
    assert not f.exists()
    [member] = spool.spool_members(workspace, taken.sha256)
    assert member.name == "0001.pdf"  # our name: position and extension, never the family's
    assert oct(member.stat().st_mode & 0o777) == "0o600"
    with workspace.transaction() as s:
        row = s.get(Input, taken.input_id)
        assert (row.state, row.display_name, row.size) == ("queued", "Smith letter.pdf", 12)


def test_same_bytes_twice_are_reported_not_queued_twice(workspace, tmp_path: Path) -> None:
    first = spool.take_in(workspace, [drop(tmp_path / "a", "scan1.pdf", b"%PDF same")], ["scan1.pdf"], "office", now=NOW)
    again = spool.take_in(workspace, [drop(tmp_path / "b", "scan1 copy.pdf", b"%PDF same")], ["scan1 copy.pdf"], "office",
                          now=NOW + dt.timedelta(hours=1))
    assert again.outcome == "duplicate" and again.input_id == first.input_id
    with workspace.transaction() as s:
        assert len(s.scalars(select(Input)).all()) == 1
        [entry] = quarantine.list_entries(s)
    assert entry["file"] == "scan1 copy.pdf"
    assert "already received on 2026-01-05 09:30 as 'scan1.pdf'" in entry["reason"]


def test_originals_left_by_a_crash_after_commit_are_recognised(workspace, tmp_path: Path) -> None:
    f = drop(tmp_path / "drop", "scan2.pdf", b"%PDF crash")
    keep = tmp_path / "copy"
    shutil.copy2(f, keep)
    first = spool.take_in(workspace, [f], ["scan2.pdf"], "office", now=NOW)
    shutil.copy2(keep, f)  # as if the process died before removing the original
    again = spool.take_in(workspace, [f], ["scan2.pdf"], "office", now=NOW)
    assert (again.outcome, again.input_id) == ("already-taken", first.input_id)
    assert not f.exists()
    with workspace.transaction() as s:
        assert quarantine.list_entries(s) == []


def test_group_of_page_files_is_one_input_in_page_order(workspace, tmp_path: Path) -> None:
    pages = [drop(tmp_path / "d", f"scan_0042_p00{i}.jpg", f"page {i}".encode()) for i in (1, 2, 3)]
    taken = spool.take_in(workspace, pages, [p.name for p in pages], "office", now=NOW)
    members = spool.spool_members(workspace, taken.sha256)
    assert [m.read_bytes() for m in members] == [b"page 1", b"page 2", b"page 3"]
    with workspace.transaction() as s:
        assert s.get(Input, taken.input_id).display_name == "scan_0042_p001.jpg (+2 more pages)"


def test_recover_removes_half_copied_and_orphan_spool_folders(workspace, tmp_path: Path) -> None:
    kept = spool.take_in(workspace, [drop(tmp_path, "a.pdf", b"%PDF a")], ["a.pdf"], "office", now=NOW)
    (workspace.path("spool") / ".incoming-123-abc").mkdir()
    (workspace.path("spool") / ("f" * 64)).mkdir()
    removed = spool.recover(workspace)
    assert sorted(removed) == sorted([".incoming-123-abc", "f" * 64])
    assert spool.spool_dir(workspace, kept.sha256).exists()


def test_claims_never_hand_one_job_to_two_workers(workspace, tmp_path: Path) -> None:
    for i in range(3):
        spool.take_in(workspace, [drop(tmp_path, f"{i}.pdf", f"%PDF {i}".encode())], [f"{i}.pdf"], "office", now=NOW)
    now = queue.utcnow()
    with workspace.sessions() as s1, workspace.sessions() as s2:
        s1.begin()
        a = queue.claim(s1, "w1", now=now)
        if workspace.engine.dialect.name == "postgresql":
            # a second worker, while the first still holds its row lock, skips it
            s2.begin()
            b = queue.claim(s2, "w2", now=now)
            assert b is not None and b.id != a.id
            s2.commit()
        s1.commit()
    with workspace.transaction() as s:
        c = queue.claim(s, "w3", now=now)
        assert c is not None and c.id != a.id
        claimed = s.scalars(select(Input).where(Input.state == "processing")).all()
        assert len({r.claimed_by for r in claimed}) == len(claimed)


def test_an_abandoned_job_is_claimed_again_after_its_lease(workspace, tmp_path: Path) -> None:
    spool.take_in(workspace, [drop(tmp_path, "x.pdf", b"%PDF x")], ["x.pdf"], "office", now=NOW)
    t0 = queue.utcnow()
    with workspace.transaction() as s:
        first = queue.claim(s, "dead-worker", now=t0, lease=dt.timedelta(minutes=5))
    with workspace.transaction() as s:
        assert queue.claim(s, "w2", now=t0 + dt.timedelta(minutes=1)) is None
        again = queue.claim(s, "w2", now=t0 + dt.timedelta(minutes=6))
        assert again.id == first.id and again.attempts == 2


def test_spool_is_private(workspace) -> None:
    assert oct(os.stat(workspace.path("spool")).st_mode & 0o777) == "0o700"


def test_a_quarantined_file_dropped_in_again_is_queued_again(workspace, tmp_path: Path) -> None:
    from pipeline import keystore
    from pipeline.worker import quarantine as quarantine_job

    with workspace.transaction() as s:
        keystore.ensure_archive_id(s)
        master = keystore.ensure_master_key(s, workspace.config, PASSPHRASE.encode(), keystore.archive_id(s), actor="t")
        keystore.authenticate_keys(s, master, workspace.data_dir, actor="t")  # pins the signing key, as init does
    f = drop(tmp_path / "d", "scan9.pdf", b"%PDF nine")
    first = spool.take_in(workspace, [f], ["scan9.pdf"], "office", now=NOW)
    quarantine_job(workspace, first.input_id, "is damaged: scan it again")
    with workspace.transaction() as s:
        [entry] = quarantine.list_entries(s)
        assert entry["kept_at"] and not spool.spool_dir(workspace, first.sha256).exists()
    again = spool.take_in(workspace, [drop(tmp_path / "d", "scan9.pdf", b"%PDF nine")], ["scan9.pdf"], "office", now=NOW)
    assert (again.outcome, again.input_id) == ("queued", first.input_id)
    with workspace.transaction() as s:
        row = s.get(Input, first.input_id)
        assert (row.state, row.attempts) == ("queued", 0)
        assert quarantine.list_entries(s) == []  # resolved, its encrypted copy removed
    assert spool.spool_dir(workspace, first.sha256).exists()


def test_recovery_waits_for_other_active_processes(workspace, tmp_path: Path) -> None:
    import subprocess
    import sys

    from pipeline.hostlock import active

    (workspace.path("spool") / ("e" * 64)).mkdir()  # as if another process were committing it now
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_SH); print('held', flush=True); time.sleep(30)"),
        str(workspace.data_dir / ".intake.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        ran = []
        with active(workspace.data_dir, lambda: ran.append(spool.recover(workspace))):
            pass
        assert ran == [] and (workspace.path("spool") / ("e" * 64)).exists()
    finally:
        holder.kill()
        holder.wait()
    with active(workspace.data_dir, lambda: ran.append(spool.recover(workspace))):
        pass
    assert ran == [["e" * 64]]


def test_jobs_of_dead_workers_on_this_machine_are_freed(workspace, tmp_path: Path) -> None:
    from pipeline.hostlock import worker_name

    spool.take_in(workspace, [drop(tmp_path, "z.pdf", b"%PDF z")], ["z.pdf"], "office", now=NOW)
    with workspace.transaction() as s:
        row = queue.claim(s, worker_name(workspace.data_dir, 1, pid=999999999), now=queue.utcnow())  # no such process
    with workspace.transaction() as s:
        assert spool.free_dead_workers(workspace, s) == 1
        assert s.get(Input, row.id).state == "queued"


def test_watcher_takes_in_a_file_whose_name_is_not_utf8_once(workspace, tmp_path: Path) -> None:
    """The daemon's path: the watcher hands the file over, the spool takes it (old code: the
    database refused the name, the watcher retried for ever, a plaintext spool copy stayed)."""
    from scanners.watch import DropFolderWatcher, ScannerProfile, WatchSettings

    folder = tmp_path / "drop"
    folder.mkdir()
    odd = Path(os.fsdecode(bytes(folder) + b"/scan_\xe9.pdf"))
    odd.write_bytes(b"%PDF-1.4 latin-1 name")
    taken = []
    watcher = DropFolderWatcher(
        [ScannerProfile("office", folder)], WatchSettings(stable_seconds=0),
        lambda unit: taken.append(spool.take_in(workspace, unit.paths, unit.names, unit.profile, now=NOW)))
    watcher.poll_once()
    watcher.poll_once()
    assert [t.outcome for t in taken] == ["queued"]
    with workspace.transaction() as s:
        assert s.get(Input, taken[0].input_id).display_name == "scan_\\xe9.pdf"
    assert list(folder.iterdir()) == []
    assert [p.name for p in workspace.path("spool").iterdir()] == [taken[0].sha256]


def test_a_failed_commit_leaves_no_spool_copy(workspace, tmp_path: Path, monkeypatch) -> None:
    """The database refuses the row (disk full, say): the original stays, no plaintext copy does."""
    from sqlalchemy.exc import OperationalError

    f = drop(tmp_path / "drop", "scan3.pdf", b"%PDF three")
    real = Input.__init__

    def refuse(self, **kw):  # noqa: ANN001, ANN003, ANN202 - the edge: the database says no
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(Input, "__init__", refuse)
    with pytest.raises(OperationalError):
        spool.take_in(workspace, [f], ["scan3.pdf"], "office", now=NOW)
    monkeypatch.setattr(Input, "__init__", real)
    assert f.exists() and list(workspace.path("spool").iterdir()) == []


def test_special_files_are_refused_and_never_removed(workspace, tmp_path: Path) -> None:
    import stat as st

    from pps_archive.errors import InputRefused

    folder = tmp_path / "drop"
    folder.mkdir()
    fifo, dev, link = folder / "pipe.pdf", folder / "null.pdf", folder / "link.pdf"
    os.mkfifo(fifo)
    os.mknod(dev, st.S_IFCHR | 0o666, os.makedev(1, 3))
    link.symlink_to(drop(tmp_path, "real.pdf", b"%PDF real"))
    for path, why in ((fifo, "not a regular file"), (dev, "not a regular file"), (link, "symbolic link")):
        with pytest.raises(InputRefused, match=why):
            spool.take_in(workspace, [path], [path.name], "office", now=NOW)
        assert os.path.lexists(path)
    assert list(workspace.path("spool").iterdir()) == []


def test_take_in_refuses_a_file_swapped_after_the_watcher_found_it_complete(workspace, tmp_path: Path) -> None:
    from pps_archive.errors import InputRefused
    from scanners.watch import FileFingerprint

    f = drop(tmp_path / "d", "s.pdf", b"%PDF seen complete")
    fp = FileFingerprint.of(f.stat())
    f.unlink()
    f.write_bytes(b"%PDF put there since, by someone else")
    with pytest.raises(InputRefused, match="changed since it was found complete"):
        spool.take_in(workspace, [f], ["s.pdf"], "office", now=NOW, expect=[(fp.dev, fp.ino, fp.size, fp.mtime_ns)])
    assert f.exists() and list(workspace.path("spool").iterdir()) == []


def test_recovery_adopts_inputs_an_older_version_recorded_by_hostname_and_keeps_unfinished_copies(workspace, tmp_path: Path) -> None:
    from pipeline import hostlock

    mine = spool.take_in(workspace, [drop(tmp_path, "old.pdf", b"%PDF queued by an older version")], ["old.pdf"], "office", now=NOW)
    theirs = spool.take_in(workspace, [drop(tmp_path, "other.pdf", b"%PDF of another data dir")], ["other.pdf"], "office", now=NOW)
    with workspace.transaction() as s:
        s.get(Input, mine.input_id).host = hostlock.legacy_host()
        s.get(Input, theirs.input_id).host = "0123456789abcdef"  # another data dir's spool id
    spool.recover(workspace)
    with workspace.transaction() as s:
        assert s.get(Input, mine.input_id).host == hostlock.spool_id(workspace.data_dir)
        assert s.get(Input, theirs.input_id).host == "0123456789abcdef"
        assert queue.claim(s, "w", now=queue.utcnow(), host=hostlock.host(workspace.data_dir)).id == mine.input_id
    # neither copy is removed while its input is unfinished, whichever data dir it names
    assert spool.spool_dir(workspace, mine.sha256).exists() and spool.spool_dir(workspace, theirs.sha256).exists()
