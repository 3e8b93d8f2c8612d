"""Test isolation and the two database backends.

- Every test runs with a data dir in ``tmp_path``, the project's environment variables cleared and
  a fast test-only KDF.
- Tests that take ``database_url`` run once on SQLite and once on PostgreSQL. Each test gets its own
  database, copied from a template migrated once per session (a file copy on SQLite,
  ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so tests that start real worker processes see a
  real, separate database. PostgreSQL comes from ``$PPS_ARCHIVE_TEST_PG_URL`` (``.ci/run`` starts the
  machine's cluster and sets it); without it the PostgreSQL runs are skipped, except under CI, where
  a missing server is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "PPS_ARCHIVE_TEST_PG_URL"
# a fast, weak KDF: refused outside tests unless the loudly-named switch is set as well; and (for
# the same test processes, subprocesses too) every 'media build' burns what is pending: tests build
# discs right after filing (the rule that waits for fuller discs is tested where it is set,
# tests/test_disc_planning.py)
FAST_KDF = {"PPS_ARCHIVE__CRYPTO__KDF_LOG2_N": "10", "PPS_ARCHIVE_INSECURE_TEST_KDF": "1",
            "PPS_ARCHIVE__MEDIA__PLANNING": "every-build"}
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PPS_ARCHIVE") and name != PG_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    for k, v in FAST_KDF.items():
        monkeypatch.setenv(k, v)


def _migrate(url: str) -> None:
    from pipeline.db import make_engine, migrate

    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    url = f"sqlite+pysqlite:///{path}"
    _migrate(url)  # closing the last connection checkpoints the WAL into the main file
    assert not Path(f"{path}-wal").exists()
    return path


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the suite on PostgreSQL too, but ${PG_ENV} is not set (see .ci/run)")
        pytest.skip(f"no PostgreSQL: set ${PG_ENV} (e.g. postgresql+psycopg://pps:pps@127.0.0.1/postgres)")
    return url


def _pg_exec(admin_url: str, sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def pg_drop_database(admin_url: str, name: str, attempts: int = 40) -> None:
    """DROP DATABASE ... WITH (FORCE), tried again for a while: the server refuses it while a
    backend of another role (autovacuum, say) is still on that database, and such a backend
    leaves within seconds."""
    import time

    from sqlalchemy.exc import DBAPIError

    for attempt in range(attempts):
        try:
            _pg_exec(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str]:
    from sqlalchemy.engine import make_url

    admin = _pg_admin_url()
    name = f"pps_template_{uuid.uuid4().hex[:8]}"
    _pg_exec(admin, f'CREATE DATABASE "{name}"')
    _migrate(make_url(admin).set(database=name).render_as_string(hide_password=False))
    yield name
    pg_drop_database(admin, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A freshly migrated, empty database of each backend; also set as $PPS_ARCHIVE_DATABASE_URL."""
    if request.param == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        target = tmp_path / "db" / "pps-archive.sqlite3"
        target.parent.mkdir()
        shutil.copyfile(template, target)
        url = f"sqlite+pysqlite:///{target}"
        monkeypatch.setenv("PPS_ARCHIVE_DATABASE_URL", url)
        yield url
        return
    from sqlalchemy.engine import make_url

    template = request.getfixturevalue("_pg_template")
    admin = _pg_admin_url()
    name = f"pps_test_{uuid.uuid4().hex[:12]}"
    _pg_exec(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("PPS_ARCHIVE_DATABASE_URL", url)
    yield url
    pg_drop_database(admin, name)


@pytest.fixture
def workspace(database_url: str, tmp_path: Path):  # noqa: ANN201
    """A workspace on the test database with its data dir created (not yet keyed)."""
    from pipeline.workspace import Workspace

    ws = Workspace.load(tmp_path / "data")
    ws.create_dirs()
    yield ws
    ws.close()


@pytest.fixture
def session(workspace):  # noqa: ANN001, ANN201
    """One transaction on the test database, committed at the end of the test if nothing failed."""
    with workspace.transaction() as s:
        yield s


@pytest.fixture
def cfg(workspace):  # noqa: ANN001, ANN201
    return workspace.config
