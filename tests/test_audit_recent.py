"""The dashboard's audit check may reuse the process's last one for a short time (a page loaded
often, 100,000 events): only while the log's head and seals are as they were, and a log changed
in place shows as broken once the time is up, or at once after any other check found it."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from pipeline import audit
from pipeline.models import AuditEvent
from pps_archive.errors import AuditChainBroken


def _write_events(workspace, n: int = 5) -> None:  # noqa: ANN001
    with workspace.transaction() as s:
        for i in range(n):
            audit.record(s, "alice", "test.event", case_ref=f"PPS-2025-{i:04d}", subject=f"doc:{i}", n=i)


def _tamper(workspace) -> None:  # noqa: ANN001
    with workspace.transaction() as s:  # in place: head and seals untouched
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="mallory"))


def test_a_change_in_place_shows_once_the_time_is_up(workspace) -> None:  # noqa: ANN001
    _write_events(workspace)
    with workspace.reader() as s:
        assert audit.verify_recent(s, max_age=0.5).events == 5
    _tamper(workspace)
    with workspace.reader() as s:
        assert audit.verify_recent(s, max_age=0.5).events == 5  # within the time: the last answer
        with pytest.raises(AuditChainBroken, match="event 3 was changed"):
            audit.verify_recent(s, max_age=0)  # no reuse asked for: checked
    time.sleep(0.6)
    _tamper(workspace)
    with workspace.reader() as s, pytest.raises(AuditChainBroken, match="event 3 was changed"):
        audit.verify_recent(s, max_age=0.5)


def test_any_other_check_or_a_new_event_is_seen_at_once(workspace) -> None:  # noqa: ANN001
    _write_events(workspace)
    with workspace.reader() as s:
        assert audit.verify_recent(s, max_age=60).events == 5
    _write_events(workspace, 1)  # the head moved: checked again
    with workspace.reader() as s:
        assert audit.verify_recent(s, max_age=60).events == 6
    _tamper(workspace)
    with workspace.reader() as s:
        assert audit.verify_recent(s, max_age=60).events == 6
        with pytest.raises(AuditChainBroken):
            audit.verify(s)  # the audit page's check, say
        with pytest.raises(AuditChainBroken, match="event 3 was changed"):
            audit.verify_recent(s, max_age=60)  # and the dashboard says so from then on
