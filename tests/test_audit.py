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
