"""The hash-chained audit log: tampering by edit, deletion and reordering is detected."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, select, update

from pipeline import audit
from pipeline.models import AuditEvent
from pps_archive.errors import AuditChainBroken, ExitCode


def _write_events(workspace, n: int = 5) -> None:
    with workspace.transaction() as s:
        for i in range(n):
            audit.record(s, "alice", "test.event", case_ref=f"PPS-2025-{i:04d}", subject=f"doc:{i}", n=i)


def test_intact_chain_verifies(workspace) -> None:
    _write_events(workspace)
    with workspace.transaction() as s:
        report = audit.verify(s)
    assert report.events == 5
    assert len(report.head) == 64


def test_edited_event_is_detected(workspace) -> None:
    _write_events(workspace)
    with workspace.transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="mallory"))
    with workspace.transaction() as s, pytest.raises(AuditChainBroken, match="event 3 was changed") as err:
        audit.verify(s)
    assert err.value.exit_code == ExitCode.AUDIT_CHAIN_BROKEN


def test_edited_details_with_recomputed_hash_breaks_the_next_link(workspace) -> None:
    _write_events(workspace)
    with workspace.transaction() as s:
        ev = s.get(AuditEvent, 2)
        ev.details = '{"n":99}'
        ev.hash = audit.event_hash(ev.seq, ev.at, ev.actor, ev.action, ev.case_ref, ev.subject, ev.details, ev.prev_hash)
    with workspace.transaction() as s, pytest.raises(AuditChainBroken, match="event 3 does not follow event 2"):
        audit.verify(s)


def test_deleted_event_is_detected(workspace) -> None:
    _write_events(workspace)
    with workspace.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    with workspace.transaction() as s, pytest.raises(AuditChainBroken, match="event 2 is missing"):
        audit.verify(s)


def test_deleted_tail_is_detected(workspace) -> None:
    _write_events(workspace)
    with workspace.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq >= 4))
    with workspace.transaction() as s, pytest.raises(AuditChainBroken, match="ends at event 3 but 5 were written"):
        audit.verify(s)


def test_reordered_events_are_detected(workspace) -> None:
    _write_events(workspace)
    with workspace.transaction() as s:  # events 2 and 3 change places
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(seq=-1))
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=2))
        s.execute(update(AuditEvent).where(AuditEvent.seq == -1).values(seq=3))
    with workspace.transaction() as s, pytest.raises(AuditChainBroken, match="event 2 does not follow event 1"):
        audit.verify(s)


def test_concurrent_appends_never_fork_the_chain(workspace) -> None:
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(15):
                with workspace.transaction() as s:
                    audit.record(s, name, "test.concurrent", n=i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"staff{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with workspace.transaction() as s:
        assert audit.verify(s).events == 60
        assert len(set(s.scalars(select(AuditEvent.prev_hash)))) == 60


# --- the keyed chain: seals ------------------------------------------------------------------

from pipeline import keystore  # noqa: E402
from pipeline.models import AuditHead, AuditSeal  # noqa: E402
from tests.conftest import PASSPHRASE  # noqa: E402


def _keyed(workspace) -> bytes:
    """Set the archive up as init does (which seals); returns the master key."""
    with workspace.transaction() as s:
        archive = keystore.ensure_archive_id(s)
        return keystore.ensure_master_key(s, workspace.config, PASSPHRASE.encode(), archive, actor="init")


def _seal(workspace) -> None:
    """What every command that unlocks the master key does: its transaction seals when it commits."""
    with workspace.transaction() as s:
        keystore.unlock(s, PASSPHRASE.encode())


def _delete_and_recompute(workspace, victim: int) -> None:
    """An attacker with the database and no key: delete event ``victim``, renumber and re-hash
    everything after it, and move the head. Touches only what the old schema had too."""
    with workspace.transaction() as s:
        rows = [r for r in s.scalars(select(AuditEvent).order_by(AuditEvent.seq)) if r.seq != victim]
        kept = [(r.at, r.actor, r.action, r.case_ref, r.subject, r.details) for r in rows]
        s.execute(delete(AuditEvent))
        s.flush()
        prev = audit.GENESIS
        for seq, (at, actor, action, case_ref, subject, details) in enumerate(kept, start=1):
            digest = audit.event_hash(seq, at, actor, action, case_ref, subject, details, prev)
            s.add(AuditEvent(seq=seq, at=at, actor=actor, action=action, case_ref=case_ref, subject=subject,
                             details=details, prev_hash=prev, hash=digest))
            prev = digest
        s.flush()
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=len(kept), hash=prev))


def test_every_unlocking_transaction_seals_and_intake_events_are_counted_unsealed(workspace) -> None:
    master = _keyed(workspace)
    with workspace.transaction() as s:
        report = audit.verify(s, master)
        assert report.keyed and report.seals == 1 and report.unsealed == 0 and report.sealed_seq == report.events
    _write_events(workspace, 3)  # the intake daemon: no key
    with workspace.transaction() as s:
        report = audit.verify(s, master)
    assert (report.unsealed, report.seals) == (3, 1)
    _seal(workspace)
    with workspace.transaction() as s:
        report = audit.verify(s, master)
    assert (report.unsealed, report.seals, report.sealed_seq) == (0, 2, report.events)
    _seal(workspace)  # nothing new: no second seal of the same head
    with workspace.transaction() as s:
        assert audit.verify(s, master).seals == 2


def test_a_rolled_back_transaction_leaves_no_seal(workspace) -> None:
    master = _keyed(workspace)
    _write_events(workspace, 2)
    with pytest.raises(RuntimeError), workspace.transaction() as s:
        keystore.unlock(s, PASSPHRASE.encode())
        raise RuntimeError("the command failed")
    with workspace.transaction() as s:
        assert audit.verify(s, master).unsealed == 2


def test_deleting_an_event_and_recomputing_every_hash_fails_the_keyed_check(workspace) -> None:
    master = _keyed(workspace)
    _write_events(workspace, 5)
    _seal(workspace)
    _write_events(workspace, 2)
    with workspace.transaction() as s:
        sealed_at = audit.verify(s, master).sealed_seq
    victim = 5  # after init's seal, before the last one
    _delete_and_recompute(workspace, victim)
    with workspace.transaction() as s, pytest.raises(AuditChainBroken, match=f"event {sealed_at} is not the event that was sealed"):
        audit.verify(s, master)
    # a careful attacker also moves the seal rows onto the new chain: only the key shows it
    with workspace.transaction() as s:
        hashes = dict(s.execute(select(AuditEvent.seq, AuditEvent.hash)).all())
        seals = list(s.scalars(select(AuditSeal).where(AuditSeal.seq > victim).order_by(AuditSeal.seq)))
        s.execute(delete(AuditSeal).where(AuditSeal.seq > victim))
        s.flush()
        for row in seals:
            s.add(AuditSeal(seq=row.seq - 1, hash=hashes[row.seq - 1], mac=row.mac, at=row.at))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(sealed_seq=seals[-1].seq - 1))
    with workspace.transaction() as s:
        assert audit.verify(s).keyed is False  # the structure alone looks fine
        with pytest.raises(AuditChainBroken, match="seal at event .* does not match"):
            audit.verify(s, master)
        with pytest.raises(AuditChainBroken):
            audit.require_intact(s, master)


def test_removing_seal_rows_is_detected(workspace) -> None:
    master = _keyed(workspace)
    for _ in range(3):
        _write_events(workspace, 2)
        _seal(workspace)
    with workspace.transaction() as s:
        seqs = list(s.scalars(select(AuditSeal.seq).order_by(AuditSeal.seq)))
    assert len(seqs) == 4
    # the last seal: the head row still names it
    with workspace.transaction() as s:
        s.execute(delete(AuditSeal).where(AuditSeal.seq == seqs[-1]))
    with workspace.transaction() as s, pytest.raises(AuditChainBroken, match="sealed up to event"):
        audit.verify(s, master)


def test_removing_a_middle_seal_breaks_the_next_one(workspace) -> None:
    master = _keyed(workspace)
    for _ in range(3):
        _write_events(workspace, 2)
        _seal(workspace)
    with workspace.transaction() as s:
        seqs = list(s.scalars(select(AuditSeal.seq).order_by(AuditSeal.seq)))
        s.execute(delete(AuditSeal).where(AuditSeal.seq == seqs[1]))
    with workspace.transaction() as s, pytest.raises(AuditChainBroken, match=f"seal at event {seqs[2]} does not match"):
        audit.verify(s, master)


def test_removing_every_seal_and_the_head_s_record_of_them_is_detected(workspace) -> None:
    master = _keyed(workspace)
    _write_events(workspace, 2)
    _seal(workspace)
    with workspace.transaction() as s:
        s.execute(delete(AuditSeal))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(sealed_seq=None, sealed_mac=None))
    with workspace.transaction() as s:
        assert audit.verify(s).seals == 0
        with pytest.raises(AuditChainBroken, match="no seal at all"):
            audit.verify(s, master)


def test_a_forged_seal_is_refused(workspace) -> None:
    master = _keyed(workspace)
    _write_events(workspace, 2)
    with workspace.transaction() as s:  # sealed with a key that is not the archive's
        audit.seal(s, b"\x01" * 32)
    with workspace.transaction() as s, pytest.raises(AuditChainBroken, match="does not match"):
        audit.verify(s, master)


def test_require_intact_needs_the_key(workspace) -> None:
    master = _keyed(workspace)
    with workspace.transaction() as s:
        assert audit.require_intact(s, master).keyed
        with pytest.raises(TypeError):
            audit.require_intact(s, None)  # type: ignore[arg-type]


def test_sealing_while_others_append_keeps_chain_and_seals_consistent(workspace) -> None:
    master = _keyed(workspace)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(10):
                with workspace.transaction() as s:
                    audit.record(s, name, "test.concurrent", n=i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def sealer() -> None:
        try:
            for _ in range(10):
                with workspace.transaction() as s:
                    audit.seal(s, master)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"intake{i}",)) for i in range(2)] + [threading.Thread(target=sealer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with workspace.transaction() as s:
        audit.seal(s, master)
    with workspace.transaction() as s:
        report = audit.verify(s, master)
    assert report.unsealed == 0 and report.seals >= 2
