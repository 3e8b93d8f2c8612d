"""The watcher for real: real files, real watchdog observers, the loop in its thread, short timings.

Negative checks ("not reported") use a sentinel: a file dropped later that must be reported
first proves the loop has looked at everything since. No assertion is about speed; waits are
generous timeouts for an event.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from scanners._stability import open_for_writing
from scanners.watch import DropFolderWatcher, ReadyInput, ScannerProfile, WatchSettings
from tests.watch.helpers import Recorder

STABLE = 0.4
GROUP = r"(?P<batch>.+)_p(?P<page>\d{3,})\.(?:jpe?g|png|tiff?)$"


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    d = tmp_path / "drop"
    d.mkdir()
    return d


def watcher(folder: Path, rec: Recorder, *, stable: float = STABLE, rescan: float = 60.0, polling: bool = False,
            name: str = "office", **profile) -> DropFolderWatcher:
    settings = WatchSettings(stable_seconds=stable, rescan_seconds=rescan, polling=polling, poll_interval_seconds=0.2)
    return DropFolderWatcher([ScannerProfile(name, folder, **profile)], settings, rec.on_ready, on_refused=rec.on_refused)


def has(*names: str):  # noqa: ANN201
    return lambda rec: all(any(n in u.names for u in rec.ready) for n in names)


def prove_quiet(drop: Path, rec: Recorder, name: str = "zz-sentinel.pdf") -> None:
    """Drop a sentinel and wait for it: the loop has seen everything that was there before."""
    (drop / name).write_bytes(b"sentinel")
    assert rec.wait(has(name)), "the sentinel was never reported"


def test_a_file_there_before_start_is_picked_up(drop: Path) -> None:
    (drop / "early.pdf").write_bytes(b"%PDF early")
    rec = Recorder(take=True)
    with watcher(drop, rec):
        assert rec.wait(has("early.pdf"))
    assert rec.names() == [("early.pdf",)]


def _slow_writer(path: Path, chunks: int, pause: float, done: threading.Event, *, keep_open: bool) -> None:
    fh = path.open("ab") if keep_open else None
    for i in range(chunks):
        data = bytes([65 + i % 26]) * 4096
        if keep_open:
            fh.write(data)
            fh.flush()
        else:
            with path.open("ab") as f:
                f.write(data)
        time.sleep(pause)
    if fh is not None:
        fh.close()
    done.set()


def _run_slow_writer(drop: Path, *, keep_open: bool, pause: float, stable: float) -> tuple[list, float]:
    target = drop / "slow.pdf"
    done = threading.Event()
    seen: list[tuple[ReadyInput, bool, int]] = []
    rec = Recorder()
    original = rec.on_ready

    def on_ready(unit: ReadyInput) -> None:
        if "slow.pdf" in unit.names:
            seen.append((unit, done.is_set(), target.stat().st_size))
        original(unit)

    rec.on_ready = on_ready
    settings = WatchSettings(stable_seconds=stable, rescan_seconds=60)
    w = DropFolderWatcher([ScannerProfile("office", drop)], settings, rec.on_ready)
    with w:
        target.write_bytes(b"")
        writer = threading.Thread(target=_slow_writer, args=(target, 10, pause, done), kwargs={"keep_open": keep_open})
        writer.start()
        assert rec.wait(has("slow.pdf"), timeout=30)
        finished_at = time.monotonic()
        writer.join()
        prove_quiet(drop, rec)
    return seen, finished_at


def test_a_file_written_slowly_in_chunks_is_reported_once_when_complete(drop: Path) -> None:
    # a writer that reopens the file for each chunk, every 0.2 s for 2 s: only size/mtime tell
    seen, _ = _run_slow_writer(drop, keep_open=False, pause=0.2, stable=0.6)
    [(unit, writer_done, size_then)] = seen
    assert writer_done, "reported before the last chunk was written"
    assert unit.fingerprints[0].size == size_then == 10 * 4096


def test_a_file_held_open_through_long_pauses_waits_for_the_writer(drop: Path) -> None:
    probe = drop / "probe"
    with probe.open("wb"):
        fd = os.open(probe, os.O_RDONLY)
        supported = open_for_writing(fd)
        os.close(fd)
    probe.unlink()
    if not supported:
        pytest.skip("this file system cannot tell whether a file is open for writing")
    # pauses longer than stable_seconds: size/mtime alone would be fooled, the open writer is not
    seen, _ = _run_slow_writer(drop, keep_open=True, pause=0.5, stable=0.3)
    [(unit, writer_done, size_then)] = seen
    assert writer_done and unit.fingerprints[0].size == size_then == 10 * 4096


def test_subfolder_files_only_for_a_recursive_profile(drop: Path) -> None:
    flat, deep = Recorder(), Recorder()
    with watcher(drop, flat, name="flat"), watcher(drop, deep, name="deep", recursive=True):
        (drop / "2026" / "11").mkdir(parents=True)
        (drop / "2026" / "11" / "inner.pdf").write_bytes(b"x")
        assert deep.wait(has("2026/11/inner.pdf"))
        prove_quiet(drop, flat)
    assert flat.names() == [("zz-sentinel.pdf",)]


def test_ignored_names_are_skipped(drop: Path) -> None:
    rec = Recorder()
    with watcher(drop, rec):
        for n in ("~$letter.docx", ".DS_Store", "Thumbs.db", "upload.pdf.part", ".hidden"):
            (drop / n).write_bytes(b"junk")
        prove_quiet(drop, rec)
    assert rec.names() == [("zz-sentinel.pdf",)] and rec.refused == []


def test_symlinks_and_fifos_are_refused_and_reported(drop: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"not ours")
    rec = Recorder()
    with watcher(drop, rec):
        (drop / "link.pdf").symlink_to(outside)
        os.mkfifo(drop / "fifo.pdf")
        assert rec.wait(lambda r: len(r.refused) == 2)
        prove_quiet(drop, rec)
    reasons = {p.name: reason for p, reason in rec.refused}
    assert "outside the drop folder" in reasons["link.pdf"] and "FIFO" in reasons["fifo.pdf"]
    assert rec.names() == [("zz-sentinel.pdf",)]


def test_single_page_files_written_with_gaps_arrive_as_one_unit(drop: Path) -> None:
    rec = Recorder(take=True)
    with watcher(drop, rec, group_pattern=GROUP, group_wait_seconds=1.0):
        for page in (1, 3, 2):
            (drop / f"scan_0042_p{page:03d}.jpg").write_bytes(b"\xff\xd8" + bytes(page) * 1000)
            time.sleep(0.4)
        assert rec.wait(has("scan_0042_p001.jpg"))
        prove_quiet(drop, rec)
    group = [u for u in rec.ready if u.is_group]
    assert [u.names for u in group] == [("scan_0042_p001.jpg", "scan_0042_p002.jpg", "scan_0042_p003.jpg")]
    assert len(rec.ready) == 2


def test_polling_mode_works(drop: Path) -> None:
    rec = Recorder(take=True)
    with watcher(drop, rec, polling=True, recursive=True):
        (drop / "sub").mkdir()
        (drop / "sub" / "via-share.pdf").write_bytes(b"x")
        (drop / "top.pdf").write_bytes(b"y")
        assert rec.wait(has("sub/via-share.pdf", "top.pdf"))


def test_lost_events_are_recovered_by_the_rescan(drop: Path, tmp_path: Path) -> None:
    rec = Recorder(take=True)
    with watcher(drop, rec, rescan=1.0):
        (drop / "first.pdf").write_bytes(b"x")
        assert rec.wait(has("first.pdf"))
        # the folder is replaced under the same path (a share remounted): the inotify watch still
        # points at the old folder, so no event arrives for files in the new one
        drop.rename(tmp_path / "old-drop")
        drop.mkdir()
        (drop / "unseen.pdf").write_bytes(b"y")
        assert rec.wait(has("unseen.pdf"))
        (drop / "after.pdf").write_bytes(b"z")  # the watch was re-armed; the rescan would find it anyway
        assert rec.wait(has("after.pdf"))


def test_on_ready_raising_does_not_kill_the_loop(drop: Path) -> None:
    calls: list[ReadyInput] = []
    rec = Recorder(take=True)

    def flaky(unit: ReadyInput) -> None:
        calls.append(unit)
        if len(calls) == 1:
            raise RuntimeError("database unavailable")
        rec.on_ready(unit)

    settings = WatchSettings(stable_seconds=0.2, rescan_seconds=60)
    with DropFolderWatcher([ScannerProfile("office", drop)], settings, flaky):
        (drop / "a.pdf").write_bytes(b"x")
        assert rec.wait(has("a.pdf"))
        (drop / "b.pdf").write_bytes(b"y")
        assert rec.wait(has("b.pdf"))
    assert [u.names for u in calls] == [("a.pdf",), ("a.pdf",), ("b.pdf",)]


def _timed_stop(w: DropFolderWatcher) -> float:
    started = time.monotonic()
    t = threading.Thread(target=w.stop)
    t.start()
    t.join(timeout=10)
    assert not t.is_alive(), "stop() hangs"
    return time.monotonic() - started


@pytest.mark.parametrize("polling", [False, True])
def test_stop_returns_promptly_and_twice(drop: Path, polling: bool) -> None:
    w = watcher(drop, Recorder(), rescan=600, polling=polling)
    w.start()
    time.sleep(0.3)
    took = _timed_stop(w)
    print(f"stop() took {took * 1000:.1f} ms (polling={polling})")
    w.stop()
    assert threading.active_count() == 1 or not any(t.name == "pps-drop-watcher" for t in threading.enumerate())


def test_stop_from_inside_on_ready(drop: Path) -> None:
    stopped = threading.Event()
    holder: list[DropFolderWatcher] = []

    def on_ready(unit: ReadyInput) -> None:
        holder[0].stop()
        stopped.set()

    (drop / "a.pdf").write_bytes(b"x")
    holder.append(DropFolderWatcher([ScannerProfile("office", drop)], WatchSettings(stable_seconds=0.1), on_ready))
    holder[0].start()
    assert stopped.wait(15)
    holder[0].stop()


def test_idle_watcher_uses_no_cpu(drop: Path) -> None:
    (drop / "left-behind.pdf").write_bytes(b"x")  # reported, never taken: must not spin either
    rec = Recorder()
    with watcher(drop, rec, stable=0.2, rescan=30):
        assert rec.wait(has("left-behind.pdf"))
        before = time.process_time()
        time.sleep(2.0)
        used = time.process_time() - before
    print(f"CPU while idle: {used * 1000:.1f} ms in 2 s")
    assert used < 0.5
    assert len(rec.ready) == 1
