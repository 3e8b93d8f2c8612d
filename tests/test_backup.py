"""Database backups (issue 13): encrypted to the archive key, expiring, restored into a fresh data
directory and verified there — on SQLite (the online backup API) and PostgreSQL (pg_dump/pg_restore)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from pipeline import audit, backup, cases, keystore
from pipeline.models import AuditEvent, Base, Case
from pipeline.workspace import Workspace
from pps_archive.errors import AuditChainBroken, BackupExpired, IntegrityError, RestoreTargetInUse, WrongPassphrase
from tests.conftest import PASSPHRASE, _pg_admin_url, _pg_exec, pg_drop_database
from tests.auth_helpers import unlocked

TODAY = dt.date.today()
REFS = ("PPS-2024-0137", "PPS-2024-0138", "PPS-2025-0001")


def set_up_archive(ws: Workspace) -> None:
    """What 'init' and 'case open --consent-to-store' do, through the library."""
    with ws.transaction() as s:
        archive = keystore.ensure_archive_id(s)
        master = keystore.ensure_master_key(s, ws.config, PASSPHRASE.encode(), archive, actor="init")
        keystore.authenticate_keys(s, master, ws.data_dir, actor="init")
    with ws.transaction() as s:
        for ref in REFS:
            cases.open_case(s, ws.config, ref, today=TODAY, auth=unlocked(s, None, "alice"), consent_to_store=True)
        audit.seal_on_commit(s, keystore.unlock(s, PASSPHRASE.encode()))


def counts(ws: Workspace) -> dict[str, int]:
    with ws.reader() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


@pytest.fixture
def fresh(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """A new data directory on an empty database of the same engine (no tables, nothing migrated)."""
    env = {"PPS_ARCHIVE_HOME": str(tmp_path / "restored")}
    name = None
    if database_url.startswith("postgresql"):
        admin = _pg_admin_url()
        name = f"pps_restore_{uuid.uuid4().hex[:12]}"
        _pg_exec(admin, f'CREATE DATABASE "{name}"')
        env["PPS_ARCHIVE_DATABASE_URL"] = make_url(admin).set(database=name).render_as_string(hide_password=False)
    ws = Workspace.load(tmp_path / "restored", environ=env)
    yield ws
    ws.close()
    if name:
        pg_drop_database(_pg_admin_url(), name)


def test_backup_restores_into_a_fresh_data_dir_and_verifies(workspace: Workspace, fresh: Workspace, tmp_path: Path) -> None:
    set_up_archive(workspace)
    before = counts(workspace)
    with workspace.reader() as s:
        head = audit.verify(s).head
    out = tmp_path / "db.backup"
    info = backup.make_backup(workspace, out, today=TODAY)
    assert out.stat().st_mode & 0o777 == 0o600
    assert info["expires"] == (TODAY + dt.timedelta(days=30)).isoformat()
    assert info["engine"] == workspace.engine.dialect.name
    data = out.read_bytes()
    for ref in REFS:  # the database holds the references in clear; the backup must not
        assert ref.encode() not in data
    with workspace.reader() as s:  # the backup is recorded (after the dump: not in it)
        assert s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq.desc())).first() == "database.backup"

    r = backup.restore_backup(fresh, data, PASSPHRASE.encode(), today=TODAY, actor="carol")
    assert r["counts"] == {k: v for k, v in before.items() if k in r["counts"]}
    assert sum(r["counts"].values()) == sum(before.values())
    after = counts(fresh)
    for table, n in before.items():
        if table != "audit_events" and table != "audit_seals":
            assert after[table] == n, table
    with fresh.reader() as s:
        report = audit.verify(s, keystore.unlock(s, PASSPHRASE.encode()))  # keyed: chain and seals
        assert report.keyed and report.unsealed == 0
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        assert events[before["audit_events"] - 1].hash == head  # the backed-up chain, then the restore's events
        assert events[-1].action == "database.restored" and events[-1].actor == "carol"
        assert sorted(s.scalars(select(Case.ref))) == sorted(REFS)
        # the restored archive works: its keys authenticate against the pin the restore wrote
        assert keystore.case_recipient(s, REFS[0], data_dir=fresh.data_dir)
    assert (fresh.data_dir / keystore.PIN_FILE).read_bytes() == (workspace.data_dir / keystore.PIN_FILE).read_bytes()
    with pytest.raises(RestoreTargetInUse):  # never over a live database
        backup.restore_backup(fresh, data, PASSPHRASE.encode(), today=TODAY, actor="carol")


def test_an_expired_backup_is_refused_and_its_expiry_cannot_be_edited(workspace: Workspace, fresh: Workspace, tmp_path: Path) -> None:
    set_up_archive(workspace)
    out = tmp_path / "old.backup"
    backup.make_backup(workspace, out, today=TODAY - dt.timedelta(days=31), valid_days=30)
    data = out.read_bytes()
    with pytest.raises(BackupExpired):
        backup.restore_backup(fresh, data, PASSPHRASE.encode(), today=TODAY, actor="carol")
    # the plain header's expiry put forward: the copy inside the ciphertext says otherwise
    first_nl = len(backup.MAGIC)
    end = data.index(b"\n", first_nl)
    header = json.loads(data[first_nl:end])
    header["expires"] = (TODAY + dt.timedelta(days=300)).isoformat()
    forged = backup.MAGIC + json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + data[end:]
    with pytest.raises(IntegrityError, match="changed after it was made"):
        backup.restore_backup(fresh, forged, PASSPHRASE.encode(), today=TODAY, actor="carol")
    assert not _has_tables(fresh), "a refused backup must restore nothing"


def test_a_backup_opens_only_with_the_recovery_passphrase(workspace: Workspace, fresh: Workspace, tmp_path: Path) -> None:
    set_up_archive(workspace)
    out = tmp_path / "db.backup"
    backup.make_backup(workspace, out, today=TODAY)
    with pytest.raises(WrongPassphrase):
        backup.restore_backup(fresh, out.read_bytes(), b"not the passphrase at all", today=TODAY, actor="carol")
    assert not _has_tables(fresh)


def _has_tables(ws: Workspace) -> bool:
    from sqlalchemy import inspect

    if ws.engine.dialect.name == "sqlite" and not Path(ws.engine.url.database).exists():
        return False
    return bool(inspect(ws.engine).get_table_names())


def test_backup_and_restore_through_the_cli(tmp_path: Path) -> None:
    """As the restore drill in docs/operations.md runs it (SQLite)."""
    from pipeline.cli import cli
    from tests.conftest import FAST_KDF

    env = {**FAST_KDF, "PPS_ARCHIVE_PASSPHRASE": PASSPHRASE, "PPS_ARCHIVE_HOME": str(tmp_path / "home")}
    runner = CliRunner()

    def run(*args: str, home: Path | None = None, code: int = 0):  # noqa: ANN202
        e = dict(env, PPS_ARCHIVE_HOME=str(home)) if home else env
        result = runner.invoke(cli, list(args), env=e, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    run("init")
    run("case", "open", REFS[0], "--consent-to-store")
    assert "expires on" in run("backup", "--out", str(tmp_path / "b")).output
    restored = tmp_path / "restored"
    r = json.loads(run("backup", "restore", str(tmp_path / "b"), "--json", "--by", "carol", home=restored).stdout)
    assert r["counts"]["cases"] == 1 and r["disposal_runs_since"] == []
    assert "audit log intact" in run("audit", "verify", home=restored).output
    assert json.loads(run("case", "list", "--json", home=restored).stdout)[0]["ref"] == REFS[0]
    # a disposal certificate as new as the backup in the data directory: warning 106
    again = tmp_path / "again"
    (again / "certificates").mkdir(parents=True)
    (again / "certificates" / f"disposal-{TODAY.isoformat()}-run1.json").write_text("{}")
    out = run("backup", "restore", str(tmp_path / "b"), home=again, code=106)
    assert "Run the disposal again" in out.output
    run("backup", "restore", str(tmp_path / "b"), home=restored, code=80)


def test_pg_restore_checks_the_dump_it_was_given(workspace: Workspace, fresh: Workspace, tmp_path: Path) -> None:
    """The counts recorded with the dump are those of the dump's own snapshot (PostgreSQL: an
    exported snapshot shared with pg_dump; SQLite: the copy itself)."""
    set_up_archive(workspace)
    out = tmp_path / "db.backup"
    info = backup.make_backup(workspace, out, today=TODAY)
    assert info["counts"]["cases"] == len(REFS)
    r = backup.restore_backup(fresh, out.read_bytes(), PASSPHRASE.encode(), today=TODAY, actor="carol")
    assert r["counts"] == info["counts"]
    with fresh.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar_one() == len(REFS)


def test_a_backup_forged_with_the_public_key_alone_is_refused(tmp_path: Path) -> None:
    """Someone who can write the data directory has the archive's public key and could make a
    backup file of a database of their own (here: the real one with its audit log rewritten, hashes
    recomputed). The restore's keyed check of the seals refuses it, and leaves the target empty."""
    import io
    import sqlite3

    from archive_media.envelope import decrypt_stream, encrypt_stream

    ws = Workspace.load(tmp_path / "home", environ={})
    ws.create_dirs()
    from pipeline.db import migrate

    migrate(ws.engine)
    set_up_archive(ws)
    out = tmp_path / "db.backup"
    backup.make_backup(ws, out, today=TODAY)
    data = out.read_bytes()
    header, line, body = backup._split(data)  # noqa: SLF001
    with ws.reader() as s:  # (the test reads the plaintext with the key; the forger starts from any database)
        plain = io.BytesIO()
        decrypt_stream(io.BytesIO(body), plain, keystore.archive_identity(s, keystore.unlock(s, PASSPHRASE.encode())))
        recipient = keystore.archive_recipient(s, data_dir=ws.data_dir)
    copy = tmp_path / "forger" / "copy.sqlite3"
    copy.parent.mkdir()
    copy.write_bytes(plain.getvalue()[len(line):])
    db = sqlite3.connect(copy)
    prev = audit.GENESIS
    for seq, at, actor, action, case_ref, subject, details in db.execute(
            "SELECT seq, at, actor, action, case_ref, subject, details FROM audit_events ORDER BY seq").fetchall():
        actor = "mallory" if seq == 2 else actor
        digest = audit.event_hash(seq, at, actor, action, case_ref, subject, details, prev)
        db.execute("UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?", (actor, prev, digest, seq))
        prev = digest
    db.execute("UPDATE audit_seals SET hash = (SELECT hash FROM audit_events e WHERE e.seq = audit_seals.seq)")
    db.execute("UPDATE audit_head SET hash = ?", (prev,))
    db.commit()
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    forged_body = io.BytesIO()
    head = json.loads(line)
    head["audit_head"]["hash"] = prev
    new_line = json.dumps(head, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    encrypt_stream(io.BytesIO(new_line + copy.read_bytes()), forged_body, recipient)
    forged = backup.MAGIC + new_line + forged_body.getvalue()

    fresh = Workspace.load(tmp_path / "restored", environ={})
    with pytest.raises(AuditChainBroken, match="seal"):
        backup.restore_backup(fresh, forged, PASSPHRASE.encode(), today=TODAY, actor="carol")
    assert (fresh.data_dir / "pps-archive.sqlite3").stat().st_size == 0, "the refused database was left in place"
    assert not (fresh.data_dir / keystore.PIN_FILE).exists()
    r = backup.restore_backup(fresh, data, PASSPHRASE.encode(), today=TODAY, actor="carol")  # the real one still goes in
    assert r["counts"]["cases"] == len(REFS)
    ws.close()
    fresh.close()
