"""How the program is installed: the package list, and the CLI run from a folder whose own
``config.py`` / ``pipeline.py`` would shadow a top-level package of ours.

The slow tests install this tree (a real wheel build, ``pip install --target``) and run it in a
subprocess with only that install on the path, from a folder holding the shadowing files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHADOW = 'raise SystemExit("this file in the working directory was imported instead of the program")\n'


def test_every_package_folder_is_installed() -> None:
    """pyproject.toml lists the packages by hand (for the config/ mapping): none may be forgotten."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    mapping = {folder: package for package, folder in tool["package-dir"].items()}
    folders = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("pipeline", "scanners", "archive_media", "pps_archive", "config")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert set(tool["packages"]) == {mapping.get(f, f) for f in folders}
    assert "config" not in tool["packages"]  # never a top-level "config" package
    assert mapping == {"config": "pps_archive.config"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    # build from a copy: setuptools builds in the source tree (build/, *.egg-info)
    source = tmp_path_factory.mktemp("source") / "pps-archive"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                                                 ".pytest_cache", ".hypothesis", "demo-output"))
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return target


@pytest.fixture
def shadowed_cwd(tmp_path: Path) -> Path:
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    for name in ("config.py", "pipeline.py"):
        (cwd / name).write_text(SHADOW, encoding="utf-8")
    return cwd


def _run(argv: list[str], cwd: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "PPS_ARCHIVE_PASSPHRASE": "correct horse battery staple"}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_install_ships_the_defaults_as_pps_archive_config(installed: Path) -> None:
    assert (installed / "pps_archive" / "config" / "default.toml").is_file()
    assert not (installed / "config").exists()


@pytest.mark.slow
def test_console_script_works_from_a_folder_with_config_py_and_pipeline_py(installed: Path, shadowed_cwd: Path) -> None:
    script = str(installed / "bin" / "pps-archive")
    assert _run([script, "--help"], shadowed_cwd, installed).returncode == 0
    init = _run([script, "init"], shadowed_cwd, installed)
    assert init.returncode == 0, init.stderr
    listing = _run([script, "case", "list", "--json"], shadowed_cwd, installed)
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout) == []


@pytest.mark.slow
def test_python_m_pps_archive_works_from_a_folder_with_config_py_and_pipeline_py(installed: Path, shadowed_cwd: Path) -> None:
    """``python -m`` puts the working directory first on the path (as a web server may)."""
    init = _run([sys.executable, "-m", "pps_archive", "init"], shadowed_cwd, installed)
    assert init.returncode == 0, init.stderr
    listing = _run([sys.executable, "-m", "pps_archive", "case", "list", "--json"], shadowed_cwd, installed)
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout) == []


@pytest.mark.slow
def test_a_config_py_in_the_working_directory_does_not_shadow_the_defaults(installed: Path, tmp_path: Path) -> None:
    """The reported failure: ``TypeError: 'config' is not a package`` once the configuration loads."""
    cwd = tmp_path / "with-config"
    cwd.mkdir()
    (cwd / "config.py").write_text(SHADOW, encoding="utf-8")
    r = _run([sys.executable, "-m", "pipeline.cli", "case", "list"], cwd, installed)
    assert "not a package" not in r.stderr and "instead of the program" not in r.stderr, r.stderr
    assert r.returncode == 4, r.stderr  # not initialised: the configuration loaded
    assert "Run 'pps-archive init' first" in r.stderr
