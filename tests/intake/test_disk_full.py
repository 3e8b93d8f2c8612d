"""A data directory whose disk is full (issue 9, finding 8): a clear message and DiskFull's exit
code, no traceback, no good scan quarantined or blamed, nothing lost; once space is freed the same
command finishes the job. The data dir is a small tmpfs (root only)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.factory import Cover, Doc, ScanFactory
from tests.intake._helpers import pps, pps_env

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
REF = "PPS-2024-0137"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` up to ``leave`` bytes free."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        block = b"\0" * (1 << 16)
        try:
            while True:
                os.write(fd, block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)
    return filler


@pytest.mark.parametrize("leave", [0, 300_000, 2_000_000])
def test_ingest_on_a_full_disk_says_so_and_loses_nothing(database_url: str, tmp_path: Path, small_disk: Path, leave: int) -> None:
    home = small_disk / "home"
    env = pps_env(home, database_url)
    pps(env, "init")
    pps(env, "case", "open", REF, "--consent-to-store")
    drop = tmp_path / "drop"
    scan = ScanFactory(seed=6).batch(drop, "scan_0500.pdf", [Cover(REF, "retain", "PPS-LETTER"), Doc("pps-letter", REF, pages=3)],
                                     dpi=200).path
    original = scan.read_bytes()
    filler = fill(small_disk, leave)
    done = pps(env, "ingest", str(scan), expect=None, timeout=600)
    assert done.code == ExitCode.DISK_FULL, (done.code, done.out, done.err)
    assert "Traceback" not in done.err and "no space left" in done.err, done.err
    assert "scan it again" not in done.out + done.err  # the file is not blamed
    # nothing lost: the scan is still in the drop folder or safely queued
    filler.unlink()
    if scan.exists():
        assert scan.read_bytes() == original
        results = pps(env, "ingest", str(scan), "--json", timeout=600).json()["inputs"]
    else:
        results = pps(env, "ingest", "--json", timeout=600).json()["inputs"]
        results = results or [{"outcome": r["state"]} for r in pps(env, "documents", "--json").json()]
    assert pps(env, "quarantine", "list", "--json").json() == []
    docs = pps(env, "documents", "--json").json()
    assert [d["decision"] for d in docs] == ["retain"] and docs[0]["pages"] == 3


def test_any_command_on_a_full_sqlite_disk_says_so_without_a_traceback(database_url: str, small_disk: Path) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL database is not on the full disk")
    home = small_disk / "home"
    env = pps_env(home, f"sqlite+pysqlite:///{home / 'pps-archive.sqlite3'}")
    pps(env, "init")
    fill(small_disk, 0)
    done = pps(env, "case", "open", REF, "--consent-to-store", expect=None)
    assert done.code == ExitCode.DISK_FULL and "Traceback" not in done.err, (done.code, done.err)
    assert "no space left" in done.err
