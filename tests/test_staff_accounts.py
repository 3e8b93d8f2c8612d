"""Staff accounts: key slots, roles enforced in the library, logins rate-limited (issue 10)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, text

from pps_archive.errors import (
    AccountLocked,
    ActorMismatch,
    IntegrityError,
    LoginFailed,
    ManagerRequired,
    PasswordChangeRequired,
)
from tests.conftest import PASSPHRASE

from tests.auth_helpers import PASSWORDS, ROLES, add_staff

CASE = "PPS-2024-0311"


@pytest.fixture
def office(workspace):  # noqa: ANN001, ANN201
    """A keyed archive with two staff and two manager accounts, added with the recovery passphrase."""
    return add_staff(workspace)


def _login(ws, name: str, password: str | None = None, now: dt.datetime | None = None):  # noqa: ANN001, ANN202
    from pipeline import staff

    return staff.login(ws, name, (password or PASSWORDS[name]).encode(), now=now)


def _slots(ws) -> dict[str, bytes]:  # noqa: ANN001
    from pipeline.models import KeySlot, StaffAccount

    with ws.reader() as s:
        rows = s.execute(select(StaffAccount.name, KeySlot.record).join(KeySlot, KeySlot.account_id == StaffAccount.id))
        return {name: bytes(record) for name, record in rows}


def _events(ws, action: str) -> list:  # noqa: ANN001
    from pipeline.models import AuditEvent

    with ws.reader() as s:
        return [(e.actor, e.subject, json.loads(e.details)) for e in
                s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))]


def test_two_accounts_of_each_role_each_open_the_master_key(office) -> None:  # noqa: ANN001
    from pipeline import authority, staff

    recovery = authority.recover(office, PASSPHRASE.encode())
    for name, role in ROLES.items():
        auth = _login(office, name)
        assert (auth.actor, auth.role, auth.method, auth.is_manager) == (name, role, "staff password", role == "manager")
        assert auth.master == recovery.master and auth.archive_id == recovery.archive_id
        assert "master" not in repr(auth) or auth.master.hex() not in repr(auth)
    with office.reader() as s:
        rows = staff.list_accounts(s)
    assert [(r["name"], r["role"], r["status"]) for r in rows] == [(n, r, "active") for n, r in sorted(ROLES.items())]
    assert [a for a, *_ in _events(office, "auth.login")][-4:] == list(ROLES)
    # the slots are four different records (own salt, own nonce), none of them the recovery record
    assert len(set(_slots(office).values())) == 4


def test_the_recovery_passphrase_still_opens_the_archive_as_a_manager(office) -> None:  # noqa: ANN001
    from pipeline import authority

    auth = authority.recover(office, PASSPHRASE.encode())
    assert (auth.actor, auth.role, auth.method) == ("recovery", "manager", "recovery passphrase")
    with office.transaction() as s:
        assert authority.require(s, auth, "a manager's action", role="manager") == {
            "unlocked_with": "recovery passphrase", "actor_role": "manager"}


def test_a_disabled_account_cannot_unlock_and_its_slot_is_gone(office) -> None:  # noqa: ANN001
    from pipeline import staff

    carol = _login(office, "carol")
    bob_before = _login(office, "bob")
    r = staff.disable(office, carol, "bob")
    assert r["managers_left"] == ["carol", "dave"]
    assert "bob" not in _slots(office)
    with pytest.raises(LoginFailed):
        _login(office, "bob")
    with office.reader() as s:
        assert {x["name"]: x["status"] for x in staff.list_accounts(s)}["bob"] == "disabled"
    # a keyring opened before the account was disabled is refused by the library from then on
    from pipeline import authority
    from pps_archive.errors import NotAuthorised

    with office.transaction() as s, pytest.raises(NotAuthorised, match="disabled"):
        authority.require(s, bob_before, "confirming paper shredded")


def test_a_staff_account_is_refused_manager_actions_in_the_library(office) -> None:  # noqa: ANN001
    from pipeline import authority, cases, disposal_plans, keystore, media, staff

    alice = _login(office, "alice")
    carol = _login(office, "carol")
    today = dt.date.today()
    with office.transaction() as s:
        cases.open_case(s, office.config, CASE, today=today, auth=alice, consent_to_store=True)
        hold = cases.place_hold(s, CASE, "sar", "request", today=today, auth=alice)
        hold_id = hold.id
    refused = [
        lambda s: cases.release_hold(s, CASE, hold_id, today=today, auth=alice, consent="--yes"),
        lambda s: keystore.export_backup(s, today=today, valid_days=30, auth=alice, consent="--yes"),
        lambda s: keystore.export_case_key(s, alice, CASE, consent="--yes"),
        lambda s: media.destroy(s, office.config, "PPS-0001", auth=alice, today=today, consent="--yes"),
    ]
    for call in refused:
        with office.transaction() as s, pytest.raises(ManagerRequired, match="needs a manager: alice is logged in as staff"):
            call(s)
    for step in (lambda: disposal_plans.approve(office, 1, "0" * 64, auth=alice, consent="--yes"),
                 lambda: disposal_plans.execute(office, 1, [], auth=alice, consent="--yes")):
        with pytest.raises(ManagerRequired):  # approving and executing a disposal: managers only
            step()
    with pytest.raises(ManagerRequired):
        staff.add(office, alice, "erin", "staff", b"another long password 77")
    with pytest.raises(ManagerRequired):
        staff.disable(office, alice, "bob")
    with pytest.raises(ManagerRequired):
        staff.reset(office, alice, "bob", b"a one time password 4412")
    with pytest.raises(ManagerRequired):
        staff.change_password(office, alice, b"a brand new password 9931", name="bob")
    # what staff may do, they may; and a manager may do the rest
    with office.transaction() as s:
        assert authority.require(s, alice, "confirming paper shredded")["actor_role"] == "staff"
    with office.transaction() as s:
        h = cases.release_hold(s, CASE, hold_id, today=today, auth=carol, consent="--yes")
        assert h.released_by == "carol"
    [(actor, _subject, details)] = [e for e in _events(office, "hold.release")]
    assert (actor, details["unlocked_with"], details["actor_role"]) == ("carol", "staff password", "manager")



def test_staff_change_the_register_as_themselves_and_only_a_manager_lifts_the_hold(office) -> None:  # noqa: ANN001
    """The register's changes that need no key (consents, activity, holds, where a disc is kept)
    take the login's keyring in the library: a staff account may make them, recorded under its own
    name and role; lifting the hold it placed needs a manager; a disabled account's keyring is refused."""
    from pipeline import cases, staff
    from pps_archive.errors import NotAuthorised

    alice, bob, carol = _login(office, "alice"), _login(office, "bob"), _login(office, "carol")
    today = dt.date.today()
    with office.transaction() as s:
        cases.open_case(s, office.config, CASE, today=today, auth=alice)
        cases.set_store_consent(s, CASE, True, today=today, auth=alice)
        cases.set_third_party_consent(s, office.config, CASE, "School", True, today=today, auth=alice)
        cases.touch(s, CASE, today, auth=alice)
        hold_id = cases.place_hold(s, CASE, "safeguarding", "concern raised", today=today, auth=alice).id
    for action in ("case.open", "consent.store", "consent.third_party", "case.touch", "hold.place"):
        [(actor, _subject, details)] = _events(office, action)
        assert (actor, details["unlocked_with"], details["actor_role"]) == ("alice", "staff password", "staff"), action
    with office.transaction() as s, pytest.raises(ManagerRequired, match="alice is logged in as staff"):
        cases.release_hold(s, CASE, hold_id, today=today, auth=alice, consent="--yes")
    with office.reader() as s:
        assert [h.id for h in cases.active_holds(cases.get_case(s, CASE))] == [hold_id]
    from pipeline import media
    from pps_archive.errors import DiscNotFound

    with office.transaction() as s, pytest.raises(NotAuthorised):  # where a disc is kept: a login too
        media.store(s, "PPS-0001", "locked cupboard", auth=None)
    with office.transaction() as s, pytest.raises(DiscNotFound):  # a staff login gets as far as the register
        media.store(s, "PPS-0001", "locked cupboard", auth=alice)
    staff.disable(office, carol, "bob")
    with office.transaction() as s, pytest.raises(NotAuthorised, match="disabled"):
        cases.touch(s, CASE, today, auth=bob)
    with office.transaction() as s:
        cases.release_hold(s, CASE, hold_id, today=today, auth=carol, consent="--yes")
    assert [a for a, *_ in _events(office, "hold.release")] == ["carol"]


