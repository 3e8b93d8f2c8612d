"""Transactions compose (the rule in pipeline/workspace.py's docstring), on both databases.

Before the rule, a ``ws.transaction()`` opened inside another one took a second connection and
waited for the first one's write lock: 30 s on SQLite, for ever on PostgreSQL. Each test runs its
body in a thread with a join timeout, so a regression fails quickly instead of hanging the suite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select

from pipeline import audit
from pipeline.models import Setting
from pps_archive.errors import TransactionNesting

HANG_GUARD_SECONDS = 20


def _run(body: Callable[[], None]) -> None:
    """Run ``body`` in a thread; fail (rather than hang) if it does not return in time."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            body()
            outcome.append(None)
        except BaseException as exc:  # re-raised in the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_SECONDS)
    assert not thread.is_alive(), "the nested transaction waited on the outer one's lock (deadlock)"
    if outcome[0] is not None:
        raise outcome[0]


@pytest.fixture
def ws(workspace):
    if workspace.engine.dialect.name == "sqlite":
        # the 30 s busy timeout would make a regression slow; 2 s shows it just as well
        from sqlalchemy import event

        event.listen(workspace.engine, "connect", lambda conn, _rec: conn.execute("PRAGMA busy_timeout=2000"))
    return workspace


def _keys(ws) -> set[str]:
    with ws.reader() as s:
        return set(s.scalars(select(Setting.key).where(Setting.key.like("t-%"))))


class Boom(Exception):
    pass


def test_nested_transaction_commits_with_the_outer_one(ws) -> None:
    def body() -> None:
        with ws.transaction() as outer:
            outer.add(Setting(key="t-outer", value="1"))
            outer.flush()
            with ws.transaction() as inner:
                assert inner is outer
                inner.add(Setting(key="t-inner", value="2"))
            assert _keys(ws) == {"t-outer", "t-inner"}  # a reader inside sees the uncommitted rows

    _run(body)
    assert _keys(ws) == {"t-outer", "t-inner"}


def test_nested_transaction_is_rolled_back_with_the_outer_one(ws) -> None:
    def body() -> None:
        with pytest.raises(Boom), ws.transaction() as outer:
            outer.add(Setting(key="t-outer", value="1"))
            with ws.transaction() as inner:
                inner.add(Setting(key="t-inner", value="2"))
            raise Boom

    _run(body)
    assert _keys(ws) == set()


def test_inner_error_rolls_back_to_the_savepoint_and_the_outer_goes_on(ws) -> None:
    def body() -> None:
        with ws.transaction() as outer:
            outer.add(Setting(key="t-before", value="1"))
            audit.record(outer, "tester", "t.before")
            with pytest.raises(Boom), ws.transaction() as inner:
                inner.add(Setting(key="t-inner", value="2"))
                audit.record(inner, "tester", "t.inner")
                inner.flush()
                raise Boom
            outer.add(Setting(key="t-after", value="3"))
            audit.record(outer, "tester", "t.after")

    _run(body)
    assert _keys(ws) == {"t-before", "t-after"}
    with ws.reader() as s:
        report = audit.verify(s)  # the rolled-back event left no gap and no fork in the chain
        actions = list(s.scalars(select(audit.AuditEvent.action).where(audit.AuditEvent.action.like("t.%"))
                                 .order_by(audit.AuditEvent.seq)))
    assert actions == ["t.before", "t.after"]
    assert report.events >= 2


def test_three_levels_deep(ws) -> None:
    def body() -> None:
        with ws.transaction() as a:
            a.add(Setting(key="t-a", value="1"))
            a.flush()
            with ws.transaction() as b:
                b.add(Setting(key="t-b", value="1"))
                with pytest.raises(Boom), ws.transaction() as c:
                    c.add(Setting(key="t-c", value="1"))
                    c.flush()
                    raise Boom

    _run(body)
    assert _keys(ws) == {"t-a", "t-b"}


@pytest.mark.parametrize("outer_fails", [False, True])
def test_library_function_with_its_own_transaction_inside_a_callers(ws, tmp_path, outer_fails) -> None:
    """A front-end's transaction around a library call that opens its own (``spool.take_in``): it
    returns at once and its rows commit, or roll back, with the caller's."""
    import datetime as dt

    from pipeline import spool
    from pipeline.models import Input

    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "scan.pdf").write_bytes(b"%PDF-1.4 nested transaction test")

    def body() -> None:
        with pytest.raises(Boom) if outer_fails else _nothing(), ws.transaction() as s:
            s.add(Setting(key="t-caller", value="1"))
            audit.record(s, "tester", "t.caller")  # the caller holds the write lock (and the audit head's row lock)
            spool.take_in(ws, [drop / "scan.pdf"], ["scan.pdf"], "office", now=dt.datetime.now(dt.UTC), keep_originals=True)
            if outer_fails:
                raise Boom

    _run(body)
    with ws.reader() as s:
        inputs = s.scalars(select(Input)).all()
    assert _keys(ws) == (set() if outer_fails else {"t-caller"})
    assert len(inputs) == (0 if outer_fails else 1)


def _nothing():
    import contextlib

    return contextlib.nullcontext()


def test_transaction_inside_a_reader_is_refused_at_once(ws) -> None:
    def body() -> None:
        with ws.reader(), pytest.raises(TransactionNesting), ws.transaction():
            pass

    _run(body)


def test_reader_inside_reader_shares_the_session(ws) -> None:
    def body() -> None:
        with ws.reader() as outer, ws.reader() as inner:
            assert inner is outer

    _run(body)


def test_other_threads_are_not_joined(ws) -> None:
    """The open transaction belongs to its thread: another thread gets its own session (and, being a
    second writer, waits for the first to commit as it always did)."""
    seen: list[object] = []

    def other() -> None:
        with ws.reader() as s:
            seen.append(s)
            seen.append(set(s.scalars(select(Setting.key).where(Setting.key.like("t-%")))))

    def body() -> None:
        with ws.transaction() as outer:
            outer.add(Setting(key="t-uncommitted", value="1"))
            outer.flush()
            t = threading.Thread(target=other)
            t.start()
            t.join(HANG_GUARD_SECONDS)
            assert seen[0] is not outer
            assert seen[1] == set()  # not the other thread's uncommitted row

    _run(body)


def test_two_workspaces_are_independent(ws, tmp_path) -> None:
    """Joining is per workspace object: a second workspace on another database is not joined."""
    from pipeline.workspace import Workspace

    other = Workspace.load(tmp_path / "data")
    try:
        def body() -> None:
            with ws.transaction() as a, other.reader() as b:
                assert a is not b

        _run(body)
    finally:
        other.close()
