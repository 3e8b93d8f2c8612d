"""The data directory, its configuration and database: what every command opens first.

Layout of the data directory (created 0700; nothing in it is named after a person)::

    pps-archive.sqlite3     the embedded database (unless database_url points elsewhere)
    config.toml             optional user configuration
    spool-id                this data directory's random id: inputs in its spool are claimed only by its workers
    drop/<profile>/         default drop folders of the scanner profiles
    spool/                  inputs taken from the drop folders, by content hash, until filed
    work/                   per-job private working directories (plaintext lives only here)
    vault/                  encrypted blobs under opaque ids
    quarantine/<date>/      inputs that could not be processed, with a reason in the database
    media/                  built disc images
    certificates/           destruction certificates (kept permanently)

Transactions compose (the rule every library function and front-end relies on)
-----------------------------------------------------------------------------
``ws.transaction()`` and ``ws.reader()`` know what is already open on the same workspace in the
same thread (a :mod:`contextvars` variable, so each thread, and each asyncio task started outside a
transaction, has its own):

- ``transaction()`` with nothing open: a new session and transaction, committed when the block ends,
  rolled back on any error.
- ``transaction()`` inside an open ``transaction()``: **joins it** with a SAVEPOINT on the same
  session (as sqlite-utils' ``Database.atomic()`` does). Nothing is committed until the outermost
  block ends; an error inside the inner block rolls back only the inner block's work, and the outer
  block may catch it and go on. So a library function that opens its own transaction can be called
  from a caller's transaction without waiting on the database's write lock (which used to wait 30 s
  on SQLite and for ever on PostgreSQL). A function that commits in steps so an interruption loses
  little (the disposal run, a media build) loses that property when called inside a transaction:
  call those at the top level.
- ``reader()`` inside a ``transaction()``: yields the transaction's own session (it sees the
  transaction's uncommitted writes). A reader must not write; what it does is part of the outer
  transaction.
- ``reader()`` inside a ``reader()``: yields the outer reader's session.
- ``transaction()`` inside a ``reader()``: refused at once with :class:`TransactionNesting` (a read
  snapshot cannot become a write transaction, and a second connection would not see it or could wait
  on it). Open the transaction first and read inside it.

A library function says in its docstring whether it opens its own transaction (then it may be called
inside another one, by the rules above) or takes the caller's ``Session``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pipeline import db
from pipeline.config import Config, load_config
from pps_archive.errors import NotInitialised, TransactionNesting

ENV_HOME = "PPS_ARCHIVE_HOME"
ENV_CONFIG = "PPS_ARCHIVE_CONFIG"
SUBDIRS = ("spool", "work", "vault", "quarantine", "media", "certificates")

#: the sessions open in this thread/context: workspace key -> (session, read_only)
_OPEN: contextvars.ContextVar[Mapping[object, tuple[Session, bool]]] = contextvars.ContextVar("pps_archive_open_sessions")


@contextlib.contextmanager
def _registered(key: object, session: Session, read_only: bool) -> Iterator[None]:
    token = _OPEN.set({**_OPEN.get({}), key: (session, read_only)})
    try:
        yield
    finally:
        _OPEN.reset(token)


def resolve_data_dir(option: Path | None, environ: Mapping[str, str]) -> Path:
    if option is not None:
        return Path(option).expanduser().absolute()
    if environ.get(ENV_HOME):
        return Path(environ[ENV_HOME]).expanduser().absolute()
    from platformdirs import user_data_dir

    return Path(user_data_dir("pps-archive", appauthor=False))


def resolve_config_file(option: Path | None, data_dir: Path, environ: Mapping[str, str]) -> Path | None:
    if option is not None:
        return Path(option)
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    candidate = data_dir / "config.toml"
    return candidate if candidate.exists() else None


def make_private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


@dataclass
class Workspace:
    data_dir: Path
    config: Config
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    #: identifies this workspace's open sessions in the current context (see the module docstring)
    _key: object = field(default_factory=object, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, data_dir: Path | None = None, config_file: Path | None = None, environ: Mapping[str, str] | None = None) -> Workspace:
        environ = dict(os.environ if environ is None else environ)
        home = resolve_data_dir(data_dir, environ)
        cfg = load_config(resolve_config_file(config_file, home, environ), environ)
        return cls(home, cfg, environ)

    @property
    def database_url(self) -> str:
        return self.config.database_url or db.sqlite_url(self.data_dir)

    @cached_property
    def engine(self) -> Engine:
        return db.make_engine(self.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return db.session_factory(self.engine)

    def path(self, name: str) -> Path:
        return self.data_dir / name

    def create_dirs(self) -> None:
        make_private_dir(self.data_dir)
        for name in SUBDIRS:
            make_private_dir(self.data_dir / name)
        from pipeline.hostlock import spool_id

        spool_id(self.data_dir)  # this data directory's own id for its spool (not the hostname)
        if not self.config.database_url:
            # created 0600 before SQLite opens it (it would use the umask); see db._private_files
            os.close(os.open(self.data_dir / db.SQLITE_FILE, os.O_WRONLY | os.O_CREAT, 0o600))
        for profile in self.config.scanner_profiles(self.data_dir):
            if profile.folder.is_relative_to(self.data_dir):
                profile.folder.mkdir(parents=True, exist_ok=True)

    def ensure_ready(self) -> None:
        """Refuse to run against a data dir that was never initialised or an old schema."""
        if not self.config.database_url and not (self.data_dir / db.SQLITE_FILE).exists():
            # do not let SQLite create an empty file: the data dir was never set up
            raise NotInitialised(what="the database", data_dir=self.data_dir)
        db.ensure_at_head(self.engine, self.data_dir)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        Inside an open transaction of this workspace it joins that one with a SAVEPOINT (an error
        rolls back only this block); inside a reader it is refused (see the module docstring)."""
        outer = _OPEN.get({}).get(self._key)
        if outer is not None:
            session, read_only = outer
            if read_only:
                raise TransactionNesting()
            with session.begin_nested():
                yield session
            return
        with self.sessions() as session, session.begin(), _registered(self._key, session, False):
            yield session

    @contextlib.contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only transaction: on SQLite it does not take the write lock.

        Inside an open transaction or reader of this workspace it yields that session."""
        outer = _OPEN.get({}).get(self._key)
        if outer is not None:
            yield outer[0]
            return
        with (
            Session(self.engine.execution_options(pps_read_only=True), expire_on_commit=False) as session,
            session.begin(),
            _registered(self._key, session, True),
        ):
            yield session

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
