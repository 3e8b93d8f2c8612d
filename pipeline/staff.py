"""Staff accounts: each account's password opens its own key slot (a copy of the master key).

A key slot is the master key wrapped under a key derived from the account's password (scrypt, the
same KDF and bounds as the recovery passphrase's record: ``archive_media._kdf``), with the archive,
the account, its role and the slot's version in the AEAD associated data (docs/formats.md): a slot
copied to another account, or whose role is edited in the database, does not open. Logging in is
unwrapping the slot (:func:`login`); disabling an account overwrites and then deletes its slot.
The ``init`` passphrase stays as the recovery slot (``pipeline.authority.recover``).

Every function here opens its own transactions and runs the KDF outside them, so it must not be
called inside a transaction of the caller (nesting works, but the KDF would then hold it open).
Managing accounts needs a manager's keyring (:func:`pipeline.authority.require` with
``role="manager"``); changing one's own password needs one's own keyring.

Logins are rate-limited per account (:func:`login_limits`, the ``[staff]`` configuration): after
each failure in a row the next attempt waits twice as long (``staff.backoff_seconds``, up to
``staff.backoff_max_seconds``), and after ``staff.max_failed_logins`` the account is locked until
a manager unlocks or resets it. Every failure is an audit event (``auth.login_failed``: the account
and the count, never the password). The recovery passphrase backs off the same way but is never
locked (``pipeline.authority.recover``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit, authority
from pipeline.models import STAFF_ROLES, KeySlot, StaffAccount
from pps_archive.errors import AccountLocked, AccountNotFound, InvalidValue, LoginFailed, WrongPassphrase

if TYPE_CHECKING:
    from pipeline.authority import Unlocked
    from pipeline.config import Config
    from pipeline.workspace import Workspace

#: names the audit log already uses for programs and the recovery passphrase
RESERVED_NAMES = frozenset({authority.RECOVERY_ACTOR, "init", "intake", "daemon", "system"})
_NAME = re.compile(r"[a-z][a-z0-9._-]{0,63}")


def validate_name(name: str) -> str:
    """A staff account name: 1-64 characters, lower-case letters, digits, '.', '_' or '-',
    starting with a letter (a login, not a person's full name: it goes into the audit log)."""
    value = name.strip() if isinstance(name, str) else ""
    if not _NAME.fullmatch(value):
        raise InvalidValue(f"{name!r} is not a staff account name: use 1-64 lower-case letters, digits, '.', '_' or '-', "
                           "starting with a letter (for example a first name or initials)")
    if value in RESERVED_NAMES:
        raise InvalidValue(f"{value!r} is reserved for the audit log's own use: choose another staff account name")
    return value


def validate_role(role: str) -> str:
    if role not in STAFF_ROLES:
        raise InvalidValue(f"{role!r} is not a role: choose one of {', '.join(STAFF_ROLES)}")
    return role


def check_password(ws: Workspace, name: str, password: bytes) -> None:
    """The strength check every new password passes (``pipeline.passphrase.check_strength``)."""
    from pipeline.passphrase import check_strength

    context = [ws.config.section("service")["name"], name, "pps", "archive", "pps-archive", "password"]
    check_strength(password, context=context, what=f"the new password of {name}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _account(s: Session, name: str, *, for_update: bool = False) -> StaffAccount | None:
    stmt = select(StaffAccount).where(StaffAccount.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    return s.scalars(stmt).one_or_none()


def _slot(s: Session, acct: StaffAccount, *, for_update: bool = False) -> KeySlot | None:
    stmt = select(KeySlot).where(KeySlot.account_id == acct.id)
    if for_update:
        stmt = stmt.with_for_update()
    return s.scalars(stmt).one_or_none()


def _enabled(s: Session, name: str, *, for_update: bool = False) -> tuple[StaffAccount, KeySlot]:
    acct = _account(s, name, for_update=for_update)
    if acct is None:
        raise AccountNotFound(account=name, problem="")
    slot = _slot(s, acct, for_update=for_update)
    if acct.disabled_at is not None or slot is None:
        raise AccountNotFound(account=name, problem=f" that is enabled (it was disabled on {acct.disabled_at or 'an earlier day'})")
    return acct, slot


def _wrap(ws: Workspace, auth: Unlocked, name: str, role: str, version: int, password: bytes) -> bytes:
    from archive_media import keys
    from pipeline import keystore

    return keys.wrap_slot(auth.master, password, auth.archive_id, name, role, version, keystore.kdf_params(ws.config))


def status_of(acct: StaffAccount, has_slot: bool) -> str:
    if acct.disabled_at is not None or not has_slot:
        return "disabled"
    if acct.locked_at is not None:
        return "locked"
    return "must change password" if acct.must_change else "active"


def list_accounts(s: Session) -> list[dict]:
    """Every account, disabled ones too. Keys: name, role, status (active, must change password,
    locked, disabled), failures, created_at, created_by, last_login_at, disabled_at. Reads only."""
    slots = set(s.scalars(select(KeySlot.account_id)))
    rows = []
    for a in s.scalars(select(StaffAccount).order_by(StaffAccount.name)):
        rows.append({"name": a.name, "role": a.role, "status": status_of(a, a.id in slots), "failures": a.failures,
                     "created_at": a.created_at.isoformat(), "created_by": a.created_by,
                     "last_login_at": a.last_login_at.isoformat() if a.last_login_at else None,
                     "disabled_at": a.disabled_at.isoformat() if a.disabled_at else None})
    return rows


def add(ws: Workspace, auth: Unlocked, name: str, role: str, password: bytes, *, one_time: bool = False) -> dict:
    """A new account with its own key slot (a manager's action). With ``one_time`` the password
    is a one-time password (see :func:`one_time_password`): it opens only a password change."""
    name, role = validate_name(name), validate_role(role)
    with ws.reader() as s:
        authority.require(s, auth, f"adding staff account {name}", role=authority.MANAGER)
        if _account(s, name) is not None:
            raise InvalidValue(f"staff account {name} exists already (a disabled account's name is not used again, "
                               "so the audit log stays unambiguous): choose another name")
    check_password(ws, name, password)
    record = _wrap(ws, auth, name, role, 1, password)
    now = _now()
    with ws.transaction() as s:
        how = authority.require(s, auth, f"adding staff account {name}", role=authority.MANAGER)
        if _account(s, name) is not None:
            raise InvalidValue(f"staff account {name} exists already: choose another name")
        acct = StaffAccount(name=name, role=role, created_at=now, created_by=auth.actor, must_change=one_time, failures=0)
        s.add(acct)
        s.flush()
        s.add(KeySlot(account_id=acct.id, slot_version=1, record=record, changed_at=now))
        s.flush()
        audit.record(s, auth.actor, "staff.added", subject=f"staff:{name}", role=role, **how)
    return {"name": name, "role": role, "must_change": one_time}


def change_password(ws: Workspace, auth: Unlocked, password: bytes, *, name: str | None = None, one_time: bool = False) -> dict:
    """Re-wrap one account's slot under a new password; nothing else changes. ``name`` defaults
    to the account that logged in (which may do so with a one-time password); another account's
    password is set only by a manager, and with ``one_time`` (a reset) it must be changed at that
    account's next login, which also lifts a lock."""
    from pipeline.authority import STAFF_PASSWORD

    own = name is None or (auth.method == STAFF_PASSWORD and name == auth.actor)
    name = auth.actor if name is None else validate_name(name)
    what = f"{'resetting' if one_time else 'changing'} the password of {name}"
    if own and auth.method != STAFF_PASSWORD:
        raise InvalidValue("the recovery passphrase has no staff password: name the account whose password to set, "
                           "or change the recovery passphrase itself")
    if own and one_time:
        raise InvalidValue("a one-time password is for another account: change your own password instead")
    _authorise_password_change(ws, auth, what, own)
    with ws.reader() as s:
        acct, slot = _enabled(s, name)
        role, version = acct.role, slot.slot_version
    check_password(ws, name, password)
    record = _wrap(ws, auth, name, role, version + 1, password)
    with ws.transaction() as s:
        how = _authorise_password_change_in(s, auth, what, own)
        acct, slot = _enabled(s, name, for_update=True)
        if (acct.role, slot.slot_version) != (role, version):
            raise InvalidValue(f"the account {name} was changed by someone else meanwhile: run this again")
        slot.record, slot.slot_version, slot.changed_at = record, version + 1, _now()
        acct.must_change = one_time
        if one_time:
            acct.failures, acct.next_attempt_at, acct.locked_at = 0, None, None
        audit.record(s, auth.actor, "staff.reset" if one_time else "staff.password_changed", subject=f"staff:{name}",
                     slot_version=version + 1, **how)
    return {"name": name, "slot_version": version + 1, "must_change": one_time}


def _authorise_password_change(ws: Workspace, auth: Unlocked, what: str, own: bool) -> None:
    with ws.reader() as s:
        _authorise_password_change_in(s, auth, what, own)


def _authorise_password_change_in(s: Session, auth: Unlocked, what: str, own: bool) -> dict:
    import dataclasses

    if own:  # a one-time password opens exactly this
        return authority.require(s, dataclasses.replace(auth, must_change=False), what)
    return authority.require(s, auth, what, role=authority.MANAGER)


def reset(ws: Workspace, auth: Unlocked, name: str, one_time_password: bytes) -> dict:
    """A manager sets a one-time password (changed at the account's next login); lifts a lock."""
    return change_password(ws, auth, one_time_password, name=name, one_time=True)


def disable(ws: Workspace, auth: Unlocked, name: str) -> dict:
    """Disable an account: its slot is overwritten with random bytes and then deleted, so its
    password opens nothing any more. The account's name stays (the audit log names it). Returns
    ``managers_left``, the enabled manager accounts (the recovery passphrase always is one)."""
    name = validate_name(name)
    with ws.transaction() as s:
        how = authority.require(s, auth, f"disabling staff account {name}", role=authority.MANAGER)
        acct, slot = _enabled(s, name, for_update=True)
        slot.record = os.urandom(len(slot.record))  # overwrite first (a copy of the row left behind holds noise)
        s.flush()
        s.delete(slot)
        acct.disabled_at = _now()
        s.flush()
        audit.record(s, auth.actor, "staff.disabled", subject=f"staff:{name}", **how)
        managers = s.scalars(select(StaffAccount.name).join(KeySlot, KeySlot.account_id == StaffAccount.id)
                             .where(StaffAccount.role == authority.MANAGER, StaffAccount.disabled_at.is_(None))).all()
    return {"name": name, "managers_left": sorted(managers)}


def unlock_account(ws: Workspace, auth: Unlocked, name: str) -> dict:
    """Lift the lock (and the backoff) of an account after failed logins (a manager's action)."""
    name = validate_name(name)
    with ws.transaction() as s:
        how = authority.require(s, auth, f"unlocking staff account {name}", role=authority.MANAGER)
        acct, _slot_row = _enabled(s, name, for_update=True)
        was = acct.failures
        acct.failures, acct.next_attempt_at, acct.locked_at = 0, None, None
        audit.record(s, auth.actor, "staff.unlocked", subject=f"staff:{name}", failures=was, **how)
    return {"name": name, "failures_cleared": was}


# --- logging in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginLimits:
    """How failed logins are limited (the ``[staff]`` configuration)."""

    #: failed logins in a row after which a staff account is locked
    max_failures: int
    backoff_first_seconds: int
    backoff_max_seconds: int

    def backoff(self, failures: int) -> dt.timedelta:
        """How long the next attempt waits after ``failures`` failed logins in a row."""
        if failures <= 0:
            return dt.timedelta(0)
        exponent = min(failures - 1, 32)  # 2**32 seconds is past any ceiling: no huge numbers
        return dt.timedelta(seconds=min(self.backoff_first_seconds * 2 ** exponent, self.backoff_max_seconds))


def login_limits(cfg: Config) -> LoginLimits:
    c = cfg.section("staff")
    return LoginLimits(max_failures=c["max_failed_logins"], backoff_first_seconds=c["backoff_seconds"],
                       backoff_max_seconds=c["backoff_max_seconds"])


def login(ws: Workspace, name: str, password: bytes, *, now: dt.datetime | None = None) -> Unlocked:
    """Unwrap the account's key slot into a keyring (:class:`LoginFailed`, :class:`AccountLocked`).

    The slot is read in a short read transaction, the KDF runs outside any transaction, and the
    result (the login, or the failure with its backoff and lock) is recorded after. A keyring from
    a one-time password opens only a password change (``must_change``)."""
    from archive_media import keys
    from pipeline import keystore

    now = now or _now()
    limits = login_limits(ws.config)
    name = name.strip() if isinstance(name, str) else name
    with ws.reader() as s:
        archive = keystore.archive_id(s)
        acct = _account(s, name)
        slot = _slot(s, acct) if acct is not None else None
        if acct is None or slot is None or acct.disabled_at is not None:
            state = None
        else:
            state = (acct.role, slot.slot_version, bytes(slot.record), acct.must_change, acct.locked_at, acct.next_attempt_at,
                     acct.failures)
    if state is None:
        _record_failure(ws, name, now, limits, reason="no enabled account")
        raise LoginFailed(account=name, limit=limits.max_failures)
    role, version, record, must_change, locked_at, next_at, failures = state
    if locked_at is not None:
        _record_failure(ws, name, now, limits, reason="locked")
        raise AccountLocked(account=name, problem=f"is locked after {failures} failed logins in a row: a manager can unlock it "
                                                  "(or reset its password)")
    if next_at is not None and now < next_at:
        _record_failure(ws, name, now, limits, reason="too soon")
        raise AccountLocked(account=name, problem=f"has {failures} failed login(s) in a row: try again after "
                                                  f"{next_at.isoformat()} UTC")
    try:
        master = keys.unwrap_slot(record, password, archive, name, role, version)
    except WrongPassphrase:
        _record_failure(ws, name, now, limits, reason="wrong password", count=True)
        raise LoginFailed(account=name, limit=limits.max_failures) from None
    with ws.transaction() as s:
        acct = _account(s, name, for_update=True)
        slot = _slot(s, acct) if acct is not None else None
        if acct is None or slot is None or slot.slot_version != version or acct.role != role or acct.disabled_at is not None:
            raise LoginFailed(account=name, limit=limits.max_failures)  # changed while the KDF ran: log in again
        acct.failures, acct.next_attempt_at, acct.last_login_at = 0, None, now
        audit.seal_on_commit(s, master)
        audit.record(s, name, "auth.login", subject=f"staff:{name}", method=authority.STAFF_PASSWORD, role=role,
                     must_change=must_change)
    return authority.keyring(actor=name, method=authority.STAFF_PASSWORD, archive_id=archive, master=master, role=role,
                             must_change=must_change, slot_version=version)


def _record_failure(ws: Workspace, name: str, now: dt.datetime, limits: LoginLimits, *, reason: str, count: bool = False) -> None:
    """An audit event for a failed login; a wrong password also counts towards backoff and lock."""
    with ws.transaction() as s:
        acct = _account(s, name, for_update=True) if isinstance(name, str) and _NAME.fullmatch(name or "") else None
        details: dict = {"reason": reason}
        if acct is not None and count:
            acct.failures += 1
            acct.next_attempt_at = now + limits.backoff(acct.failures)
            if acct.failures >= limits.max_failures:
                acct.locked_at = now
            details.update(failures=acct.failures, locked=acct.locked_at is not None)
        # an unknown name is not written down: it may be a mistyped password or a person's name
        actor = name if acct is not None else "(unknown account)"
        audit.record(s, actor, "auth.login_failed", subject=f"staff:{name}" if acct is not None else None, **details)


def one_time_password() -> str:
    """A random one-time password for a manager's reset (four groups of five letters and digits,
    about 100 bits): shown once to the manager, who hands it over; it opens only a password change."""
    import secrets

    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))
