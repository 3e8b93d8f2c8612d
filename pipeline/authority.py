"""Destructive actions need more than shell access: a keyring, the real date, an intact log.

**One unlock, one keyring.** A front-end unlocks once per login and passes the resulting
:class:`Unlocked` (alias :class:`Keyring`) to every library call of that session. It carries the
actor (the staff account that logged in, or ``"recovery"`` for the recovery passphrase of ``init``),
the role (``staff`` or ``manager``; the recovery passphrase counts as a manager), the method
(``"staff password"`` / ``"recovery passphrase"``), the archive id and the master key, held only in
memory. Keyrings are made only by :func:`recover` (the recovery passphrase) and
:func:`pipeline.staff.login` (a staff key slot): both read what they need in a short read
transaction, run the KDF outside any transaction, and record the login in a write transaction
after. :func:`unlock` does the same inside a caller's session (for tests and old callers; it runs
the KDF inside that transaction, so a front-end should not use it).

:func:`require` checks, without the passphrase, that the key a keyring carries really is this
archive's master key and, for a manager's action (``role="manager"``), that the account is a
manager; it returns what the audit event records: how the action was authorised. Staff may file,
review, print cover sheets, confirm shred entries and read documents; a manager may also lift
holds, approve disposal, export keys and case exports, record discs destroyed and manage accounts.

A front-end (the web app's request handler, say) calls the library like this::

    auth = staff.login(ws, "alice", password)      # once per login: the KDF runs here, in no transaction
    with ws.transaction() as s:                    # then any number of calls with the same keyring
        shredding.confirm(s, ws.config, [12], auth=auth, today=dt.date.today(), consent="typed")

The policy's dates are injected (``today``) so that tests can run the clock forward below the
front-ends; a front-end calls :func:`ensure_real_date` with the date a person gave, so that a
destructive command never runs as if it were a later day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from pps_archive.errors import FutureDate, ManagerRequired, NotAuthorised, PasswordChangeRequired

if TYPE_CHECKING:
    from pipeline.workspace import Workspace

RECOVERY = "recovery passphrase"
STAFF_PASSWORD = "staff password"
#: the old name of the recovery method (before staff accounts)
PASSPHRASE = RECOVERY
#: the actor of a keyring opened with the recovery passphrase
RECOVERY_ACTOR = "recovery"
MANAGER = "manager"
STAFF = "staff"
_TOKEN = object()  # only this module's functions (and pipeline.staff.login, through keyring()) make one


@dataclass(frozen=True)
class Unlocked:
    """The keyring of one login: who (``actor``, ``role``), how (``method``), for which archive,
    and the master key (never in a repr, never on disk)."""

    actor: str
    method: str
    archive_id: str
    master: bytes = field(repr=False)
    _token: object = field(default=None, repr=False, compare=False)
    role: str = MANAGER
    #: a one-time password from a manager's reset: it opens only a password change
    must_change: bool = False
    #: with the recovery passphrase (no one's own), the name the person gave, recorded beside it
    claimed_by: str | None = None
    #: a staff login: the version of the key slot it opened (a password change or reset since ends it)
    slot_version: int | None = None

    def __post_init__(self) -> None:
        if self._token is not _TOKEN:
            raise NotAuthorised(what="an authorisation", problem="it can only be made by unlocking the key store")

    @property
    def is_manager(self) -> bool:
        return self.role == MANAGER


#: the keyring under its new name; ``Unlocked`` stays for existing callers
Keyring = Unlocked


def keyring(*, actor: str, method: str, archive_id: str, master: bytes, role: str, must_change: bool = False,
            slot_version: int | None = None) -> Unlocked:
    """Make a keyring from a master key just unwrapped (for :func:`recover` and ``staff.login``)."""
    if role not in (STAFF, MANAGER):
        raise ValueError(f"unknown role {role!r}")
    return Unlocked(actor=actor, method=method, archive_id=archive_id, master=master, _token=_TOKEN, role=role,
                    must_change=must_change, slot_version=slot_version)


def unlock(s: Session, passphrase: bytes, *, actor: str = RECOVERY_ACTOR) -> Unlocked:
    """Open the master key with the recovery passphrase inside the caller's session
    (:class:`WrongPassphrase` if it does not). Runs the KDF there: a front-end uses :func:`recover`."""
    from pipeline import keystore

    master = keystore.unlock(s, passphrase)
    return keyring(actor=actor, method=RECOVERY, archive_id=keystore.archive_id(s), master=master, role=MANAGER)


#: the settings row that counts failed attempts with the recovery passphrase in a row
RECOVERY_FAILURES = "recovery_failures"


def recover(ws: Workspace, passphrase: bytes, *, now: dt.datetime | None = None) -> Unlocked:
    """Log in with the recovery passphrase (``init``'s): a manager's keyring whose actor is
    ``"recovery"``. The wrapped master key is read in a short read transaction, the KDF runs
    outside any transaction, and the login is recorded after (a failure too).

    Failed attempts are rate-limited as staff logins are (``[staff]`` backoff_seconds, doubling up
    to backoff_max_seconds): an attempt before the wait is over is refused without trying the
    passphrase (:class:`RecoveryBackoff`, itself an audit event). There is no lock: the recovery
    passphrase is how the office gets back in, so it must never be locked out for good."""
    from archive_media import keys
    from pipeline import audit, keystore, staff
    from pps_archive.errors import NotInitialised, RecoveryBackoff, WrongPassphrase

    now = now or _utcnow()
    limits = staff.login_limits(ws.config)
    with ws.reader() as s:
        row = keystore._master_row(s)  # noqa: SLF001 - the keystore's own row, read-only
        if row is None:
            raise NotInitialised(what="the master key", data_dir="this data directory")
        record, archive = bytes(row.record), keystore.archive_id(s)
        failures, next_at = recovery_failures(s)
    if next_at is not None and now < next_at:
        with ws.transaction() as s:
            audit.record(s, RECOVERY_ACTOR, "auth.login_failed", method=RECOVERY, reason="too soon", failures=failures)
        raise RecoveryBackoff(failures=failures, at=next_at.isoformat())
    try:
        master = keys.unwrap_master_key(record, passphrase, archive)
    except WrongPassphrase:
        with ws.transaction() as s:
            failures, _next = recovery_failures(s, for_update=True)
            failures += 1
            _set_recovery_failures(s, failures, now + limits.backoff(failures))
            audit.record(s, RECOVERY_ACTOR, "auth.login_failed", method=RECOVERY, reason="wrong passphrase", failures=failures)
        raise
    with ws.transaction() as s:
        audit.seal_on_commit(s, master)
        _set_recovery_failures(s, 0, None)
        audit.record(s, RECOVERY_ACTOR, "auth.login", method=RECOVERY)
    return keyring(actor=RECOVERY_ACTOR, method=RECOVERY, archive_id=archive, master=master, role=MANAGER)


def recovery_failures(s: Session, *, for_update: bool = False) -> tuple[int, dt.datetime | None]:
    """Failed attempts with the recovery passphrase in a row, and when the next may be made."""
    import json

    from sqlalchemy import select

    from pipeline.models import Setting

    stmt = select(Setting).where(Setting.key == RECOVERY_FAILURES)
    row = s.scalars(stmt.with_for_update() if for_update else stmt).one_or_none()
    if row is None:
        return 0, None
    value = json.loads(row.value)
    next_at = value.get("next_attempt_at")
    return int(value.get("failures", 0)), dt.datetime.fromisoformat(next_at) if next_at else None


def ensure_recovery_allowed(s: Session, *, now: dt.datetime | None = None) -> None:
    """Refuse the recovery passphrase while its backoff lasts (for callers that check it inside
    their own transaction, such as ``keystore.unlock``; :func:`recover` also records the attempt)."""
    from pps_archive.errors import RecoveryBackoff

    failures, next_at = recovery_failures(s)
    if next_at is not None and (now or _utcnow()) < next_at:
        raise RecoveryBackoff(failures=failures, at=next_at.isoformat())


def _set_recovery_failures(s: Session, failures: int, next_at: dt.datetime | None) -> None:
    import json

    from pipeline.models import Setting

    row = s.get(Setting, RECOVERY_FAILURES)
    if row is None and failures == 0:
        return
    value = json.dumps({"failures": failures, "next_attempt_at": next_at.isoformat() if next_at else None})
    if row is None:
        s.add(Setting(key=RECOVERY_FAILURES, value=value))
    else:
        row.value = value
    s.flush()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def require(s: Session, auth: Unlocked | None, what: str, *, role: str | None = None) -> dict:
    """Check ``auth`` before ``what`` (and, with ``role="manager"``, that it is a manager's);
    returns the audit details that say how it was authorised. Seals the audit log when the
    session commits."""
    from archive_media import keys
    from pipeline import keystore
    from pps_archive.errors import IntegrityError

    if not isinstance(auth, Unlocked) or auth._token is not _TOKEN:  # noqa: SLF001 - this module made the token
        raise NotAuthorised(what=what, problem="no unlocked key store was given")
    if auth.must_change:
        raise PasswordChangeRequired(account=auth.actor)
    if role == MANAGER and not auth.is_manager:
        raise ManagerRequired(what=what, actor=auth.actor, role=auth.role)
    if role not in (None, STAFF, MANAGER):
        raise ValueError(f"unknown role {role!r}")
    if auth.archive_id != keystore.archive_id(s):
        raise NotAuthorised(what=what, problem="the key store unlocked belongs to another archive")
    try:  # the master key must open a record it wrapped: a key that merely looks right does not
        keys.unwrap_signing_key(auth.master, auth.archive_id, keystore.signing_record(s).record)
    except IntegrityError:
        raise NotAuthorised(what=what, problem="the key given is not this archive's master key") from None
    from pipeline import audit

    if auth.method == STAFF_PASSWORD:
        _ensure_account_active(s, auth, what)
    audit.seal_on_commit(s, auth.master)  # what this action records is sealed when it commits
    how = {"unlocked_with": auth.method, "actor_role": auth.role}
    if auth.claimed_by is not None:
        how["claimed_by"] = auth.claimed_by
    return how


def _ensure_account_active(s: Session, auth: Unlocked, what: str) -> None:
    """A keyring outlives nothing: an account disabled (or demoted) since its login is refused."""
    problem = account_problem(s, auth)
    if problem is not None:
        raise NotAuthorised(what=what, problem=problem)


def account_problem(s: Session, auth: Unlocked) -> str | None:
    """Why a staff login's keyring no longer speaks for its account (None: it still does): the
    account was disabled or locked, its role changed, or its password was changed or reset (its
    key slot re-wrapped) since the login. A keyring from the recovery passphrase has no account."""
    from sqlalchemy import select

    from pipeline.models import KeySlot, StaffAccount

    if auth.method != STAFF_PASSWORD:
        return None
    acct = s.scalars(select(StaffAccount).where(StaffAccount.name == auth.actor)).one_or_none()
    if acct is None or acct.disabled_at is not None or acct.locked_at is not None:
        return f"account {auth.actor} was disabled or locked since it logged in"
    if acct.role != auth.role:
        return f"account {auth.actor}'s role changed since it logged in: log in again"
    if auth.slot_version is not None:
        version = s.scalars(select(KeySlot.slot_version).where(KeySlot.account_id == acct.id)).one_or_none()
        if version != auth.slot_version:
            return f"the password of account {auth.actor} was changed or reset since it logged in: log in again"
    return None


def check_actor(auth: Unlocked, given: str | None) -> Unlocked:
    """The name given for the audit log (a front-end's ``--by``) must be the account that logged
    in: a different one is refused (:class:`ActorMismatch`). The recovery passphrase is no one's
    own: the audit log records ``recovery`` and, beside it, the name given (``claimed_by``)."""
    import dataclasses

    from pps_archive.errors import ActorMismatch

    if given is None or given == auth.actor:
        return auth
    if auth.method == RECOVERY:
        return dataclasses.replace(auth, claimed_by=given)
    raise ActorMismatch(account=auth.actor, given=given)


def ensure_real_date(as_of: dt.date, real_today: dt.date, what: str) -> dt.date:
    """A destructive action runs on the real date: a later ``as_of`` is refused (an earlier one,
    which can only make it do less, is allowed)."""
    if as_of > real_today:
        raise FutureDate(what=what, as_of=as_of.isoformat(), today=real_today.isoformat())
    return as_of


def ensure_not_later(day: dt.date, what: str) -> dt.date:
    """:func:`ensure_real_date` against the real date (:func:`pipeline.dates.real_today`): what a
    destructive library function checks itself, whichever front-end calls it."""
    from pipeline import dates

    return ensure_real_date(day, dates.real_today(), what)


def ensure_audit_chain(s: Session, auth: Unlocked) -> None:
    """Refuse to destroy anything while the audit log does not verify: the keyed check (chain and
    every seal, under the unlocked master key), since a structural check alone is worthless against
    someone who can write the database."""
    from pipeline import audit

    audit.require_intact(s, auth.master)


def typed_confirmation(given: str | None, word: str, what: str) -> str:
    """A dangerous action goes ahead only when the person typed ``word`` (``YES``, a case
    reference, a disc label; surrounding spaces are ignored, case is not): else
    :class:`ConfirmationRefused`, and nothing is done. Returns ``"typed"``, for the audit log."""
    from pps_archive.errors import ConfirmationRefused

    if given is None or given.strip() != word:
        raise ConfirmationRefused(what=what, word=word)
    return "typed"


def audit_chain_report(ws: Workspace, auth: Unlocked) -> dict:
    """The keyed check of the audit log for a person looking at it: the chain and every seal
    under the master key (:func:`pipeline.audit.verify`). Returns the report's dict (``ok`` True,
    ``events``, ``seals``, ``unsealed``, ...) or ``ok`` False with the ``problem`` found. Its own read
    transaction; staff may check the log."""
    from pipeline import audit
    from pps_archive.errors import AuditChainBroken

    with ws.reader() as s:
        require(s, auth, "checking the audit log")
        try:
            return audit.verify(s, auth.master).as_dict()
        except AuditChainBroken as exc:
            return {"ok": False, "keyed": True, "problem": str(exc)}
