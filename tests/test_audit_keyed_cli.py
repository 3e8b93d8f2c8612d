"""``audit verify`` as a user runs it: a rewritten log is caught with the passphrase.

Uses only what an attacker with the database (and no passphrase) can touch: the events and the
head row. Before the chain was keyed, this rewrite passed ``audit verify``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from pipeline.models import AuditEvent, AuditHead
from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.test_audit import _delete_and_recompute  # the same attack, from the CLI's side



@pytest.fixture
def archive(workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    for n in range(1, 4):
        run("case", "open", f"PPS-2025-000{n}", "--consent-to-store", "--as-of", "2025-01-10")
    run("keys", "export", "--out", str(tmp_path / "keys.backup"), "--yes")  # unlocks the master key: seals
    return workspace


def test_a_deleted_event_with_every_hash_recomputed_fails_audit_verify(archive, monkeypatch: pytest.MonkeyPatch) -> None:
    with archive.transaction() as s:
        victim = s.scalars(select(AuditEvent.seq).where(AuditEvent.action == "case.open")).first()
    assert victim is not None
    _delete_and_recompute(archive, victim)
    r = run("audit", "verify", expect=ExitCode.AUDIT_CHAIN_BROKEN)
    assert "audit log has been altered" in r.err
    monkeypatch.delenv("PPS_ARCHIVE_PASSPHRASE")
    r = run("audit", "verify", "--json", expect=None)
    # without the passphrase the seals cannot be checked; the report never claims more than that
    assert r.code == ExitCode.AUDIT_CHAIN_BROKEN or r.json()["keyed"] is False


def test_verify_says_plainly_what_it_checked(archive, monkeypatch: pytest.MonkeyPatch) -> None:
    r = run("audit", "verify", "--json").json()
    assert r["ok"] and r["keyed"] and r["unsealed"] == 0 and r["seals"] >= 2
    r = run("audit", "verify")
    assert "sealed with the master key up to event" in r.out
    r = run("audit", "verify", "--structure-only")
    assert "structure intact" in r.out and "NOT checked" in r.err
    monkeypatch.delenv("PPS_ARCHIVE_PASSPHRASE")
    r = run("audit", "verify", "--json")
    assert r.json()["keyed"] is False


from tests.test_archive_e2e import archived  # noqa: E402, F401  (the fixture: one disc built)


def test_a_log_rolled_back_to_an_earlier_seal_is_caught_by_the_head_on_a_disc(archived, workspace) -> None:
    """The residual risk of seals, and its outside check: rolling the log back to an earlier
    sealed state (every remaining seal still valid) passes the keyed check, but the disc built
    since carries a head that is no longer in the log."""
    from pipeline.models import AuditSeal

    image, _batch, _tmp = archived
    r = run("audit", "verify", "--media", str(image), "--json").json()
    assert r["keyed"] and r["discs_checked"] == 1
    with workspace.transaction() as s:
        seals = list(s.scalars(select(AuditSeal).order_by(AuditSeal.seq)))
        keep = seals[0]  # init's seal, long before the disc was built
        s.execute(delete(AuditSeal).where(AuditSeal.seq > keep.seq))
        s.execute(delete(AuditEvent).where(AuditEvent.seq > keep.seq))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=keep.seq, hash=keep.hash, sealed_seq=keep.seq,
                                                                    sealed_mac=keep.mac))
    assert run("audit", "verify", "--json").json()["keyed"]  # from the database alone: undetectable
    r = run("audit", "verify", "--media", str(image), expect=ExitCode.AUDIT_CHAIN_BROKEN)
    assert "no longer in the log" in r.err
