"""A killed ``media build`` leaves no image in ``--out`` that the register does not know, and the
next build clears up what the killed one left (a half-written or an unregistered image)."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

ROOT = Path(__file__).resolve().parent.parent
REFS = [f"PPS-2024-{i:04d}" for i in range(1, 7)]


def _registered(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "pps-archive.sqlite3") as conn:
        rows = dict(conn.execute("SELECT label, iso_sha256 FROM discs").fetchall())
    conn.close()
    return rows


def _images_known(out: Path, home: Path) -> None:
    registered = _registered(home)
    for iso in out.glob("*.iso"):
        assert iso.stem in registered, f"{iso.name} is in --out but not in the register"
        assert hashlib.sha256(iso.read_bytes()).hexdigest() == registered[iso.stem]


@pytest.mark.slow
@pytest.mark.parametrize("when", ["image-named", "pending", "half-written"])
def test_a_killed_build_leaves_no_unregistered_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    home, out = tmp_path / "home", tmp_path / "discs"
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    items = []
    for ref in REFS:
        run("case", "open", ref, "--consent-to-store")
        items += [Cover(ref, "retain", "NOTE"), Doc("note", ref)]
    batch = ScanFactory(seed=8).batch(tmp_path / "in", "a.pdf", items, container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]))
    out.mkdir()
    argv = [sys.executable, "-m", "pipeline.cli", "media", "build", "--out", str(out), "--capacity", "400KiB"]
    proc = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pattern = {"image-named": "PPS-*.iso", "pending": ".PPS-*.iso.part", "half-written": ".tmp-*"}[when]
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not list(out.glob(pattern)):
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the build ended before it could be killed"
    _images_known(out, home)
    built = run("media", "build", "--out", str(out), "--capacity", "400KiB", "--json").json()
    _images_known(out, home)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{label}.iso" for label in _registered(home)), "the next build left temporary files behind"
    assert len(_registered(home)) == len(REFS)  # one item a disc: every item is on a disc now
    assert all(Path(b["path"]).is_file() for b in built)
