"""``ingest`` given paths it must not take (issues 8 and 9): each is refused with its reason, left
exactly as it was, and the others are processed. Real processes, cheap SHRED inputs (no OCR)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.factory import Cover, Doc, ScanFactory
from tests.intake._helpers import pps, pps_env

REF = "PPS-2024-0137"


def shred_doc(folder: Path, name: str, seed: int = 1):  # noqa: ANN201
    return ScanFactory(seed=seed).batch(folder, name, [Cover(REF, "shred", "SCHOOL-LETTER"), Doc("school-letter", REF)], dpi=150)


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = pps_env(tmp_path / "home", database_url)
    pps(env, "init")
    pps(env, "case", "open", REF, "--consent-to-store")
    return env


def test_unusable_paths_are_refused_and_the_rest_processed(env: dict[str, str], tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    good = shred_doc(drop, "scan_0001.pdf").path
    target = shred_doc(tmp_path / "elsewhere", "target.pdf", seed=2).path
    link = drop / "link.pdf"
    link.symlink_to(target)
    folder = drop / "a folder"
    folder.mkdir()
    fifo = drop / "scan_pipe.pdf"
    os.mkfifo(fifo)
    device = drop / "null.pdf"  # a character device like /dev/null (as root, ingest deleted the real one)
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    missing = drop / "not-there.pdf"

    done = pps(env, "ingest", *map(str, (link, good, folder, fifo, device, missing)), "--json",
               expect=ExitCode.INPUTS_REFUSED, timeout=300)
    results = {r["file"]: r for r in done.json()["inputs"]}
    assert results["scan_0001.pdf"]["outcome"] == "done" and results["scan_0001.pdf"]["documents"]
    assert "symbolic link" in results["link.pdf"]["reason"]
    assert "folder" in results["a folder"]["reason"]
    assert "not a regular file" in results["scan_pipe.pdf"]["reason"]
    assert "not a regular file" in results["null.pdf"]["reason"]
    assert "does not exist" in results["not-there.pdf"]["reason"]
    assert {results[n]["outcome"] for n in ("link.pdf", "a folder", "scan_pipe.pdf", "null.pdf", "not-there.pdf")} == {"refused"}
    logged = [line for line in done.err.splitlines() if line.startswith(("WARNING ", "INFO ", "ERROR "))]
    names = ("link.pdf", "a folder", "scan_pipe", "null.pdf", "not-there")
    assert logged and not [line for line in logged if any(n in line for n in names)]  # no file names in logs
    # nothing refused was touched; only the file taken in left the drop folder
    assert link.is_symlink() and target.exists() and folder.is_dir()
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and stat.S_ISCHR(device.lstat().st_mode)
    assert not good.exists()
    text = pps(env, "ingest", str(missing), expect=ExitCode.INPUTS_REFUSED).out
    assert "not-there.pdf: refused — does not exist" in text


def test_a_batch_with_a_refused_page_is_not_taken_at_all(env: dict[str, str], tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    pages = ScanFactory(seed=3).batch(drop, "scan_0042.jpg", [Cover(REF, "shred", "SCHOOL-LETTER"), Doc("school-letter", REF)],
                                      container="jpeg", dpi=150).files
    second = pages[1]
    moved = second.with_name("kept-" + second.name)
    second.rename(moved)
    second.symlink_to(moved)
    done = pps(env, "ingest", *map(str, pages), "--json", expect=ExitCode.INPUTS_REFUSED)
    results = done.json()["inputs"]
    assert {r["outcome"] for r in results} == {"refused"}
    assert all(p.exists() for p in pages)


def test_a_file_name_that_is_not_utf8_is_taken_in(env: dict[str, str], tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    good = shred_doc(drop, "scan_0007.pdf").path
    odd = Path(os.fsdecode(bytes(drop) + b"/scan_\xe9t\xe9.pdf"))  # Latin-1 bytes from another system
    good.rename(odd)
    done = pps(env, "ingest", os.fsdecode(odd), "--json")
    [result] = done.json()["inputs"]
    assert result["outcome"] == "done" and result["file"] == "scan_\\xe9t\\xe9.pdf"
    assert not os.path.lexists(odd)
    listed = pps(env, "documents", "--json").json()
    assert listed and all("\\xe9" in p for d in listed for p in d["source_pages"])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the program as another user")
def test_an_unreadable_file_is_refused_and_the_rest_processed() -> None:
    """Run as an unprivileged user (root reads everything), with the data dir's own SQLite."""
    import json
    import shutil
    import subprocess
    import tempfile

    from tests.intake._helpers import console_script

    base = Path(tempfile.mkdtemp(prefix="pps-unreadable-", dir="/tmp"))
    try:
        os.chown(base, 65534, 65534)
        drop = base / "drop"
        good = shred_doc(drop, "scan_0002.pdf").path
        secret = shred_doc(drop, "scan_0003.pdf", seed=4).path
        os.chmod(secret, 0o000)  # root's file, nobody may read it
        env = {k: v for k, v in pps_env(base / "home").items() if k != "PPS_ARCHIVE_DATABASE_URL"}
        env["HOME"] = str(base)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *console_script()]

        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*as_nobody, *args], env=env, capture_output=True, text=True, timeout=300,
                                  stdin=subprocess.DEVNULL)

        assert run("init").returncode == 0
        assert run("case", "open", REF, "--consent-to-store").returncode == 0
        # ingest runs its jobs in worker processes, which start this interpreter again: where the
        # other user cannot (an interpreter under /root, say) the test cannot tell anything
        again = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'pass'], check=True)"
        probe = subprocess.run([*as_nobody[:-len(console_script())], sys.executable, "-c", again], capture_output=True)
        if probe.returncode != 0:
            pytest.skip(f"the other user cannot start {sys.executable}, so no worker process can run")
        done = run("ingest", "--keep", str(secret), str(good), "--json")
        assert done.returncode == ExitCode.INPUTS_REFUSED, done.stderr
        results = {r["file"]: r for r in json.loads(done.stdout)["inputs"]}
        assert results["scan_0002.pdf"]["outcome"] == "done"
        assert results["scan_0003.pdf"]["outcome"] == "refused"
        assert "permission denied" in results["scan_0003.pdf"]["reason"]
        assert secret.exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)
