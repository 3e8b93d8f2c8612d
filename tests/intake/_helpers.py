"""Running ``pps-archive`` as a real process, and looking at what it left in the data dir.

The intake acceptance tests treat the program as a black box: they start the console script
with a private environment, read its ``--json`` output, and look at files under the data dir.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import FAST_KDF, PASSPHRASE
from tests.factory import _content

#: pages that are not part of any document
SHEET_KINDS = ("coversheet", "separator")
#: byte signatures of scans and of the PDFs made from them: plaintext that must stay out of the
#: data dir (quarantine keeps refused inputs encrypted too)
PLAINTEXT_MAGIC = {"PDF": b"%PDF", "TIFF": b"II*\x00", "TIFF (big-endian)": b"MM\x00*", "JPEG": b"\xff\xd8\xff",
                   "PNG": b"\x89PNG\r\n\x1a\n", "ZIP (docx)": b"PK\x03\x04"}


def invented_names() -> set[str]:
    """Every name of a person, child, street and school the factory invents (whole and in parts)."""
    out: set[str] = set()
    for full in (*_content.PARENTS, *_content.CHILDREN, *_content.STREETS, *_content.SCHOOLS, *_content.WORKERS):
        out.add(full)
        out.update(w for w in full.split() if len(w) >= 5 and w[0].isupper() and w not in ("Close", "Crescent", "Primary", "School", "Academy", "Junior"))
    return out


def console_script() -> list[str]:
    exe = Path(sys.executable).with_name("pps-archive")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pps-archive")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main())"]


def pps_env(home: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """A clean environment for the program: our data dir, passphrase, fast KDF; nothing inherited
    from the project's own variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PPS_ARCHIVE")}
    env.update(FAST_KDF)
    env["PPS_ARCHIVE_HOME"] = str(home)
    env["PPS_ARCHIVE_PASSPHRASE"] = PASSPHRASE
    if database_url:
        env["PPS_ARCHIVE_DATABASE_URL"] = database_url
    env.update(extra)
    return env


@dataclass
class Done:
    args: tuple[str, ...]
    code: int
    out: str
    err: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.out)


def pps(env: dict[str, str], *args: str, expect: int | None = 0, timeout: float = 600) -> Done:
    t0 = time.monotonic()
    proc = subprocess.run([*console_script(), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    done = Done(tuple(args), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)
    if expect is not None:
        assert done.code == expect, f"pps-archive {' '.join(args)}: exit {done.code}, expected {expect}\n" \
                                    f"stdout: {done.out[-3000:]}\nstderr: {done.err[-3000:]}"
    return done


def start(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen:
    """Start the program in its own process group (so the test can kill it and all its workers)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen([*console_script(), *args], env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT if log else subprocess.DEVNULL, start_new_session=True)
    finally:
        if log:
            out.close()


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the process and every process it started (workers, ocrmypdf, tesseract)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    if sig == signal.SIGKILL:
        proc.wait()
        _reap_group(proc.pid)


def _reap_group(pgid: int, timeout: float = 10.0) -> None:
    """Wait until no process of the group is left (children of a killed parent die a bit later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {pgid} still alive {timeout} s after SIGKILL")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# --- what is in the data dir ---------------------------------------------------------------------

def files_under(root: Path, skip: Iterable[str] = ()) -> list[Path]:
    skip = set(skip)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if rel.parts and rel.parts[0] in skip:
            dirnames[:] = []
            continue
        out.extend(Path(dirpath) / f for f in filenames)
    return out


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def plaintext_files(data_dir: Path, skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(file, kind) for every file that starts like a scan or a PDF, or holds a PDF anywhere in it
    (the database aside: it may hold any bytes)."""
    found = []
    for f in files_under(data_dir, skip=skip):
        data = f.read_bytes()
        for kind, magic in PLAINTEXT_MAGIC.items():
            if data.startswith(magic) or (kind == "PDF" and magic in data and not f.name.startswith("pps-archive.sqlite3")):
                found.append((str(f.relative_to(data_dir)), kind))
    return found


def words_in_files(files: Sequence[Path], words: Iterable[str]) -> list[tuple[str, str]]:
    """(file, word) for every known word found in plain bytes (UTF-8, any case) of ``files``."""
    pats = [(w, re.compile(re.escape(w.encode()), re.IGNORECASE)) for w in sorted(set(words))]
    hits = []
    for f in files:
        data = f.read_bytes()
        hits.extend((str(f), w) for w, rx in pats if rx.search(data))
    return hits


def names_in_paths(root: Path, names: Iterable[str]) -> list[str]:
    names = [n.casefold() for n in names]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in (*dirnames, *filenames):
            path = str((Path(dirpath) / entry).relative_to(root))
            if any(n in entry.casefold() for n in names):
                out.append(path)
    return out


# --- the database, read directly (a probe: faster than the CLI, never writes) ----------------------

class DbProbe:
    """Read-only look at the queue while the program runs (SQLite read-only; PostgreSQL autocommit)."""

    def __init__(self, database_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            path = url.database
            self.engine = create_engine("sqlite+pysqlite://", creator=lambda: _sqlite_ro(path))
        else:
            self.engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)

    def rows(self, sql: str, **params: Any) -> list[tuple]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def inputs(self) -> list[tuple[int, str, str, int]]:
        return self.rows("SELECT id, display_name, state, attempts FROM inputs ORDER BY id")

    def document_count(self) -> int:
        return self.rows("SELECT count(*) FROM documents")[0][0]

    def vault_items(self) -> set[str]:
        return {r[0] for r in self.rows("SELECT vault_item FROM documents WHERE vault_item IS NOT NULL")}

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_ro(path: str):  # noqa: ANN202
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+pysqlite:///{data_dir / 'pps-archive.sqlite3'}"