def test_a_password_change_rewraps_only_its_own_slot(office) -> None:  # noqa: ANN001
    from pipeline import staff
    from pipeline.models import WrappedKey

    with office.reader() as s:
        keys_before = {(k.purpose, k.case_ref): bytes(k.record) for k in s.scalars(select(WrappedKey))}
    before = _slots(office)
    new = "saffron tugboat equinox 61"
    r = staff.change_password(office, _login(office, "alice"), new.encode())
    assert (r["name"], r["slot_version"], r["must_change"]) == ("alice", 2, False)
    after = _slots(office)
    assert after["alice"] != before["alice"]
    assert {n: b for n, b in after.items() if n != "alice"} == {n: b for n, b in before.items() if n != "alice"}
    with office.reader() as s:
        assert {(k.purpose, k.case_ref): bytes(k.record) for k in s.scalars(select(WrappedKey))} == keys_before
    with pytest.raises(LoginFailed):
        _login(office, "alice", now=_later(10))
    assert _login(office, "alice", new, now=_later(20)).actor == "alice"


def _later(seconds: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) + dt.timedelta(seconds=seconds)


def test_a_one_time_password_opens_only_the_password_change(office) -> None:  # noqa: ANN001
    from pipeline import authority, staff

    staff.reset(office, _login(office, "carol"), "alice", b"one time only 83 quokka")
    alice = _login(office, "alice", "one time only 83 quokka")
    assert alice.must_change
    with office.transaction() as s, pytest.raises(PasswordChangeRequired):
        authority.require(s, alice, "confirming paper shredded")
    staff.change_password(office, alice, b"my very own password 2026")
    assert not _login(office, "alice", "my very own password 2026").must_change
    assert [(a, subj) for a, subj, _ in _events(office, "staff.reset")] == [("carol", "staff:alice")]


