"""Reading the audit log: ``audit.read_log`` (library) and ``pps-archive audit log`` (CLI), on both
databases."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline import audit, cases
from tests.auth_helpers import unlocked
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE

CASE_A, CASE_B = "PPS-2025-0101", "PPS-2025-0102"
NOTE = "Invented family moved to Anytown; social worker Ms Example involved"
KEYS = ["seq", "at", "actor", "action", "case_ref", "subject", "details"]


def _history(ws) -> None:
    today = dt.date.today()
    with ws.transaction() as s:
        cases.open_case(s, ws.config, CASE_A, today=today, auth=unlocked(s, ws.config, "alice"), consent_to_store=True,
                        make_key=False)
        cases.open_case(s, ws.config, CASE_B, today=today, auth=unlocked(s, ws.config, "bob"), make_key=False)
        cases.place_hold(s, CASE_A, "safeguarding", NOTE, today=today, auth=unlocked(s, ws.config, "alice"))
        audit.record(s, "carol", "test.other", subject="disc:1", n=3)


def test_read_log_returns_plain_dicts_oldest_first(workspace) -> None:
    _history(workspace)
    with workspace.reader() as s:
        events = audit.read_log(s)
    assert [list(e) for e in events] == [KEYS] * len(events)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    mine = [e for e in events if e["actor"] in ("alice", "bob", "carol")]
    assert [(e["actor"], e["action"], e["case_ref"]) for e in mine] == [
        ("alice", "case.open", CASE_A), ("bob", "case.open", CASE_B), ("alice", "hold.place", CASE_A),
        ("carol", "test.other", None),
    ]
    other = mine[-1]
    assert other["subject"] == "disc:1" and other["details"] == {"n": 3}
    assert dt.datetime.fromisoformat(other["at"]).tzinfo is not None
    json.dumps(events)  # plain values only


def test_read_log_by_case_and_since(workspace) -> None:
    _history(workspace)
    today = dt.date.today()
    with workspace.reader() as s:
        of_a = audit.read_log(s, case_ref=CASE_A.lower())
        assert {e["case_ref"] for e in of_a} == {CASE_A} and len(of_a) >= 2
        assert audit.read_log(s, since=today + dt.timedelta(days=1)) == []
        everything = audit.read_log(s)
        assert audit.read_log(s, since=today - dt.timedelta(days=1)) == everything
        assert audit.read_log(s, since=today) == everything
        last = everything[-1]
        moment = dt.datetime.fromisoformat(last["at"])
        assert audit.read_log(s, since=moment) == [last]
        assert audit.read_log(s, since=moment + dt.timedelta(microseconds=1)) == []
        assert audit.read_log(s, case_ref="PPS-1999-0001") == []


def test_the_hold_note_is_not_in_the_log(workspace) -> None:
    _history(workspace)
    with workspace.reader() as s:
        text = json.dumps(audit.read_log(s))
    assert "Anytown" not in text and "Example" not in text


@pytest.fixture
def home(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", CASE_A, "--consent-to-store", "--by", "alice")
    run("case", "open", CASE_B, "--by", "bob")
    run("case", "hold", CASE_A, "--reason", "safeguarding", "--note", NOTE, "--by", "alice")
    return home


def test_cli_audit_log_json(home: Path) -> None:
    events = run("audit", "log", "--json").json()
    assert all(list(e) == KEYS for e in events)
    # the recovery passphrase is no one's own: the --by name is recorded beside it, as a claim
    assert ("recovery", "hold.place", CASE_A, "alice") in [(e["actor"], e["action"], e["case_ref"], e["details"].get("claimed_by"))
                                                           for e in events]
    assert any(e["action"] == "keys.master_created" for e in events)
    assert "Anytown" not in json.dumps(events)


def test_cli_audit_log_filters(home: Path) -> None:
    of_b = run("audit", "log", "--case", CASE_B, "--json").json()
    assert [(e["actor"], e["action"], e["details"].get("claimed_by")) for e in of_b] == [
        ("recovery", "keys.case_created", None), ("recovery", "case.open", "bob")]
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert run("audit", "log", "--since", tomorrow, "--json").json() == []
    assert run("audit", "log", "--since", dt.date.today().isoformat(), "--json").json() == run("audit", "log", "--json").json()
    bad = run("audit", "log", "--since", "last week", expect=2)
    assert "YYYY-MM-DD" in bad.err


def test_cli_audit_log_table(home: Path) -> None:
    r = run("audit", "log", "--case", CASE_A)
    header, *rows = r.out.splitlines()
    assert header.split() == [k.upper() for k in KEYS]
    assert any("hold.place" in row and "claimed_by=alice" in row and "reason=safeguarding" in row for row in rows)
    assert "Anytown" not in r.out
    assert run("audit", "log", "--case", "PPS-1999-0001").out.strip() == "(no events)"
