"""The scanner share (issue 13): the shipped Samba configuration, served by a real ``smbd`` on the
loopback address, written to through ``smbclient`` as an office scanner writes (a slow write, and a
temporary name renamed to ``.pdf`` at the end), and the scans filed by the real ``watch`` daemon.

smbd runs in the foreground with every directory of its own in a temporary folder and its own
tdbsam password database; it is stopped by its pid. It needs root (it switches to the scanner's
Unix account for every file operation), so the test makes a system user and group for the scanner
and the daemon and removes them afterwards.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factory import ScanFactory
from tests.intake._helpers import pps, pps_env, wait_for
from tests.intake.test_daemon import FAST, REF, Daemon, shred_doc

pytestmark = pytest.mark.slow

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "samba" / "pps-scans.conf"
STABLE = "2.0"  # seconds a file must stay unchanged; the slow writes pause for less
PAUSE = 0.8  # 6 pauses: longer than STABLE in all
TIMEOUT = 90


def _need(program: str) -> str:
    path = shutil.which(program) or (f"/usr/sbin/{program}" if Path(f"/usr/sbin/{program}").exists() else None)
    if path is None:
        pytest.skip(f"{program} is not installed (apt-get install samba smbclient; 'make test' installs them)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _accounts() -> Iterator[tuple[str, str]]:
    """A scanner account and the daemon's group, made for this test and removed after it."""
    tag = secrets.token_hex(3)
    scanner, group = f"ppsscan{tag}", f"ppsarch{tag}"
    subprocess.run(["groupadd", "--system", group], check=True)
    try:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", scanner], check=True)
        try:
            yield scanner, group
        finally:
            subprocess.run(["userdel", scanner], check=False)
    finally:
        subprocess.run(["groupdel", group], check=False)


