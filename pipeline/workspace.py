"""The data directory, its configuration and database: what every command opens first.

Layout of the data directory (created 0700; nothing in it is named after a person)::

    pps-archive.sqlite3     the embedded database (unless database_url points elsewhere)
    config.toml             optional user configuration
    drop/<profile>/         default drop folders of the scanner profiles
    spool/                  inputs taken from the drop folders, by content hash, until filed
    work/                   per-job private working directories (plaintext lives only here)
    vault/                  encrypted blobs under opaque ids
    quarantine/<date>/      inputs that could not be processed, with a reason in the database
    media/                  built disc images
    certificates/           destruction certificates (kept permanently)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pipeline import db
from pipeline.config import Config, load_config
from pps_archive.errors import NotInitialised

ENV_HOME = "PPS_ARCHIVE_HOME"
ENV_CONFIG = "PPS_ARCHIVE_CONFIG"
SUBDIRS = ("spool", "work", "vault", "quarantine", "media", "certificates")


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
        """A session in one transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only transaction: on SQLite it does not take the write lock."""
        with Session(self.engine.execution_options(pps_read_only=True), expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
