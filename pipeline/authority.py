"""Destructive actions need more than shell access: an unlocked key store, the real date, an intact log.

Disposal, confirming paper shredded, lifting a hold, recording a disc destroyed and exporting the
key store each take an :class:`Unlocked`, made only by :func:`unlock` from the master passphrase
(until staff accounts exist; then a staff login makes it). :func:`require` checks, without the
passphrase, that the key it carries really is this archive's master key, and returns what the
audit event records: who did it and what unlocked it. A wrong passphrase fails in :func:`unlock`,
before anything is done.

The policy's dates are injected (``today``) so that tests can run the clock forward below the
front-ends; a front-end calls :func:`ensure_real_date` with the date a person gave, so that a
destructive command never runs as if it were a later day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from pps_archive.errors import FutureDate, NotAuthorised

PASSPHRASE = "master passphrase"
_TOKEN = object()  # only unlock() makes an Unlocked


@dataclass(frozen=True)
class Unlocked:
    """Proof that the key store was unlocked by ``actor`` (with ``method``) in this process."""

    actor: str
    method: str
    archive_id: str
    master: bytes = field(repr=False)
    _token: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._token is not _TOKEN:
            raise NotAuthorised(what="an authorisation", problem="it can only be made by unlocking the key store")


def unlock(s: Session, passphrase: bytes, *, actor: str) -> Unlocked:
    """Open the master key with the passphrase (:class:`WrongPassphrase` if it does not)."""
    from pipeline import keystore

    master = keystore.unlock(s, passphrase)
    return Unlocked(actor=actor, method=PASSPHRASE, archive_id=keystore.archive_id(s), master=master, _token=_TOKEN)


def require(s: Session, auth: Unlocked | None, what: str) -> dict:
    """Check ``auth`` before ``what``; returns the audit details that say how it was authorised."""
    from archive_media import keys
    from pipeline import keystore
    from pps_archive.errors import IntegrityError

    if not isinstance(auth, Unlocked) or auth._token is not _TOKEN:  # noqa: SLF001 - this module made the token
        raise NotAuthorised(what=what, problem="no unlocked key store was given")
    if auth.archive_id != keystore.archive_id(s):
        raise NotAuthorised(what=what, problem="the key store unlocked belongs to another archive")
    try:  # the master key must open a record it wrapped: a key that merely looks right does not
        keys.unwrap_signing_key(auth.master, auth.archive_id, keystore.signing_record(s).record)
    except IntegrityError:
        raise NotAuthorised(what=what, problem="the key given is not this archive's master key") from None
    from pipeline import audit

    audit.seal_on_commit(s, auth.master)  # what this action records is sealed when it commits
    return {"unlocked_with": auth.method}


def ensure_real_date(as_of: dt.date, real_today: dt.date, what: str) -> dt.date:
    """A destructive action runs on the real date: a later ``as_of`` is refused (an earlier one,
    which can only make it do less, is allowed)."""
    if as_of > real_today:
        raise FutureDate(what=what, as_of=as_of.isoformat(), today=real_today.isoformat())
    return as_of


def ensure_audit_chain(s: Session, auth: Unlocked) -> None:
    """Refuse to destroy anything while the audit log does not verify: the keyed check (chain and
    every seal, under the unlocked master key), since a structural check alone is worthless against
    someone who can write the database."""
    from pipeline import audit

    audit.require_intact(s, auth.master)