class Smbd:
    def __init__(self, base: Path, share: Path, scanner: str, group: str) -> None:
        self.base, self.port = base, _free_port()
        base.mkdir(mode=0o700)
        shipped = SHIPPED.read_text()
        for name in ("/srv/pps-scans", "pps-scanner", "pps-archive"):
            assert name in shipped, f"the shipped configuration no longer names {name}"
        include = base / "pps-scans.conf"
        include.write_text(shipped.replace("/srv/pps-scans", str(share)).replace("pps-scanner", scanner)
                           .replace("pps-archive", group))
        dirs = {k: base / k for k in ("private", "lock", "state", "cache", "pid", "ncalrpc", "log")}
        for d in dirs.values():
            d.mkdir(mode=0o700)
        self.conf = base / "smb.conf"
        # the machine's own smb.conf with the share included at its end, as the install does
        self.conf.write_text("\n".join([
            "[global]",
            *(f"   {k} directory = {dirs[k]}" for k in ("lock", "state", "cache", "pid")),
            f"   private dir = {dirs['private']}",
            f"   ncalrpc dir = {dirs['ncalrpc']}",
            f"   passdb backend = tdbsam:{dirs['private'] / 'passdb.tdb'}",
            f"   log file = {dirs['log'] / 'smbd.log'}",
            "   interfaces = 127.0.0.1",
            "   bind interfaces only = yes",
            "[homes]",
            "   browseable = no",
            f"include = {include}",
            "",
        ]))
        self.log = dirs["log"] / "smbd.log"
        self.password = secrets.token_urlsafe(12)
        self.scanner = scanner
        subprocess.run([_need("pdbedit"), "-s", str(self.conf), "-a", "-u", scanner, "-t"],
                       input=f"{self.password}\n{self.password}\n", text=True, check=True, capture_output=True)

    def start(self) -> None:
        self.proc = subprocess.Popen([_need("smbd"), "--foreground", "--no-process-group", "-s", str(self.conf),
                                      "-p", str(self.port), "-d", "1"],
                                     stdout=open(self.base / "smbd.out", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                                     stdin=subprocess.DEVNULL, start_new_session=True)

        def listening() -> bool:
            assert self.proc.poll() is None, f"smbd ended: {(self.base / 'smbd.out').read_text()[-2000:]}"
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, 30, "smbd to listen", every=0.2)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)  # by its pid
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(ProcessLookupError):  # its helpers (notifyd, cleanupd) are in the group we made
            os.killpg(self.proc.pid, signal.SIGKILL)

    def client(self, *extra: str, user: str | None = None, protocol: str = "SMB3") -> list[str]:
        who = ["-U", f"{user or self.scanner}%{self.password}"] if user != "" else ["-N"]
        return [_need("smbclient"), "//127.0.0.1/pps-scans", "-p", str(self.port), *who, "-m", protocol,
                f"--option=client min protocol={protocol}", *extra]

    def session(self) -> subprocess.Popen:
        """One smbclient session fed commands over time, as a scanner keeps its connection open."""
        return subprocess.Popen(self.client(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)


def _stream(fifo: Path, data: bytes, pieces: int = 6) -> None:
    """Write ``data`` into the FIFO smbclient sends from, in pieces with pauses between them."""
    step = -(-len(data) // pieces)
    with open(fifo, "wb") as fh:  # opens once smbclient reads it
        for i in range(0, len(data), step):
            fh.write(data[i:i + step])
            fh.flush()
            time.sleep(PAUSE)


def _say(sess: subprocess.Popen, command: str) -> None:
    sess.stdin.write(command + "\n")
    sess.stdin.flush()


@pytest.fixture
def share_dir() -> Iterator[Path]:
    """Outside tmp_path: the scanner's account must be able to reach it (pytest's folders are 0700)."""
    top = Path(tempfile.mkdtemp(prefix="pps-share-", dir="/tmp"))
    os.chmod(top, 0o711)
    yield top / "scans"
    shutil.rmtree(top, ignore_errors=True)


def test_a_scan_written_over_smb_is_filed(tmp_path: Path, share_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("smbd must run as root to switch to the scanner's account (CI and 'make test' run as root)")
    _need("smbd")
    _need("smbclient")
    factory = ScanFactory(seed=13)
    staging = tmp_path / "staging"
    a = shred_doc(factory, staging, "scan_0501.pdf", "school-letter", pages=2)
    b = shred_doc(factory, staging, "scan_0502.pdf", "sen-letter", pages=3)
    halves = {}
    for doc in (a, b):
        data = doc.path.read_bytes()
        half = staging / f"half-{doc.path.name}"
        half.write_bytes(data[: len(data) // 2])
        halves[doc.path.name] = half

    with _accounts() as (scanner, group):
        gid = grp.getgrnam(group).gr_gid
        share_dir.mkdir()
        os.chown(share_dir, 0, gid)
        os.chmod(share_dir, 0o2770)  # root and the daemon's group; the scanner writes through force group
        smbd = Smbd(tmp_path / "smb", share_dir, scanner, group)
        smbd.start()
        home = tmp_path / "home"
        env = pps_env(home, **{**FAST, "PPS_ARCHIVE__INTAKE__STABLE_SECONDS": STABLE})
        pps(env, "init")
        pps(env, "case", "open", REF, "--consent-to-store")
        daemon = Daemon(env, home, "--folder", str(share_dir))
        sess = None
        try:
            # SMB3 only, no browsing, no anonymous access
            for protocol in ("NT1", "SMB2"):
                old = subprocess.run(smbd.client("-c", "ls", protocol=protocol), capture_output=True, text=True, timeout=30)
                assert old.returncode != 0, f"an {protocol} client got in: {old.stdout}"
            assert subprocess.run(smbd.client("-c", "ls"), capture_output=True, timeout=30).returncode == 0
            listing = subprocess.run([_need("smbclient"), "-L", "//127.0.0.1", "-p", str(smbd.port), "-U",
                                      f"{scanner}%{smbd.password}", "-m", "SMB3"], capture_output=True, text=True, timeout=30)
            assert "pps-scans" not in listing.stdout, "the share is browseable"
            anon = subprocess.run(smbd.client("-c", "ls", user=""), capture_output=True, text=True, timeout=30)
            assert anon.returncode != 0, "anonymous access to the share"

            # scan A: written under a temporary name, first in part, then whole (the part is
            # overwritten), then renamed to its .pdf name
            sess = smbd.session()
            _say(sess, f"put {halves['scan_0501.pdf']} scan_0501.tmp")
            time.sleep(PAUSE)
            _say(sess, f"put {a.path} scan_0501.tmp")
            time.sleep(PAUSE)
            _say(sess, "rename scan_0501.tmp scan_0501.pdf")
            _say(sess, "quit")
            out, _ = sess.communicate(timeout=TIMEOUT)
            assert sess.returncode == 0 and "NT_STATUS" not in out, out
            # scan B: streamed slowly under its final name through one open handle, for longer
            # than the stable time (smbd holds the file open for writing all along)
            fifo = tmp_path / "scanner-output"
            os.mkfifo(fifo)
            sess = smbd.session()  # another connection, as the next scan job
            _say(sess, f"put {fifo} scan_0502.pdf")
            writer = threading.Thread(target=_stream, args=(fifo, b.path.read_bytes()), daemon=True)
            writer.start()
            writer.join(timeout=TIMEOUT)  # a thread: a client that stops reading must fail the test, not hang it
            if writer.is_alive():
                sess.kill()
                pytest.fail(f"smbclient stopped reading the scan it was sending: {sess.communicate()[0][-2000:]}")
            # a file the daemon ignores, to see how the share leaves files
            _say(sess, f"put {halves['scan_0502.pdf']} probe.part")
            _say(sess, "quit")
            out, _ = sess.communicate(timeout=TIMEOUT)
            assert sess.returncode == 0, out
            assert "NT_STATUS" not in out, out

            assert daemon.wait_done("scan_0501.pdf") == "done"
            assert daemon.wait_done("scan_0502.pdf") == "done"
            assert daemon.documents_of("scan_0501.pdf") == [list(a.documents[0].source_pages)]
            assert daemon.documents_of("scan_0502.pdf") == [list(b.documents[0].source_pages)]
            assert daemon.state_of("scan_0501.tmp") is None, "the temporary name was taken in"
            assert daemon.probe.rows("SELECT count(*) FROM quarantine")[0][0] == 0
            probe = (share_dir / "probe.part").stat()
            assert probe.st_gid == gid, "files must land with the daemon's group (force group)"
            assert probe.st_uid == pwd.getpwnam(scanner).pw_uid
            assert probe.st_mode & 0o777 == 0o640, oct(probe.st_mode)
            assert sorted(p.name for p in share_dir.iterdir()) == ["probe.part"]
        finally:
            if sess is not None and sess.poll() is None:
                sess.kill()
            code = daemon.terminate()
            smbd.stop()
        assert code == 0, daemon.log.read_text()[-3000:]
        assert smbd.proc.returncode is not None
