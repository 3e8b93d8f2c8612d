"""A real browser against a live ``pps-archive serve`` (issue 11).

Playwright (from PyPI) drives Debian's Chromium at ``/usr/bin/chromium``: Playwright's own browser
downloads are not possible here, so it is pointed at the system browser. The server is the real
console script in its own process, on SQLite, on a free port of 127.0.0.1; the daemon runs beside it
when a test drops a scan. Screenshots of every page a walk visits go to the folder named by
``$PPS_ARCHIVE_SCREENSHOTS`` (default ``test-output/screenshots/`` in the checkout), one subfolder
per test, named ``NN-what.png`` in the order taken.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth_helpers import PASSWORDS, ROLES
from tests.intake._helpers import kill_group, pps, pps_env, start

CHROMIUM = os.environ.get("PPS_ARCHIVE_TEST_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("PPS_ARCHIVE_SCREENSHOTS", ROOT / "test-output" / "screenshots"))
# as the workplace's probe starts it: no sandbox as root, and no background traffic to the internet
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Office:
    """A data dir set up as on day one: keyed, two staff and two manager accounts."""

    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.home = root / "data"
        self.env = pps_env(self.home, PPS_ARCHIVE__INTAKE__STABLE_SECONDS="0.5", PPS_ARCHIVE__INTAKE__RESCAN_SECONDS="2",
                           PPS_ARCHIVE__INTAKE__WORKERS="1", **env)
        pps(self.env, "init")
        for name, role in ROLES.items():
            pw = root / f"{name}.pw"
            pw.write_text(PASSWORDS[name] + "\n")
            pw.chmod(0o600)
            pps({**self.env, "PPS_ARCHIVE_NEW_PASSWORD_FILE": str(pw)}, "staff", "add", name, "--role", role)
        self.drop = self.home / "drop"

    def cli(self, *args: str, user: str | None = None, expect: int | None = 0):  # noqa: ANN201
        env = dict(self.env)
        if user:
            env.update(PPS_ARCHIVE_USER=user, PPS_ARCHIVE_PASSWORD_FILE=str(self.root / f"{user}.pw"))
        return pps(env, *args, expect=expect)


class Server:
    """``pps-archive serve`` as a real process; stopped by its pid."""

    def __init__(self, office: Office) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = office.root / "serve.log"
        self.proc = start(office.env, "serve", "--port", str(self.port), log=self.log)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"serve died: {self.log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=2) as r:  # noqa: S310 - our own loopback server
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"serve did not answer: {self.log.read_text()[-3000:]}"
            time.sleep(0.3)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        finally:
            kill_group(self.proc)


class Daemon:
    def __init__(self, office: Office) -> None:
        self.log = office.root / "watch.log"
        self.proc = start(office.env, "watch", log=self.log)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        finally:
            kill_group(self.proc)


class Shots:
    """Numbered screenshots of one test's walk."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder, self.n = folder, 0

    def take(self, page, what: str) -> Path:  # noqa: ANN001 - a playwright Page
        self.n += 1
        path = self.folder / f"{self.n:02d}-{re.sub(r'[^a-z0-9]+', '-', what.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def office(tmp_path: Path) -> Office:
    return Office(tmp_path)


@pytest.fixture
def server(office: Office) -> Iterator[Server]:
    srv = Server(office)
    yield srv
    srv.stop()


@pytest.fixture
def daemon(office: Office) -> Iterator[Daemon]:
    d = Daemon(office)
    yield d
    d.stop()


@pytest.fixture(scope="session")
def chromium():  # noqa: ANN201 - a playwright Browser
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: the Makefile's Debian packages install chromium")
        pytest.skip(f"{CHROMIUM} is missing (make deps installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(SHOTS / request.node.name.replace("[", "-").replace("]", ""))


def new_person(chromium, server: Server):  # noqa: ANN001, ANN201 - a playwright Page in its own context
    """One person at their own desk: a fresh browser context (own cookies) on the server."""
    # an English office (date fields still follow the machine's locale)
    context = chromium.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(30_000)
    return context.new_page()


def log_in(page, name: str) -> None:  # noqa: ANN001
    page.goto("/login")
    page.get_by_label("Account").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def log_out(page) -> None:  # noqa: ANN001
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login.*"))
