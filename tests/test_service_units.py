"""The service (issue 13): the systemd units checked by ``systemd-analyze verify`` (and its offline
security review), and scripts/install.sh run for real into a temporary root, then the installed
program initialised and run as the service's own account."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import FAST_KDF, PASSPHRASE

REPO = Path(__file__).resolve().parents[1]
UNITS = REPO / "config" / "systemd"
DAEMON, WEB = "pps-archive.service", "pps-archive-web.service"
INSTALLED = "/opt/pps-archive/.venv/bin/pps-archive"
DATA = "/var/lib/pps-archive"


def _analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd; 'make test' installs it)")
    return path


def _program() -> str:
    exe = Path(sys.executable).with_name("pps-archive")
    return str(exe) if exe.exists() else shutil.which("pps-archive") or pytest.skip("no pps-archive console script")


def settings(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def verify(units: list[Path], folder: Path, exe: str | None = None) -> subprocess.CompletedProcess:
    """``systemd-analyze verify`` on copies (in ``folder``) whose ExecStart names a program that
    exists here (``exe``, else this virtualenv's console script)."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for unit in units:
        copy = folder / unit.name
        copy.write_text(unit.read_text().replace(INSTALLED, exe or _program()))
        copies.append(copy)
    return subprocess.run([_analyze(), "verify", "--man=no", *map(str, copies)], capture_output=True, text=True, timeout=120)


def test_the_units_verify_and_are_hardened(tmp_path: Path) -> None:
    units = [UNITS / DAEMON, UNITS / WEB]
    done = verify(units, tmp_path / "verify")
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr

    for name, argv in ((DAEMON, ["watch"]), (WEB, ["serve", "--host", "127.0.0.1", "--port", "8470"])):
        s = settings(UNITS / name)
        assert shlex.split(s["ExecStart"][0]) == [INSTALLED, *argv]
        assert s["User"] == ["pps-archive"] and s["Group"] == ["pps-archive"]
        for key, value in (("ProtectSystem", "strict"), ("PrivateTmp", "yes"), ("NoNewPrivileges", "yes"),
                           ("ProtectHome", "yes"), ("RestrictSUIDSGID", "yes"), ("UMask", "0077")):
            assert s[key] == [value], (name, key)
        assert f"PPS_ARCHIVE_HOME={DATA}" in s["Environment"]
        assert DATA in s["ReadWritePaths"][0].split()
        assert s["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert "/srv/pps-scans" in settings(UNITS / DAEMON)["ReadWritePaths"][0].split()  # the drop folder
    assert settings(UNITS / DAEMON)["CapabilityBoundingSet"] == ["CAP_LEASE"]
    assert settings(UNITS / DAEMON)["KillMode"] == ["mixed"]  # the daemon stops its own workers

    # the offline security review: both units well inside "OK" (systemd's scale, 0-100 here)
    for u in units:
        copy = tmp_path / "verify" / u.name
        review = subprocess.run([_analyze(), "security", "--offline=yes", "--threshold=25", str(copy)],
                                capture_output=True, text=True, timeout=120)
        assert review.returncode == 0, review.stdout[-3000:] + review.stderr


def test_verify_catches_a_mistake(tmp_path: Path) -> None:
    """The check can fail: a misspelt hardening key is reported (systemd would ignore it)."""
    unit = tmp_path / "src" / DAEMON
    unit.parent.mkdir()
    unit.write_text((UNITS / DAEMON).read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    done = verify([unit], tmp_path / "verify")
    assert "Unknown key" in done.stderr and "ProtectSytem" in done.stderr


def _base_root(root: Path) -> None:
    """A root with the machine's base accounts, as a fresh Debian has them."""
    (root / "etc" / "default").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        shutil.copy2(f"/etc/{name}", root / "etc" / name)
    shutil.copy2("/etc/default/useradd", root / "etc" / "default" / "useradd")
    (root / "etc" / "samba").mkdir()
    (root / "etc" / "samba" / "smb.conf").write_text("[global]\n   workgroup = WORKGROUP\n[homes]\n   browseable = no\n")


def _account(root: Path, name: str) -> list[str]:
    for line in (root / "etc" / "passwd").read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":")
    raise AssertionError(f"no account {name} in {root}/etc/passwd")


@pytest.fixture
def fresh_root():  # noqa: ANN201
    """Outside tmp_path: the service's account must reach it (pytest's folders are 0700)."""
    top = Path(tempfile.mkdtemp(prefix="pps-root-", dir="/tmp"))
    os.chmod(top, 0o755)
    yield top / "root"
    shutil.rmtree(top, ignore_errors=True)


@pytest.mark.slow
def test_install_script_into_a_fresh_root(tmp_path: Path, fresh_root: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("install.sh runs as root (CI and 'make test' run as root)")
    if shutil.which("setpriv") is None or shutil.which("useradd") is None:
        pytest.skip("setpriv and useradd are needed (util-linux, passwd)")
    root = fresh_root
    _base_root(root)
    run = subprocess.run([str(REPO / "scripts" / "install.sh"), "--root", str(root)], capture_output=True, text=True,
                         timeout=900, cwd="/")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    svc, scanner = _account(root, "pps-archive"), _account(root, "pps-scanner")
    assert svc[5:] == [DATA, "/usr/sbin/nologin"] and scanner[6] == "/usr/sbin/nologin"
    uid, gid = int(svc[2]), int(svc[3])
    data, drop = root / DATA.lstrip("/"), root / "srv" / "pps-scans"
    st = data.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (uid, gid, 0o700)
    st = drop.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, gid, 0o2770)
    assert "include = /etc/samba/pps-scans.conf" in (root / "etc" / "samba" / "smb.conf").read_text()
    wrapper = (root / "usr" / "local" / "bin" / "pps-archive").read_text()
    assert f"exec {INSTALLED} " in wrapper

    # the installed program, as the service's account (no such account on this machine: by its ids)
    exe = root / INSTALLED.lstrip("/")
    env = {"PATH": "/usr/bin:/bin", "PPS_ARCHIVE_HOME": str(data), "PPS_ARCHIVE_PASSPHRASE": PASSPHRASE, **FAST_KDF}

    def as_service(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", str(exe), *args],
                              env=env, capture_output=True, text=True, timeout=300, cwd="/")

    init = as_service("init")
    assert init.returncode == 0, init.stderr
    status = as_service("status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["ok"] is True
    config = as_service("--data-dir", str(data), "quarantine", "list")  # the installed config.toml is readable
    assert config.returncode == 0, config.stderr
    assert re.search(r'folder = "/srv/pps-scans"', (data / "config.toml").read_text())

    # the installed units verify, with their program where this root has it
    installed = [root / "etc" / "systemd" / "system" / n for n in (DAEMON, WEB)]
    done = verify(installed, tmp_path / "verify", str(exe))
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr

    # again, as an upgrade: the code is replaced, the data and the configuration are kept
    (data / "config.toml").write_text((data / "config.toml").read_text() + "\n# edited by the office\n")
    again = subprocess.run([str(REPO / "scripts" / "install.sh"), "--root", str(root), "--skip-packages"],
                           capture_output=True, text=True, timeout=900, cwd="/")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "# edited by the office" in (data / "config.toml").read_text()
    assert (root / "etc" / "samba" / "smb.conf").read_text().count("include = /etc/samba/pps-scans.conf") == 1
    assert as_service("status", "--json").returncode == 0


def test_the_documented_install_steps_are_the_script() -> None:
    """docs/operations.md's install block is what a person types; each command in it names only
    what scripts/install.sh makes (the accounts, the units, the wrapper)."""
    text = (REPO / "docs" / "operations.md").read_text()
    m = re.search(r"<!-- install-steps -->\n```sh\n(.*?)```", text, re.S)
    assert m, "docs/operations.md lost its install-steps block"
    lines = [ln.split("#")[0].strip() for ln in m.group(1).splitlines() if ln.split("#")[0].strip()]
    script = (REPO / "scripts" / "install.sh").read_text()
    assert any(ln.endswith("./scripts/install.sh") for ln in lines)
    assert "sudo " not in m.group(1), "a fresh Debian has no sudo: the steps run as root"
    for ln in lines:
        for unit in re.findall(r"[\w-]+\.service", ln):
            assert (UNITS / unit).exists(), unit
        if ln.startswith("smbpasswd"):
            assert f"SCANNER_USER={ln.split()[-1]}" in script
        if ln.startswith("runuser"):
            assert "-u pps-archive --" in ln and "SERVICE_USER=pps-archive" in script
