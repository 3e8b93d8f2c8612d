"""Engines, sessions and migrations.

SQLite runs with WAL, foreign keys, ``secure_delete`` (a destroyed key's bytes are overwritten in
the file, not left in free pages) and ``synchronous=FULL``; every transaction starts with
``BEGIN IMMEDIATE`` so two processes never both read-then-write (the audit chain cannot fork).
PostgreSQL is used through a ``postgresql+psycopg://`` URL; rows that must not be claimed twice are
locked with ``SELECT ... FOR UPDATE`` (``SKIP LOCKED`` for the job queue).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pps_archive.errors import DatabaseUnavailable, NotInitialised

log = logging.getLogger(__name__)

SQLITE_FILE = "pps-archive.sqlite3"
#: the largest id both databases hold: ids are INTEGER columns, 32-bit on PostgreSQL
MAX_ID = 2**31 - 1


def check_id(value: int, what: str) -> int:
    """An id a database column can hold, else InvalidValue (both databases would fail deep
    inside the driver on a larger one)."""
    from pps_archive.errors import InvalidValue

    if not 1 <= value <= MAX_ID:
        raise InvalidValue(f"{value} is not an id ({what}): ids are whole numbers from 1 to {MAX_ID}")
    return value


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+pysqlite:///{Path(data_dir) / SQLITE_FILE}"


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def _private_files(dbapi_conn) -> None:  # noqa: ANN001 - DB-API connection
    """The database file 0600 whatever the umask; SQLite gives the -wal and -shm files it creates
    the database file's mode (set here before the first read makes them), and older ones are
    set too."""
    for _seq, name, file in dbapi_conn.execute("PRAGMA database_list").fetchall():
        if name != "main" or not file:
            continue
        for path in (file, f"{file}-wal", f"{file}-shm"):
            try:
                if os.stat(path).st_mode & 0o777 != 0o600:
                    os.chmod(path, 0o600)
            except FileNotFoundError:
                pass


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_begin)
    _private_files(dbapi_conn)
    cur = dbapi_conn.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA secure_delete=ON",
        "PRAGMA synchronous=FULL",
        "PRAGMA busy_timeout=30000",
    ):
        cur.execute(pragma)
    cur.close()


def _sqlite_begin(conn) -> None:  # noqa: ANN001 - a SQLAlchemy Connection, as the event passes it
    # writers take the write lock at once (no read-then-write races); readers do not block writers
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("pps_read_only") else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailable(url=redact(url), problem="the URL is not valid", hint="Use sqlite:///PATH or postgresql+psycopg://user:password@host/dbname.") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed, pool_pre_ping=True)
    else:
        raise DatabaseUnavailable(url=redact(url), problem="only SQLite and PostgreSQL are supported", hint="")
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(engine: Engine):  # noqa: ANN202 - alembic imported lazily
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def head_revision(engine: Engine) -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _migration_engine(engine: Engine) -> Engine:
    """SQLite: a connection with foreign keys OFF. Alembic's batch mode rebuilds a table by copying
    it and dropping the old one; with foreign keys on, that drop would fire ON DELETE CASCADE /
    SET NULL on every row that points at the table (documents would lose their case)."""
    if engine.dialect.name != "sqlite":
        return engine
    plain = create_engine(engine.url, connect_args={"timeout": 30})

    def pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
        _private_files(dbapi_conn)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    event.listen(plain, "connect", pragmas)
    return plain


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Upgrade the database to the newest schema; return (revision before, revision after)."""
    return migrate_to(engine, "head")


def migrate_to(engine: Engine, revision: str) -> tuple[str | None, str]:
    from alembic import command

    before = _try(engine, current_revision)
    cfg = _alembic_config(engine)
    target = _migration_engine(engine)
    try:
        with target.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            if engine.dialect.name == "sqlite":
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise DatabaseUnavailable(url=redact(str(engine.url)), problem=f"the migration broke {len(broken)} foreign key(s)",
                                              hint="Nothing was changed; report this.")
    finally:
        if target is not engine:
            target.dispose()
    return before, _try(engine, current_revision)


def _try(engine: Engine, fn):  # noqa: ANN001, ANN202 - any function of the engine, and what it returns
    try:
        return fn(engine)
    except OperationalError as exc:
        if _sqlite_disk_full(engine, exc):
            from pps_archive.errors import DiskFull

            raise DiskFull(path=engine.url.database) from exc
        raise DatabaseUnavailable(url=redact(str(engine.url)), problem=str(exc.orig).strip(), hint="Check the server is running and the URL is right.") from exc


def _sqlite_disk_full(engine: Engine, exc: OperationalError) -> bool:
    """SQLite says "disk I/O error" when it cannot even create its WAL on a full disk."""
    from pipeline.diskspace import is_disk_full

    if is_disk_full(exc):
        return True
    if engine.dialect.name != "sqlite" or not engine.url.database or "disk i/o error" not in str(exc.orig).lower():
        return False
    import shutil

    try:
        return shutil.disk_usage(Path(engine.url.database).parent).free < (1 << 20)
    except OSError:
        return False


def ensure_at_head(engine: Engine, data_dir: Path) -> None:
    """Refuse to work on a database that is missing or older than this program."""
    current = _try(engine, current_revision)
    if current is None:
        if inspect(engine).has_table("cases"):
            raise DatabaseUnavailable(url=redact(str(engine.url)), problem="it has tables but no migration history", hint="It was not made by pps-archive.")
        raise NotInitialised(what="the database", data_dir=data_dir)
    head = head_revision(engine)
    if current != head:
        raise NotInitialised(what=f"the database schema (at {current}, this program needs {head})", data_dir=data_dir)