def test_backoff_then_a_lock_after_failed_logins_each_one_audited(office) -> None:  # noqa: ANN001
    from pipeline import staff

    limits = staff.login_limits(office.config)
    assert (limits.max_failures, limits.backoff(1), limits.backoff(30)) == (8, dt.timedelta(seconds=1), dt.timedelta(minutes=5))
    start = _later(0)
    with pytest.raises(LoginFailed):
        _login(office, "bob", "not bob's password at all", now=start)
    with pytest.raises(AccountLocked, match="try again after"):  # even the right password waits
        _login(office, "bob", now=start)
    assert _login(office, "bob", now=start + limits.backoff(1)).actor == "bob"  # and the count starts again
    t = start + dt.timedelta(seconds=5)
    for _ in range(limits.max_failures):
        t += limits.backoff(limits.max_failures) + dt.timedelta(seconds=1)
        with pytest.raises((LoginFailed, AccountLocked)):
            _login(office, "bob", "wrong guess number one", now=t)
    with pytest.raises(AccountLocked, match="is locked after"):
        _login(office, "bob", now=t + dt.timedelta(days=1))
    failed = _events(office, "auth.login_failed")
    assert [d["reason"] for _a, _s, d in failed].count("wrong password") == limits.max_failures + 1
    assert failed[-1][2] == {"reason": "locked"}
    assert all("wrong guess" not in json.dumps(d) and "bob's password" not in json.dumps(d) for _a, _s, d in failed)
    staff.unlock_account(office, _login(office, "dave"), "bob")
    assert _login(office, "bob", now=t + dt.timedelta(days=1)).actor == "bob"



