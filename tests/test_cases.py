"""The case register on both databases: consents, activity, holds — each change audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from sqlalchemy import select

from pipeline import audit, cases
from pipeline.models import AuditEvent
from pps_archive.errors import (
    CaseExists, CaseNotFound, ConsentRequired, HoldNotFound, InvalidCaseRef, InvalidValue, NotAuthorised, OnHold,
)
from tests.auth_helpers import unlocked

D = dt.date(2025, 3, 10)


def test_open_normalises_and_rejects_bad_or_duplicate_refs(session, cfg) -> None:
    case = cases.open_case(session, cfg, " pps-2025-0001 ", today=D, actor="alice")
    assert case.ref == "PPS-2025-0001"
    with pytest.raises(CaseExists):
        cases.open_case(session, cfg, "PPS-2025-0001", today=D, actor="alice")
    with pytest.raises(InvalidCaseRef, match=r"must match PPS-\\d\{4\}-\\d\{4\}"):
        cases.open_case(session, cfg, "Smith family", today=D, actor="alice")
    with pytest.raises(CaseNotFound):
        cases.get_case(session, "PPS-2025-9999")


def test_consent_gates_filing(session, cfg) -> None:
    case = cases.open_case(session, cfg, "PPS-2025-0002", today=D, actor="alice")
    with pytest.raises(ConsentRequired, match="no recorded consent") as caught:
        cases.ensure_can_file(case)
    assert "--store yes" in caught.value.cli_hint  # the CLI's wording, kept apart from the message
    cases.set_store_consent(session, case.ref, True, today=D, actor="alice")
    cases.ensure_can_file(case)  # no error once consent is recorded
    cases.set_store_consent(session, case.ref, False, today=D + dt.timedelta(days=3), actor="bob")
    with pytest.raises(ConsentRequired):
        cases.ensure_can_file(case)
    opened_with = cases.open_case(session, cfg, "PPS-2025-0003", today=D, actor="alice", consent_to_store=True)
    cases.ensure_can_file(opened_with)


def test_anonymous_case_keeps_only_the_reference(session, cfg) -> None:
    case = cases.open_case(session, cfg, "PPS-2025-0004", today=D, actor="alice", anonymous=True)
    [row] = cases.list_cases(session, cfg, D)
    assert row["anonymous"] is True
    assert case.anonymous
    # the register has no column a name could go in
    from pipeline.models import Case

    assert {c.name for c in Case.__table__.columns} == {
        "id", "ref", "anonymous", "opened_on", "last_activity", "store_consent", "store_consent_on", "disposed_on",
        "disposal_run_id", "la_identify", "la_identify_on",
    }


def test_third_party_consents_can_be_granted_changed_and_withdrawn(session, cfg) -> None:
    cases.open_case(session, cfg, "PPS-2025-0005", today=D, actor="alice")
    cases.set_third_party_consent(session, cfg, "PPS-2025-0005", "sen team", True, today=D, actor="alice")
    cases.set_third_party_consent(session, cfg, "PPS-2025-0005", "School", True, today=D, actor="alice")
    cases.set_third_party_consent(session, cfg, "PPS-2025-0005", "SEN  Team", False, today=D, actor="bob")
    [row] = cases.list_cases(session, cfg, D)
    assert row["third_parties"] == {"SEN Team": False, "School": True}
    with pytest.raises(InvalidValue, match="role, not a person"):
        cases.set_third_party_consent(session, cfg, "PPS-2025-0005", "Mrs Example at the school", True, today=D, actor="alice")


def test_touch_moves_archive_due_and_dispose_after(session, cfg) -> None:
    cases.open_case(session, cfg, "PPS-2025-0006", today=dt.date(2024, 8, 31), actor="alice")
    [row] = cases.list_cases(session, cfg, dt.date(2025, 3, 1))
    assert (row["archive_due"], row["dispose_after"], row["status"]) == ("2025-02-28", "2030-08-31", "inactive")
    cases.touch(session, "PPS-2025-0006", dt.date(2025, 3, 1), actor="bob")
    [row] = cases.list_cases(session, cfg, dt.date(2025, 3, 1))
    assert (row["last_activity"], row["archive_due"], row["dispose_after"], row["status"]) == (
        "2025-03-01", "2025-09-01", "2031-03-01", "active"
    )
    # activity recorded late, for an earlier day, never moves the dates back
    cases.touch(session, "PPS-2025-0006", dt.date(2024, 12, 1), actor="bob")
    assert cases.get_case(session, "PPS-2025-0006").last_activity == dt.date(2025, 3, 1)
    [row] = cases.list_cases(session, cfg, dt.date(2031, 3, 1))
    assert row["status"] == "dispose-due"


def test_holds_are_recorded_listed_block_and_release(session, cfg) -> None:
    case = cases.open_case(session, cfg, "PPS-2025-0007", today=D, actor="alice")
    hold = cases.place_hold(session, case.ref, "safeguarding", "concern raised by the school; see safeguarding file", today=D, actor="alice")
    cases.place_hold(session, case.ref, "sar", "subject access request received", today=D, actor="alice")
    [row] = cases.list_cases(session, cfg, D)
    assert [h["reason"] for h in row["holds"]] == ["safeguarding", "sar"]
    with pytest.raises(OnHold, match="safeguarding concern"):
        cases.ensure_not_held(case, "disposal")
    bob = unlocked(session, cfg, "bob")
    cases.release_hold(session, case.ref, hold.id, today=D, auth=bob, consent="--yes")
    with pytest.raises(HoldNotFound):
        cases.release_hold(session, case.ref, hold.id, today=D, auth=bob, consent="--yes")
    [row] = cases.list_cases(session, cfg, D)
    assert [h["reason"] for h in row["holds"]] == ["sar"]
    with pytest.raises(OnHold, match="subject access request"):
        cases.ensure_not_held(case, "shredding")
    with pytest.raises(InvalidValue):
        cases.place_hold(session, case.ref, "whim", "x", today=D, actor="bob")
    with pytest.raises(InvalidValue, match="needs a note"):
        cases.place_hold(session, case.ref, "legal", "  ", today=D, actor="bob")


def test_every_change_is_audited_without_free_text(session, cfg) -> None:
    ref = "PPS-2025-0008"
    cases.open_case(session, cfg, ref, today=D, actor="alice")
    cases.set_store_consent(session, ref, True, today=D, actor="alice")
    cases.set_third_party_consent(session, cfg, ref, "School", True, today=D, actor="alice")
    cases.touch(session, ref, D, actor="bob")
    h = cases.place_hold(session, ref, "complaint", "Complaint by Jane Invented about school", today=D, actor="carol")
    cases.release_hold(session, ref, h.id, today=D, auth=unlocked(session, cfg, "carol"), consent="typed")
    actions = [e.action for e in audit.events_for(session, ref)]
    assert actions == ["case.open", "consent.store", "consent.third_party", "case.touch", "hold.place", "hold.release"]
    release = audit.events_for(session, ref)[-1]
    assert release.actor == "carol" and json.loads(release.details)["unlocked_with"] == "recovery passphrase"
    assert json.loads(release.details)["consent"] == "typed"
    every_text = " ".join(f"{e.actor} {e.subject} {e.details}" for e in session.scalars(select(AuditEvent)))
    assert "Jane" not in every_text and "Invented" not in every_text
    assert audit.verify(session).events == 6 + 3  # and the master key's creation (master, archive and signing keys)


def test_releasing_a_hold_needs_the_unlocked_key_store(session, cfg) -> None:
    from pipeline.authority import Unlocked

    ref = "PPS-2025-0009"
    cases.open_case(session, cfg, ref, today=D, actor="alice")
    h = cases.place_hold(session, ref, "sar", "subject access request received", today=D, actor="alice")
    real = unlocked(session, cfg, "bob")
    with pytest.raises(NotAuthorised):
        cases.release_hold(session, ref, h.id, today=D, auth=None, consent="--yes")
    with pytest.raises(NotAuthorised):  # only unlocking the key store makes one
        Unlocked(actor="mallory", method="master passphrase", archive_id=real.archive_id, master=bytes(32))
    with pytest.raises(NotAuthorised, match="not this archive's master key"):
        cases.release_hold(session, ref, h.id, today=D, auth=dataclasses.replace(real, master=bytes(32)), consent="--yes")
    assert [x.id for x in cases.active_holds(cases.get_case(session, ref))] == [h.id]
    cases.release_hold(session, ref, h.id, today=D, auth=real, consent="--yes")
    assert cases.active_holds(cases.get_case(session, ref)) == []


def test_cli_hold_reasons_match_the_model() -> None:
    from pipeline.cli.cases import HOLD_REASONS as CLI_REASONS
    from pipeline.models import HOLD_REASONS

    assert CLI_REASONS == HOLD_REASONS
