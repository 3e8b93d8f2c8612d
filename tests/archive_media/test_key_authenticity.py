"""Issue 9 #1: public keys are authenticated before every use, on both databases.

The attacker here can write the database (one SQL statement) but has no passphrase. Each test
points a key at an age key of the attacker's own and shows that intake refuses loudly with the
case named, encrypts nothing (the vault stays empty), and leaves the input queued with its spool
copy; then that the legitimate ways in (``init`` on an upgraded archive, ``case open``, a review
item filed by hand) do work.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

REF = "PPS-2024-0137"
NO_KEY = "PPS-2024-0201"


@pytest.fixture
def home(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", REF, "--consent-to-store", "--as-of", "2024-01-10")
    return home


def _sql(database_url: str, sql: str, **params: object) -> list[tuple]:
    from pipeline.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _batch(tmp_path: Path, name: str, ref: str = REF, decision: str = "retain"):  # noqa: ANN202
    return ScanFactory(seed=int(name[5:9])).batch(tmp_path / "in", name, [Cover(ref, decision, "PPS-LETTER"), Doc("pps-letter", ref)],
                                     container="pdf-text", dpi=150)


def _attacker() -> tuple[str, str]:
    from archive_media import keys

    k = keys.new_case_key()
    return k.recipient, k.identity


def _vault_files(home: Path) -> list[Path]:
    return [p for p in (home / "vault").rglob("*") if p.is_file()]


def _assert_refused_and_queued(r, home: Path, database_url: str, code: int, *names: str) -> None:  # noqa: ANN001
    assert r.code == code, (r.out, r.err)
    for name in names:
        assert name in r.err
    assert "Traceback" not in r.err
    assert _vault_files(home) == []  # nothing was encrypted, to any key
    assert _sql(database_url, "SELECT state, attempts FROM inputs") == [("queued", 0)]
    assert _sql(database_url, "SELECT count(*) FROM documents") == [(0,)]
    assert [p for p in (home / "spool").rglob("*") if p.is_file()], "the spool copy must stay"


def test_case_key_pointed_at_an_attackers_key_stops_intake(home: Path, database_url: str, tmp_path: Path) -> None:
    mallory, _ = _attacker()
    (original,) = _sql(database_url, "SELECT public FROM wrapped_keys WHERE purpose = 'case'")[0]
    _sql(database_url, "UPDATE wrapped_keys SET public = :p WHERE purpose = 'case'", p=mallory)
    batch = _batch(tmp_path, "scan_0001.pdf")
    r = run("ingest", str(batch.files[0]), "--json", expect=None)
    _assert_refused_and_queued(r, home, database_url, ExitCode.KEY_NOT_AUTHENTIC, f"the key of case {REF}", "not authentic")
    _sql(database_url, "UPDATE wrapped_keys SET public = NULL WHERE purpose = 'case'")
    r = run("ingest", "--json", expect=None)
    _assert_refused_and_queued(r, home, database_url, ExitCode.KEY_NOT_AUTHENTIC, f"the key of case {REF}")
    # init (with the passphrase) puts the public half right: the signature proves the sealed key's
    # recipient is the one made; the same input then goes through, never counted as a failed attempt
    _sql(database_url, "UPDATE wrapped_keys SET public = :p WHERE purpose = 'case'", p=mallory)
    r = run("init")
    assert "put right" in r.err and REF in r.err
    assert _sql(database_url, "SELECT public FROM wrapped_keys WHERE purpose = 'case'") == [(original,)]
    run("ingest", "--json")
    assert _sql(database_url, "SELECT state FROM inputs") == [("done",)]
    assert [d["decision"] for d in run("documents", "--json").json()] == ["retain"]


def test_archive_key_pointed_at_an_attackers_key_stops_intake(home: Path, database_url: str, tmp_path: Path) -> None:
    mallory, _ = _attacker()
    _sql(database_url, "UPDATE wrapped_keys SET public = :p WHERE purpose = 'archive'", p=mallory)
    batch = _batch(tmp_path, "scan_0002.pdf", ref="PPS-2024-0999")  # no such case: a review copy, to the archive key
    r = run("ingest", str(batch.files[0]), "--json", expect=None)
    _assert_refused_and_queued(r, home, database_url, ExitCode.KEY_NOT_AUTHENTIC, "the archive key", "not authentic")
    # init re-derives the archive key's public half from its wrapped secret and puts it right
    again = run("init")
    assert "put right" in again.err
    run("ingest", "--json")
    assert _sql(database_url, "SELECT state FROM inputs") == [("done",)]
    assert [d["decision"] for d in run("documents", "--json").json()] == ["review"]


def test_a_forged_signature_row_is_refused(home: Path, database_url: str, tmp_path: Path) -> None:
    from archive_media import keys

    mallory, _ = _attacker()
    archive = _sql(database_url, "SELECT value FROM settings WHERE key = 'archive_id'")[0][0]
    forger = keys.new_signing_key(bytes(32), archive)  # a signing key of the attacker's own
    private = keys.unwrap_signing_key(bytes(32), archive, forger.wrapped)
    signature = keys.sign_public_key(private, "case", archive, REF, mallory)
    _sql(database_url, "UPDATE wrapped_keys SET public = :p, signature = :s WHERE purpose = 'case'", p=mallory, s=signature)
    batch = _batch(tmp_path, "scan_0003.pdf")
    r = run("ingest", str(batch.files[0]), "--json", expect=None)
    _assert_refused_and_queued(r, home, database_url, ExitCode.KEY_NOT_AUTHENTIC, f"the key of case {REF}")
    r = run("init", expect=ExitCode.KEY_NOT_AUTHENTIC)  # init does not sign it, nor "repair" it
    assert REF in r.err
    # the attacker also swaps the signing key's public half in the database: the pin disagrees
    _sql(database_url, "UPDATE wrapped_keys SET public = :p WHERE purpose = 'signing'", p=keys.public_key_pem(forger.public_key))
    r = run("ingest", "--json", expect=None)
    _assert_refused_and_queued(r, home, database_url, ExitCode.SIGNING_KEY_UNTRUSTED, "archive-signing.pub")
    (tmp_path / "some.iso").write_bytes(b"not read: the key is checked first")
    run("media", "verify", str(tmp_path / "some.iso"), expect=ExitCode.SIGNING_KEY_UNTRUSTED)


def test_signature_of_another_case_does_not_transfer(home: Path, database_url: str, tmp_path: Path) -> None:
    other = "PPS-2024-0138"
    run("case", "open", other, "--consent-to-store")
    public, signature = _sql(database_url, "SELECT public, signature FROM wrapped_keys WHERE case_ref = :r", r=other)[0]
    _sql(database_url, "UPDATE wrapped_keys SET public = :p, signature = :s WHERE case_ref = :r", p=public, s=signature, r=REF)
    batch = _batch(tmp_path, "scan_0004.pdf")
    r = run("ingest", str(batch.files[0]), "--json", expect=None)
    _assert_refused_and_queued(r, home, database_url, ExitCode.KEY_NOT_AUTHENTIC, f"the key of case {REF}")


def test_a_case_without_a_key_goes_to_review_and_filing_it_makes_the_key(
    home: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import cases
    from pipeline.workspace import Workspace
    from tests.auth_helpers import unlocked

    ws = Workspace.load(home)
    with ws.transaction() as s:  # opened as an archive from before case keys would have it: no key
        cases.open_case(s, ws.config, NO_KEY, today=dt.date(2024, 3, 1), auth=unlocked(s, ws.config, "t"), consent_to_store=True,
                        make_key=False)
    ws.close()
    batch = _batch(tmp_path, "scan_0005.pdf", ref=NO_KEY)
    assert run("ingest", str(batch.files[0]), "--json").json()["inputs"][0]["outcome"] == "done"
    (doc,) = run("documents", "--json").json()
    assert doc["decision"] == "review" and "has no authenticated key" in doc["reason"] and NO_KEY in doc["reason"]
    run("review", "assign", str(doc["id"]), "--case", NO_KEY, "--retain")
    (doc,) = run("documents", "--json").json()
    assert (doc["decision"], doc["case_ref"]) == ("retain", NO_KEY)
    (sig,) = _sql(database_url, "SELECT signature FROM wrapped_keys WHERE case_ref = :r", r=NO_KEY)[0]
    assert sig is not None and len(bytes(sig)) == 64


def test_case_open_needs_the_passphrase(home: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.delenv("PPS_ARCHIVE_PASSPHRASE")
    r = run("case", "open", "PPS-2024-0300", expect=ExitCode.PASSPHRASE_SOURCE)
    assert "needs the master passphrase" in r.err
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", "not it")
    run("case", "open", "PPS-2024-0300", expect=ExitCode.WRONG_PASSPHRASE)
    assert _sql(database_url, "SELECT count(*) FROM cases WHERE ref = 'PPS-2024-0300'") == [(0,)]


def _make_legacy(home: Path, database_url: str) -> None:
    """What an archive made by the version before signatures looks like: no pin, no signatures,
    no ``keys.authenticated`` event (the audit chain is rebuilt as the old version wrote it)."""
    from pipeline import audit
    from pipeline.models import AuditEvent, AuditHead
    from pipeline.workspace import Workspace

    (home / "archive-signing.pub").unlink()
    _sql(database_url, "UPDATE wrapped_keys SET signature = NULL")
    ws = Workspace.load(home)
    with ws.transaction() as s:
        events = [e for e in s.query(AuditEvent).order_by(AuditEvent.seq) if e.action != "keys.authenticated"]
        kept = [(e.actor, e.action, e.case_ref, e.subject, json.loads(e.details)) for e in events]
        s.query(AuditEvent).delete()
        head = s.get(AuditHead, 1)
        head.seq, head.hash = 0, audit.GENESIS
        s.flush()
        for actor, action, case_ref, subject, details in kept:
            audit.record(s, actor, action, case_ref=case_ref, subject=subject, **details)
    ws.close()


def test_upgraded_archive_is_signed_once_by_init(home: Path, database_url: str, tmp_path: Path) -> None:
    _make_legacy(home, database_url)
    batch = _batch(tmp_path, "scan_0006.pdf")
    r = run("ingest", str(batch.files[0]), "--json", expect=None)
    _assert_refused_and_queued(r, home, database_url, ExitCode.SIGNING_KEY_UNTRUSTED, "pps-archive init")
    r = run("init")
    assert "1 case key(s)" in r.out
    assert (home / "archive-signing.pub").exists()
    run("ingest", "--json")
    assert _sql(database_url, "SELECT state FROM inputs") == [("done",)]
    assert [d["decision"] for d in run("documents", "--json").json()] == ["retain"]
    assert _sql(database_url, "SELECT count(*) FROM audit_events WHERE action = 'keys.authenticated'") == [(1,)]
    # after that one pass, an unsigned key is tampering, not history: init and intake refuse it
    mallory, _ = _attacker()
    _sql(database_url, "UPDATE wrapped_keys SET public = :p, signature = NULL WHERE purpose = 'case'", p=mallory)
    r = run("init", expect=ExitCode.KEY_NOT_AUTHENTIC)
    assert REF in r.err
    batch = _batch(tmp_path, "scan_0007.pdf", ref=REF)
    before = len(_vault_files(home))
    r = run("ingest", str(batch.files[0]), "--json", expect=ExitCode.KEY_NOT_AUTHENTIC)
    assert len(_vault_files(home)) == before


def test_first_use_refuses_a_key_whose_sealed_secret_disagrees(home: Path, database_url: str) -> None:
    _make_legacy(home, database_url)
    mallory, _ = _attacker()
    _sql(database_url, "UPDATE wrapped_keys SET public = :p WHERE purpose = 'case'", p=mallory)
    r = run("init", expect=ExitCode.KEY_NOT_AUTHENTIC)
    assert REF in r.err


@pytest.mark.slow
def test_the_daemon_stops_on_a_forged_key_and_leaves_the_scan_queued(tmp_path: Path) -> None:
    """``watch`` as a real process: its worker refuses the key, the daemon stops with the key's
    exit code (it does not restart workers into the same refusal), and nothing was encrypted."""
    from tests.intake._helpers import DbProbe, kill_group, pps, pps_env, sqlite_url, start, wait_for

    home = tmp_path / "home"
    env = pps_env(home, PPS_ARCHIVE__INTAKE__STABLE_SECONDS="0.5", PPS_ARCHIVE__INTAKE__RESCAN_SECONDS="2",
                  PPS_ARCHIVE__INTAKE__WORKERS="1")
    pps(env, "init")
    pps(env, "case", "open", REF, "--consent-to-store")
    mallory, _ = _attacker()
    _sql(sqlite_url(home), "UPDATE wrapped_keys SET public = :p WHERE purpose = 'case'", p=mallory)
    folder = tmp_path / "scans"
    folder.mkdir()
    _batch(tmp_path, "scan_0008.pdf").files[0].rename(folder / "scan_0008.pdf")
    log = tmp_path / "watch.log"
    proc = start(env, "watch", "--folder", str(folder), log=log)
    probe = DbProbe(sqlite_url(home))
    try:
        code = wait_for(lambda: proc.poll(), 120, "the daemon to stop on the forged key")
        assert code == ExitCode.KEY_NOT_AUTHENTIC, log.read_text()[-2000:]
        assert f"the key of case {REF}" in log.read_text()
        assert probe.rows("SELECT state, attempts FROM inputs") == [("queued", 0)]
        assert _vault_files(home) == []
    finally:
        kill_group(proc)
        probe.close()


def test_a_key_restored_from_a_backup_is_signed_and_used(home: Path, database_url: str, tmp_path: Path) -> None:
    backup = tmp_path / "keys.backup"
    run("keys", "export", "--out", str(backup), "--yes")
    _sql(database_url, "DELETE FROM wrapped_keys WHERE purpose = 'case'")
    assert "imported 1 key(s)" in run("keys", "import", str(backup)).out
    batch = _batch(tmp_path, "scan_0009.pdf")
    assert run("ingest", str(batch.files[0]), "--json").json()["inputs"][0]["outcome"] == "done"
    assert [d["decision"] for d in run("documents", "--json").json()] == ["retain"]


def test_a_replaced_signing_key_and_pin_are_caught_by_the_next_command_with_the_passphrase(
    home: Path, database_url: str, tmp_path: Path
) -> None:
    """The residual risk, bounded: an attacker who replaces the pin file *and* the signing key's row
    and signs a key of their own passes the daemon's check (it has no secret to tell), but the
    next command holding the master key refuses, and ``init`` puts the pin right."""
    from archive_media import keys

    archive = _sql(database_url, "SELECT value FROM settings WHERE key = 'archive_id'")[0][0]
    forger = keys.new_signing_key(bytes(32), archive)
    pem = keys.public_key_pem(forger.public_key)
    (home / "archive-signing.pub").write_text(pem)
    _sql(database_url, "UPDATE wrapped_keys SET public = :p WHERE purpose = 'signing'", p=pem)
    r = run("case", "open", "PPS-2024-0400", expect=ExitCode.SIGNING_KEY_UNTRUSTED)
    assert "master key opens" in r.err
    r = run("media", "build", "--out", str(tmp_path / "discs"), expect=ExitCode.SIGNING_KEY_UNTRUSTED)
    r = run("init")
    assert "put right" in r.err and "archive-signing.pub" in r.err
    assert (home / "archive-signing.pub").read_text() != pem
    run("case", "open", "PPS-2024-0400")
