"""The watcher's decisions, driven by ``poll_once`` with a fake clock: real files, no threads."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from pps_archive.errors import ConfigInvalid
from scanners._stability import open_for_writing
from scanners.watch import DropFolderWatcher, ScannerProfile, WatchSettings, settings_from_config
from tests.watch.helpers import FakeClock, Recorder

GROUP = r"(?P<batch>.+)_p(?P<page>\d{3,})\.(?:jpe?g|png|tiff?)$"
STABLE = 0.5


def make(folder: Path, *, take: bool = False, stable: float = STABLE, rescan: float = 60.0,
         ignore: tuple[str, ...] | None = None, **profile) -> tuple[DropFolderWatcher, Recorder, FakeClock]:
    rec, clock = Recorder(take=take), FakeClock()
    settings = WatchSettings(stable_seconds=stable, rescan_seconds=rescan)
    if ignore is not None:
        settings = WatchSettings(stable_seconds=stable, rescan_seconds=rescan, ignore_patterns=ignore)
    w = DropFolderWatcher([ScannerProfile("office", folder, **profile)], settings, rec.on_ready,
                          on_refused=rec.on_refused, clock=clock)
    return w, rec, clock


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    d = tmp_path / "drop"
    d.mkdir()
    return d


def test_a_file_is_ready_only_after_the_stable_time_and_is_reported_once(drop: Path) -> None:
    (drop / "scan_0001.pdf").write_bytes(b"%PDF-1.4 one")
    w, rec, clock = make(drop)
    assert w.poll_once() == []
    clock.advance(STABLE - 0.01)
    assert w.poll_once() == []
    clock.advance(0.01)
    [unit] = w.poll_once()
    assert unit.profile == "office" and unit.names == ("scan_0001.pdf",) and not unit.is_group
    assert unit.paths == (drop.resolve() / "scan_0001.pdf",)
    assert unit.fingerprints[0].matches(os.stat(unit.paths[0]))
    clock.advance(STABLE)
    assert w.poll_once() == []
    assert len(rec.ready) == 1


def test_a_file_that_grows_between_passes_waits_until_it_stops(drop: Path) -> None:
    f = drop / "scan.pdf"
    f.write_bytes(b"a")
    w, rec, clock = make(drop)
    for i in range(5):
        w.poll_once()
        clock.advance(STABLE * 0.9)
        with f.open("ab") as fh:
            fh.write(b"more" * (i + 1))
    w.poll_once()  # sees the last size
    assert rec.ready == []
    clock.advance(STABLE)
    [unit] = w.poll_once()
    assert unit.fingerprints[0].size == f.stat().st_size


def test_a_unit_still_there_is_offered_again_after_the_rescan_interval(drop: Path) -> None:
    (drop / "a.pdf").write_bytes(b"x")
    w, rec, clock = make(drop, rescan=10.0)
    w.poll_once()
    clock.advance(STABLE)
    assert len(w.poll_once()) == 1
    clock.advance(9.0)
    assert w.poll_once() == []
    clock.advance(1.0)
    assert len(w.poll_once()) == 1  # the caller did not take it: offered again (intake is idempotent)


def test_a_taken_file_is_forgotten_and_a_new_file_under_the_same_name_is_new(drop: Path) -> None:
    f = drop / "scan_0001.pdf"
    f.write_bytes(b"first")
    w, rec, clock = make(drop, take=True)
    w.poll_once()
    clock.advance(STABLE)
    assert len(w.poll_once()) == 1 and not f.exists()
    f.write_bytes(b"second scan, same counter")
    w.poll_once()
    clock.advance(STABLE)
    assert len(w.poll_once()) == 1
    assert [u.fingerprints[0].size for u in rec.ready] == [5, 25]


def test_stable_zero_reports_everything_in_one_pass(drop: Path) -> None:
    for n in ("a.pdf", "b.tif", "c_p001.jpg", "c_p002.jpg"):
        (drop / n).write_bytes(b"x")
    w, rec, _ = make(drop, stable=0.0, group_pattern=GROUP, group_wait_seconds=0.0)
    assert sorted(u.names for u in w.poll_once()) == [("a.pdf",), ("b.tif",), ("c_p001.jpg", "c_p002.jpg")]


def test_subfolders_count_only_for_recursive_profiles(drop: Path) -> None:
    (drop / "top.pdf").write_bytes(b"x")
    (drop / "sub" / "deeper").mkdir(parents=True)
    (drop / "sub" / "deeper" / "inner.pdf").write_bytes(b"y")
    for recursive, expected in ((False, [("top.pdf",)]), (True, [("sub/deeper/inner.pdf",), ("top.pdf",)])):
        w, rec, clock = make(drop, recursive=recursive)
        w.poll_once()
        clock.advance(STABLE)
        w.poll_once()
        assert sorted(rec.names()) == expected


def test_ignore_patterns_and_the_profile_pattern(drop: Path) -> None:
    junk = ["~$draft.docx", ".DS_Store", "Thumbs.db", "THUMBS.DB", "scan.pdf.part", ".hidden.pdf", "x.tmp",
            ".tmp-abc123.part"]  # the last is pps_archive.atomic's temp name
    for n in [*junk, "keep.PDF", "notes.txt"]:
        (drop / n).write_bytes(b"x")
    (drop / ".git").mkdir()
    (drop / ".git" / "inside.pdf").write_bytes(b"x")
    w, rec, clock = make(drop, pattern="*.pdf", recursive=True)
    w.poll_once()
    clock.advance(STABLE)
    w.poll_once()
    assert rec.names() == [("keep.PDF",)]  # the pattern is case-insensitive
    assert rec.refused == []
    w, rec, clock = make(drop, ignore=("*.txt",))
    w.poll_once()
    clock.advance(STABLE)
    w.poll_once()
    assert "notes.txt" not in {n for names in rec.names() for n in names}
    assert ("Thumbs.db",) in rec.names()  # custom list replaces the defaults


def test_symlinks_fifos_and_sockets_are_refused_once(drop: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(b"outside")
    (drop / "real.pdf").write_bytes(b"inside")
    (drop / "to_inside.pdf").symlink_to(drop / "real.pdf")
    (drop / "to_outside.pdf").symlink_to(outside)
    (drop / "dangling.pdf").symlink_to(tmp_path / "nothing")
    os.mkfifo(drop / "pipe.pdf")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(drop / "sock.pdf"))
    try:
        w, rec, clock = make(drop)
        w.poll_once()
        clock.advance(STABLE)
        w.poll_once()
        w.poll_once()
    finally:
        sock.close()
    assert rec.names() == [("real.pdf",)]
    reasons = {p.name: r for p, r in rec.refused}
    assert sorted(reasons) == ["dangling.pdf", "pipe.pdf", "sock.pdf", "to_inside.pdf", "to_outside.pdf"]
    assert "outside the drop folder" in reasons["to_outside.pdf"]
    assert "symbolic link" in reasons["to_inside.pdf"]
    assert "FIFO" in reasons["pipe.pdf"] and "socket" in reasons["sock.pdf"]
    assert len(rec.refused) == 5  # once each, not on every pass
    # replaced by something else under the same name: reported again
    (drop / "to_inside.pdf").unlink()
    (drop / "to_inside.pdf").symlink_to(outside)
    w.poll_once()
    assert rec.refused[-1][0].name == "to_inside.pdf" and len(rec.refused) == 6


def test_a_symlinked_folder_is_refused_and_never_followed(drop: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "private.pdf").write_bytes(b"x")
    (drop / "linked").symlink_to(elsewhere, target_is_directory=True)
    w, rec, clock = make(drop, recursive=True, pattern="*.pdf")
    w.poll_once()
    clock.advance(STABLE)
    w.poll_once()
    assert rec.ready == []
    [(path, reason)] = rec.refused
    assert path.name == "linked" and "folder" in reason


def test_a_group_of_pages_is_one_unit_in_page_order(drop: Path) -> None:
    w, rec, clock = make(drop, group_pattern=GROUP, group_wait_seconds=2.0)
    for page in (3, 1):  # out of order, with gaps
        (drop / f"scan_0042_p{page:03d}.jpg").write_bytes(b"page")
        w.poll_once()
        clock.advance(1.5)
    w.poll_once()
    assert rec.ready == []  # the last page appeared 1.5 s ago, the wait is 2 s
    (drop / "scan_0042_p002.JPG").write_bytes(b"page")  # a new page resets the wait
    w.poll_once()
    clock.advance(1.9)
    assert w.poll_once() == []
    (drop / "other.pdf").write_bytes(b"x")
    clock.advance(0.1)
    [unit] = w.poll_once()
    assert unit.names == ("scan_0042_p001.jpg", "scan_0042_p002.JPG", "scan_0042_p003.jpg")
    assert unit.is_group and [p.name for p in unit.paths] == list(unit.names)
    clock.advance(STABLE)
    assert [u.names for u in w.poll_once()] == [("other.pdf",)]


def test_a_vanished_page_resets_the_group_and_batches_are_separate(drop: Path) -> None:
    (drop / "sub").mkdir()
    for name in ("a_p001.png", "a_p002.png", "b_p001.png", "sub/a_p001.png"):
        (drop / name).write_bytes(b"x")
    w, rec, clock = make(drop, recursive=True, group_pattern=GROUP, group_wait_seconds=1.0)
    w.poll_once()
    clock.advance(0.9)
    (drop / "a_p002.png").unlink()
    w.poll_once()
    clock.advance(0.1)
    assert sorted(u.names for u in w.poll_once()) == [("b_p001.png",), ("sub/a_p001.png",)]
    clock.advance(1.0)
    assert [u.names for u in w.poll_once()] == [("a_p001.png",)]


def test_on_ready_raising_is_retried_later(drop: Path, caplog: pytest.LogCaptureFixture) -> None:
    (drop / "a.pdf").write_bytes(b"x")
    calls = []

    def flaky(unit) -> None:  # noqa: ANN001
        calls.append(unit)
        if len(calls) < 3:
            raise OSError("spool not mounted")

    clock = FakeClock()
    w = DropFolderWatcher([ScannerProfile("office", drop)], WatchSettings(stable_seconds=STABLE, rescan_seconds=60),
                          flaky, clock=clock)
    w.poll_once()
    clock.advance(STABLE)
    assert w.poll_once() == [] and len(calls) == 1
    assert w.poll_once() == [] and len(calls) == 1  # backs off
    clock.advance(STABLE)
    assert w.poll_once() == [] and len(calls) == 2
    clock.advance(STABLE)
    assert w.poll_once() == [] and len(calls) == 2  # the second back-off is twice as long
    clock.advance(STABLE)
    assert len(w.poll_once()) == 1 and len(calls) == 3
    assert "offered again" in caplog.text


def test_on_refused_raising_does_not_stop_the_pass(drop: Path) -> None:
    os.mkfifo(drop / "pipe")
    (drop / "a.pdf").write_bytes(b"x")
    clock, ready = FakeClock(), []

    def broken(path: Path, reason: str) -> None:
        raise RuntimeError("boom")

    w = DropFolderWatcher([ScannerProfile("office", drop)], WatchSettings(stable_seconds=0), ready.append,
                          on_refused=broken, clock=clock)
    assert len(w.poll_once()) == 1


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="POSIX only")
def test_a_file_held_open_for_writing_waits_even_when_quiet(drop: Path) -> None:
    f = drop / "slow.pdf"
    writer = f.open("wb")
    fd = os.open(f, os.O_RDONLY)
    try:
        if not open_for_writing(fd):
            pytest.skip("this file system cannot tell whether a file is open for writing")
    finally:
        os.close(fd)
    try:
        writer.write(b"part one")
        writer.flush()
        w, rec, clock = make(drop)
        w.poll_once()
        clock.advance(STABLE * 3)
        assert w.poll_once() == []  # size and mtime are quiet, but a writer holds it
    finally:
        writer.close()
    clock.advance(STABLE)
    [unit] = w.poll_once()
    assert unit.fingerprints[0].size == len(b"part one")


def test_a_missing_folder_is_retried_and_start_refuses_it(drop: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scanners.watch")
    gone = drop / "not-yet"
    w, rec, clock = make(gone, stable=0.0)
    assert w.poll_once() == [] and w.poll_once() == []
    assert caplog.text.count("cannot be listed") == 1
    with pytest.raises(ConfigInvalid, match="scanners.office.folder"):
        w.start()
    gone.mkdir()
    (gone / "a.pdf").write_bytes(b"x")
    assert len(w.poll_once()) == 1
    assert "can be listed again" in caplog.text


def test_logs_carry_no_file_names_at_any_level(drop: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "Invented-Surname EHCP letter"
    (drop / f"{secret}.pdf").write_bytes(b"x")
    (drop / f"{secret}.lnk").symlink_to(drop / f"{secret}.pdf")
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()

    def fail(unit) -> None:  # noqa: ANN001
        raise ValueError(f"cannot take {unit.paths[0]}")

    w = DropFolderWatcher([ScannerProfile("office", drop)], WatchSettings(stable_seconds=0), fail, clock=clock)
    w.poll_once()
    messages = [r.getMessage() for r in caplog.records]
    assert messages and not any(secret in m for m in messages)
    assert all(r.exc_info is None for r in caplog.records)


def test_profile_and_settings_validation(drop: Path) -> None:
    with pytest.raises(ConfigInvalid, match="group_pattern"):
        ScannerProfile("x", drop, group_pattern=r"(?P<batch>.+)_p\d+")
    with pytest.raises(ConfigInvalid, match="group_pattern"):
        ScannerProfile("x", drop, group_pattern=r"(unclosed")
    with pytest.raises(ConfigInvalid, match="rescan_seconds"):
        WatchSettings(rescan_seconds=0)
    with pytest.raises(ConfigInvalid, match="same name"):
        DropFolderWatcher([ScannerProfile("x", drop), ScannerProfile("x", drop)], WatchSettings(), print)
    assert ScannerProfile("x", str(drop), group_pattern="").group_of("a_p001.jpg") is None
    assert ScannerProfile("x", drop, group_pattern=GROUP).group_of("Scan_7_P0012.TIF") == ("Scan_7", 12)
    s = settings_from_config({"stable_seconds": 2, "rescan_seconds": 30.0, "polling": True,
                              "ignore_patterns": ["*.part"], "workers": 2})
    assert s == WatchSettings(stable_seconds=2.0, rescan_seconds=30.0, polling=True, ignore_patterns=("*.part",))

