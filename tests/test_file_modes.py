"""The database, its write-ahead log and shared-memory files, and disc images are 0600 whatever
the umask (the data dir is 0700 too, but a copy or a mis-set parent must not widen them)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():  # noqa: ANN201
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.slow
def test_database_wal_and_images_are_private_under_umask_000(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask) -> None:  # noqa: ANN001
    from pipeline.workspace import Workspace

    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", "PPS-2024-0001", "--consent-to-store")
    batch = ScanFactory(seed=5).batch(tmp_path / "in", "a.pdf", [Cover("PPS-2024-0001", "retain", "NOTE"), Doc("note", "PPS-2024-0001")],
                                      container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]))
    [built] = run("media", "build", "--out", str(tmp_path / "discs"), "--json").json()
    assert _mode(Path(built["path"])) == 0o600
    db = home / "pps-archive.sqlite3"
    ws = Workspace.load(home)
    try:
        with ws.engine.connect() as conn:  # an open connection keeps the -wal and -shm in place
            conn.exec_driver_sql("SELECT count(*) FROM cases").fetchone()
            wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
            assert wal.exists() and shm.exists()
            assert (_mode(db), _mode(wal), _mode(shm)) == (0o600, 0o600, 0o600)
    finally:
        ws.close()


def test_a_database_made_readable_is_made_private_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask) -> None:  # noqa: ANN001
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    db = home / "pps-archive.sqlite3"
    db.chmod(0o644)  # e.g. restored from a backup by a tool that applies the umask
    run("case", "list")
    assert _mode(db) == 0o600