def test_login_limits_come_from_the_configuration(database_url: str, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """An office that configures a lower limit and a longer wait gets them: locked after the third
    failure, and the waits are its own."""
    from pipeline import authority, keystore, staff
    from pipeline.workspace import Workspace

    monkeypatch.setenv("PPS_ARCHIVE__STAFF__MAX_FAILED_LOGINS", "3")
    monkeypatch.setenv("PPS_ARCHIVE__STAFF__BACKOFF_SECONDS", "10")
    monkeypatch.setenv("PPS_ARCHIVE__STAFF__BACKOFF_MAX_SECONDS", "25")
    ws = Workspace.load(tmp_path / "data")
    ws.create_dirs()
    try:
        with ws.transaction() as s:
            keystore.ensure_master_key(s, ws.config, PASSPHRASE.encode(), keystore.ensure_archive_id(s), actor="init")
        staff.add(ws, authority.recover(ws, PASSPHRASE.encode()), "bob", "staff", PASSWORDS["bob"].encode())
        limits = staff.login_limits(ws.config)
        assert [limits.backoff(n).total_seconds() for n in (1, 2, 3, 9)] == [10, 20, 25, 25]
        t = _later(0)
        with pytest.raises(LoginFailed, match="after 3 in a row"):
            _login(ws, "bob", "the wrong one, number 1", now=t)
        with pytest.raises(AccountLocked, match="try again after"):  # 10 s, not the default 1 s
            _login(ws, "bob", now=t + dt.timedelta(seconds=9))
        for n in (2, 3):
            t += dt.timedelta(seconds=30)
            with pytest.raises(LoginFailed):
                _login(ws, "bob", f"the wrong one, number {n}", now=t)
        with pytest.raises(AccountLocked, match="is locked after 3 failed logins"):
            _login(ws, "bob", now=t + dt.timedelta(days=1))
    finally:
        ws.close()


def test_the_recovery_passphrase_backs_off_after_failures_but_never_locks(office) -> None:  # noqa: ANN001
    """Failed recovery attempts are audit events and make the next attempt wait, doubling; the
    right passphrase after the wait still opens the archive (no lock), and the count starts again."""
    from pipeline import authority, keystore
    from pps_archive.errors import RecoveryBackoff, WrongPassphrase

    t = _later(0)
    with pytest.raises(WrongPassphrase):
        authority.recover(office, b"not the recovery passphrase", now=t)
    with pytest.raises(RecoveryBackoff, match="1 failed attempt"):  # even the right one waits
        authority.recover(office, PASSPHRASE.encode(), now=t)
    for n in range(2, 30):  # far more failures than lock an account
        t += dt.timedelta(minutes=10)
        with pytest.raises(WrongPassphrase):
            authority.recover(office, f"guess number {n}".encode(), now=t)
    with office.reader() as s:
        failures, next_at = authority.recovery_failures(s)
    assert failures == 29 and next_at == t + dt.timedelta(minutes=5)  # the ceiling, never longer
    with office.transaction() as s, pytest.raises(RecoveryBackoff):  # the in-transaction check too (t is ahead)
        keystore.unlock(s, PASSPHRASE.encode())
    with pytest.raises(RecoveryBackoff, match="29 failed attempt"):
        authority.recover(office, PASSPHRASE.encode(), now=t + dt.timedelta(minutes=4))
    auth = authority.recover(office, PASSPHRASE.encode(), now=t + dt.timedelta(minutes=5))
    assert (auth.actor, auth.role) == ("recovery", "manager")
    with office.reader() as s:
        assert authority.recovery_failures(s)[0] == 0
    failed = [d for a, _s, d in _events(office, "auth.login_failed") if a == "recovery"]
    assert [d["reason"] for d in failed].count("wrong passphrase") == 29
    assert [d["reason"] for d in failed].count("too soon") == 2
    assert all("guess" not in json.dumps(d) for d in failed)


def test_an_unknown_name_is_a_failure_but_is_not_written_down(office) -> None:  # noqa: ANN001
    with pytest.raises(LoginFailed):
        _login(office, "zelda", "whatever it may be 1234")
    [(actor, subject, details)] = _events(office, "auth.login_failed")
    assert (actor, subject, details) == ("(unknown account)", None, {"reason": "no enabled account"})


def test_a_slot_whose_role_was_edited_in_the_database_does_not_open(office) -> None:  # noqa: ANN001
    with office.transaction() as s:  # promote alice by editing the account row
        s.execute(text("UPDATE staff_accounts SET role = 'manager' WHERE name = 'alice'"))
    with pytest.raises(IntegrityError, match="another account, role or slot version"):
        _login(office, "alice")
    with office.transaction() as s:  # and by editing the role inside the slot record as well
        rec = json.loads(bytes(s.execute(text("SELECT record FROM key_slots k JOIN staff_accounts a ON a.id = k.account_id "
                                              "WHERE a.name = 'alice'")).scalar_one()))
        rec["slot"]["role"] = "manager"
        new = json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()
        s.execute(text("UPDATE key_slots SET record = :r WHERE account_id = (SELECT id FROM staff_accounts WHERE name = 'alice')"),
                  {"r": new})
    with pytest.raises(LoginFailed):
        _login(office, "alice")


def test_a_slot_copied_to_another_account_does_not_open(office) -> None:  # noqa: ANN001
    with office.transaction() as s:  # carol's slot, with carol's password, put under bob's name
        s.execute(text("UPDATE key_slots SET record = (SELECT k.record FROM key_slots k JOIN staff_accounts a "
                       "ON a.id = k.account_id WHERE a.name = 'carol') "
                       "WHERE account_id = (SELECT id FROM staff_accounts WHERE name = 'bob')"))
    with pytest.raises(IntegrityError):
        _login(office, "bob", PASSWORDS["carol"])


def test_by_must_be_the_account_that_logged_in(office) -> None:  # noqa: ANN001
    from pipeline import authority

    alice = _login(office, "alice")
    assert authority.check_actor(alice, "alice") is alice
    with pytest.raises(ActorMismatch, match="'bob' was given"):
        authority.check_actor(alice, "bob")
    recovery = authority.recover(office, PASSPHRASE.encode())  # no one's own: the name is recorded beside it
    with office.transaction() as s:
        assert authority.require(s, authority.check_actor(recovery, "carol"), "x")["claimed_by"] == "carol"


def test_the_kdf_runs_outside_any_transaction(office, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from archive_media._kdf import KdfParams
    from pipeline import authority, workspace

    seen = []
    real = KdfParams.derive

    def spy(self, passphrase: bytes) -> bytes:  # noqa: ANN001
        seen.append(dict(workspace._OPEN.get({})))  # noqa: SLF001 - the workspace's record of open sessions
        return real(self, passphrase)

    monkeypatch.setattr(KdfParams, "derive", spy)
    _login(office, "alice")
    authority.recover(office, PASSPHRASE.encode())
    assert len(seen) == 2 and seen == [{}, {}]


@pytest.mark.parametrize("name", ["", "Alice Smith", "recovery", "intake", "1abc", "a" * 65, "al/ice"])
def test_staff_names_are_validated_in_the_library(name: str) -> None:
    from pipeline import staff
    from pps_archive.errors import InvalidValue

    with pytest.raises(InvalidValue):
        staff.validate_name(name)


def test_changing_the_recovery_passphrase_logs_in_with_it_and_records_it_as_such(office) -> None:  # noqa: ANN001
    """The recovery passphrase's own change is a recovery login (a wrong one counts towards its
    backoff); the change is recorded as by ``recovery``, the name given beside it."""
    from pipeline import authority, keystore
    from pps_archive.errors import WrongPassphrase

    new = b"copper lighthouse walrus 7 saffron"
    with pytest.raises(WrongPassphrase):
        keystore.change_recovery_passphrase(office, b"not the old passphrase", new, claimed_by="carol")
    with office.reader() as s:
        assert authority.recovery_failures(s)[0] == 1
    with office.transaction() as s:  # the wait is over (as a day later)
        authority._set_recovery_failures(s, 1, _later(-1))  # noqa: SLF001 - time passes
    keystore.change_recovery_passphrase(office, PASSPHRASE.encode(), new, claimed_by="carol")
    [(actor, _subject, details)] = _events(office, "keys.passphrase_changed")
    assert (actor, details) == ("recovery", {"unlocked_with": "recovery passphrase", "claimed_by": "carol"})
    assert authority.recover(office, new).actor == "recovery"
    with pytest.raises(WrongPassphrase):
        authority.recover(office, PASSPHRASE.encode())
