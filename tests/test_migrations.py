"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pipeline.db import make_engine
from pipeline.models import Base


def test_migrated_schema_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ: write a migration ({diff})"


def test_upgrading_keeps_every_row_and_link(tmp_path) -> None:  # noqa: ANN001
    """Batch-mode table rebuilds on SQLite must not cascade: documents keep their case, holds and
    consents survive (they did not, before migrations ran with foreign keys off)."""
    import datetime as dt

    from sqlalchemy import text

    from pipeline.db import migrate, migrate_to

    url = f"sqlite+pysqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    migrate_to(engine, "0003")
    day = dt.date(2024, 1, 1)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cases (id, ref, anonymous, opened_on, last_activity, store_consent) "
                          "VALUES (1, 'PPS-2024-0001', 0, :d, :d, 1)"), {"d": day})
        conn.execute(text("INSERT INTO holds (case_id, reason, note, placed_on, placed_by) VALUES (1, 'sar', 'n', :d, 'a')"), {"d": day})
        conn.execute(text("INSERT INTO third_party_consents (case_id, party, allowed, changed_on) VALUES (1, 'School', 1, :d)"), {"d": day})
        conn.execute(text("INSERT INTO inputs (id, sha256, display_name, profile, members, size, received_at, state, attempts) "
                          "VALUES (1, :h, 'a.pdf', 'office', 1, 1, :t, 'done', 1)"), {"h": "0" * 64, "t": dt.datetime(2024, 1, 1)})
        conn.execute(text("INSERT INTO documents (input_id, case_id, decision, reason, source, pages, source_pages, state, created_at) "
                          "VALUES (1, 1, 'retain', 'r', 'barcode', 1, '[]', 'filed', :t)"), {"t": dt.datetime(2024, 1, 1)})
    migrate(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT case_id FROM documents")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM holds")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM third_party_consents")).scalar_one() == 1
    engine.dispose()
