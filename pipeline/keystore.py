"""The archive's identity and its master key, kept in the database only in wrapped form.

The master key never touches disk in the clear and is never passed to a child process. The signing
key and the archive key are wrapped by it; case keys are sealed to the archive key; every public
key is signed by the signing key and checked before use (see below, and docs/formats.md).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit
from pipeline.config import Config
from pipeline.models import Setting, WrappedKey

ARCHIVE_ID = "archive_id"


def ensure_archive_id(session: Session) -> str:
    row = session.get(Setting, ARCHIVE_ID)
    if row is None:
        row = Setting(key=ARCHIVE_ID, value=uuid.uuid4().hex)
        session.add(row)
        session.flush()
    return row.value


def archive_id(session: Session) -> str:
    row = session.get(Setting, ARCHIVE_ID)
    if row is None:
        from pps_archive.errors import NotInitialised

        raise NotInitialised(what="the archive", data_dir="this data directory")
    return row.value


def _master_row(session: Session) -> WrappedKey | None:
    return session.scalars(select(WrappedKey).where(WrappedKey.purpose == "master")).one_or_none()


def master_key_exists(session: Session) -> bool:
    return _master_row(session) is not None


def kdf_params(cfg: Config):  # noqa: ANN201 - archive_media imported lazily
    from archive_media.keys import KdfParams

    c = cfg.section("crypto")
    return KdfParams(log2_n=c["kdf_log2_n"], r=c["kdf_r"], p=c["kdf_p"], salt=os.urandom(16))


def ensure_master_key(session: Session, cfg: Config, passphrase: bytes, archive: str, *, actor: str) -> bytes:
    """Create the master key on first use; afterwards check the passphrase opens it. Returns it.

    ``init`` then calls :func:`authenticate_keys` (pins the signing key, signs public keys).
    Runs in the caller's transaction."""
    from archive_media import keys

    row = _master_row(session)
    if row is not None:
        from pipeline import authority

        authority.ensure_recovery_allowed(session)  # the recovery passphrase's backoff holds here too
        master = keys.unwrap_master_key(row.record, passphrase, archive)
    else:
        from pipeline.passphrase import check_strength

        check_strength(passphrase, context=_strength_context(cfg), what="the master passphrase")
        master, wrapped = keys.create_master_key(passphrase, archive, kdf_params(cfg))
        session.add(WrappedKey(purpose="master", case_ref=None, record=wrapped, public=None, created_at=_now()))
        session.flush()
        audit.record(session, actor, "keys.master_created", subject=f"archive:{archive}")
    audit.seal_on_commit(session, master)
    ensure_archive_keys(session, master, archive, actor=actor)
    return master


def _strength_context(cfg: Config) -> list[str]:
    """Words an attacker of this archive would try first."""
    return [cfg.section("service")["name"], "pps", "archive", "pps-archive", "passphrase"]


def unlock(session: Session, passphrase) -> bytes:  # noqa: ANN001 - bytes or a pipeline.authority.Unlocked
    """The master key, or :class:`WrongPassphrase`. The session then seals the audit chain when it
    commits (``audit.seal_on_commit``): every process that holds the master key seals.

    ``passphrase`` is a keyring (:class:`pipeline.authority.Unlocked`, from one login: no KDF here,
    checked by ``authority.require``) or, for older callers, the recovery passphrase itself (the
    KDF then runs inside the caller's transaction)."""
    from archive_media import keys
    from pipeline import authority
    from pps_archive.errors import NotInitialised

    if isinstance(passphrase, authority.Unlocked):
        authority.require(session, passphrase, "using the key store")
        return passphrase.master

    row = _master_row(session)
    if row is None:
        raise NotInitialised(what="the master key", data_dir="this data directory")
    authority.ensure_recovery_allowed(session)  # a failure here is not recorded: front-ends log in with recover()
    master = keys.unwrap_master_key(row.record, passphrase, archive_id(session))
    audit.seal_on_commit(session, master)
    return master


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# --- the archive key pair and case keys ------------------------------------------------------
#
# Intake must encrypt without the passphrase (the daemon does not hold it), so case keys are
# sealed with public-key encryption: each case's age identity is encrypted (age format) to the
# archive's own recipient, whose identity is wrapped by the master key. Encrypting a document
# needs only public keys (checked against their signatures); making a case key needs the master
# key (to sign it); reading anything needs the passphrase.

ARCHIVE_KEY_REF = "(archive)"


def _row(session: Session, purpose: str, case_ref: str | None = None, *, for_update: bool = False) -> WrappedKey | None:
    stmt = select(WrappedKey).where(WrappedKey.purpose == purpose)
    stmt = stmt.where(WrappedKey.case_ref.is_(None) if case_ref is None else WrappedKey.case_ref == case_ref)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def ensure_archive_keys(session: Session, master: bytes, archive: str, *, actor: str) -> None:
    """The disc- and key-signing key, and the archive key pair (for sealing case keys and review
    copies), whose public half the signing key signs as it is made."""
    from archive_media import keys

    if _row(session, "signing") is None:
        sk = keys.new_signing_key(master, archive)
        session.add(WrappedKey(purpose="signing", case_ref=None, record=sk.wrapped, public=keys.public_key_pem(sk.public_key), created_at=_now()))
        session.flush()
        audit.record(session, actor, "keys.signing_created", subject=f"archive:{archive}", fingerprint=keys.key_fingerprint(sk.public_key))
    if _row(session, "archive") is None:
        ident = keys.new_case_key()
        record = keys.wrap_case_key(master, archive, ARCHIVE_KEY_REF, ident.identity)
        signature = keys.sign_public_key(_signing_private(session, master), "archive", archive, None, ident.recipient)
        session.add(WrappedKey(purpose="archive", case_ref=None, record=record, public=ident.recipient, signature=signature,
                               created_at=_now()))
        audit.record(session, actor, "keys.archive_created", subject=f"archive:{archive}")
    session.flush()


def signing_record(session: Session) -> WrappedKey:
    """The disc-index signing key's row: ``record`` wrapped by the master key, ``public`` in PEM."""
    row = _row(session, "signing")
    if row is None:
        from pps_archive.errors import NotInitialised

        raise NotInitialised(what="the disc-signing key", data_dir="this data directory")
    return row


# --- authenticated public keys ----------------------------------------------------------------
#
# Every public key the archive encrypts to carries the signing key's signature over (purpose,
# archive id, case, public key), made when the key is made, by a command holding the master key.
# Before each use the signature is checked without the passphrase, against the signing key's
# public half pinned in the data dir (written by ``init``) and cross-checked with the database.
# A key that fails raises KeyNotAuthentic / SigningKeyUntrusted: nothing is encrypted to it.

PIN_FILE = "archive-signing.pub"
_NO_PIN = ("Run 'pps-archive init' with the master passphrase: it pins the signing key in the data directory "
           "and signs the keys of an archive made by an older version.")


def pin_path(data_dir: Path) -> Path:
    return Path(data_dir) / PIN_FILE


def _signing_private(session: Session, master: bytes) -> bytes:
    from archive_media import keys

    return keys.unwrap_signing_key(master, archive_id(session), signing_record(session).record)


def trusted_signing_key(session: Session, data_dir: Path) -> bytes:
    """The signing key's raw public half as pinned in ``data_dir``, once the database agrees. No passphrase."""
    from archive_media import keys
    from pps_archive.errors import IntegrityError, SigningKeyUntrusted

    row = signing_record(session)
    pin = pin_path(data_dir)
    try:
        text = pin.read_bytes()
    except FileNotFoundError:
        raise SigningKeyUntrusted(problem=f"it is not pinned in the data directory ({PIN_FILE} is missing)", todo=_NO_PIN) from None
    try:
        pinned = keys.public_key_from_pem(text)
    except IntegrityError:
        raise SigningKeyUntrusted(problem=f"{PIN_FILE} in the data directory is not an Ed25519 public key", todo=_NO_PIN) from None
    try:
        stored = keys.public_key_from_pem(row.public or "")
    except IntegrityError:
        stored = None
    if stored != pinned:
        raise SigningKeyUntrusted(
            problem=f"the one in the database is not the one pinned in the data directory ({PIN_FILE}, "
                    f"{keys.key_fingerprint(pinned)})",
            todo="Someone changed the database or the data directory. Compare both with your backups; "
                 "'pps-archive init' with the master passphrase re-derives the right key from its wrapped private half.",
        )
    return pinned


def _checked(session: Session, row: WrappedKey, signing_public: bytes, what: str) -> str:
    from archive_media import keys

    keys.verify_public_key(signing_public, row.purpose, archive_id(session), row.case_ref, row.public, row.signature, what)
    return row.public


def archive_recipient(session: Session, *, data_dir: Path) -> str:
    """The archive key's public half (review and quarantine copies), once its signature checks out."""
    row = _row(session, "archive")
    if row is None or not row.public:
        from pps_archive.errors import NotInitialised

        raise NotInitialised(what="the archive key", data_dir="this data directory")
    return _checked(session, row, trusted_signing_key(session, data_dir), "the archive key (review and quarantine copies are encrypted to it)")


def archive_identity(session: Session, master: bytes) -> str:
    from archive_media import keys

    row = _row(session, "archive")
    return keys.unwrap_case_key(master, archive_id(session), ARCHIVE_KEY_REF, row.record)


def _seal(recipient: str, payload: bytes) -> bytes:
    import io

    from archive_media import envelope

    out = io.BytesIO()
    envelope.encrypt_stream(io.BytesIO(payload), out, recipient)
    return out.getvalue()


def case_recipient(session: Session, case_ref: str, *, data_dir: Path) -> str | None:
    """The case's public key once its signature checks out, or None if the case has no key yet
    (intake then sends its documents to review). Needs no passphrase; never makes a key."""
    row = _row(session, "case", case_ref)
    if row is None:
        return None
    return _checked(session, row, trusted_signing_key(session, data_dir), f"the key of case {case_ref}")


def ensure_case_key(session: Session, master: bytes, case_ref: str, *, actor: str) -> str:
    """The case's public key: made, sealed to the archive key and signed if the case has none,
    else checked against the signing key the master key opens. Runs in the caller's transaction."""
    import json

    from archive_media import keys

    signing = _signing_private(session, master)
    archive = archive_id(session)
    if signing_record(session).public != keys.public_key_pem(keys.public_key_of(signing)):
        from pps_archive.errors import SigningKeyUntrusted

        raise SigningKeyUntrusted(problem="its public half in the database is not the one the master key opens",
                                  todo="Run 'pps-archive init' with the master passphrase: it puts it right.")
    row = _row(session, "case", case_ref, for_update=True)
    if row is not None:
        return _checked(session, row, keys.public_key_of(signing), f"the key of case {case_ref}")
    ident = keys.new_case_key()
    payload = json.dumps({"v": 1, "archive": archive, "case": case_ref, "identity": ident.identity}).encode()
    sealed = _seal(keys.recipient_of(archive_identity(session, master)), payload)  # derived: no stored key trusted
    signature = keys.sign_public_key(signing, "case", archive, case_ref, ident.recipient)
    session.add(WrappedKey(purpose="case", case_ref=case_ref, record=sealed, public=ident.recipient, signature=signature,
                           created_at=_now()))
    session.flush()
    audit.record(session, actor, "keys.case_created", case_ref=case_ref)
    return ident.recipient


def authenticate_keys(session: Session, master: bytes, data_dir: Path, *, actor: str) -> dict:
    """``init``'s pass over the key store (idempotent; needs the master key):

    - the signing key's public half is re-derived from its wrapped private half, pinned in
      ``data_dir`` (``archive-signing.pub``) and put right in the database if it differs;
    - the archive key's public half is re-derived from its wrapped identity and signed;
    - a case key whose public half was changed but whose signature verifies for the recipient of
      its sealed identity gets that recipient back;
    - other case keys without a valid signature: on the first pass ever (an archive made by an
      older version: no ``keys.authenticated`` event in the audit log yet) each is signed if its
      sealed identity gives its public key (trust on first use, recorded in the audit log); after
      that pass one is refused (:class:`KeyNotAuthentic`), since only a command holding the master
      key makes case keys.

    Returns what it did: ``pinned``, ``repaired``, ``signed`` (case refs). Runs in the caller's
    transaction; the pin file is written first (it is derived, so it is right even on a rollback).
    """
    from sqlalchemy import select as _select

    from archive_media import keys
    from pipeline.models import AuditEvent
    from pps_archive.atomic import atomic_write_bytes
    from pps_archive.errors import KeyNotAuthentic, PPSArchiveError

    archive = archive_id(session)
    signing = _signing_private(session, master)
    public = keys.public_key_of(signing)
    pem = keys.public_key_pem(public)
    pin = pin_path(data_dir)
    first_pass = session.scalars(
        _select(AuditEvent.seq).where(AuditEvent.action == "keys.authenticated").limit(1)).first() is None
    report = {"pinned": False, "repaired": [], "signed": [], "refused": []}
    row = signing_record(session)
    if row.public != pem:
        row.public = pem
        report["repaired"].append("the signing key's public half in the database")
    # the pin first: it is derived from the wrapped secret, so it is right even if this pass fails
    # below and rolls back (the daemon then refuses everything until the database agrees with it)
    if not pin.exists() or pin.read_bytes() != pem.encode("ascii"):
        if pin.exists():
            report["repaired"].append(f"{PIN_FILE} in the data directory")
        atomic_write_bytes(pin, pem.encode("ascii"), 0o644)
        report["pinned"] = True
    arch = _row(session, "archive")
    recipient = keys.recipient_of(archive_identity(session, master))
    if arch.public != recipient:
        arch.public = recipient
        report["repaired"].append("the archive key's public half in the database")
    try:
        _checked(session, arch, public, "the archive key")
    except KeyNotAuthentic:
        arch.signature = keys.sign_public_key(signing, "archive", archive, None, recipient)
    identity = archive_identity(session, master)
    for case in session.scalars(_select(WrappedKey).where(WrappedKey.purpose == "case").order_by(WrappedKey.case_ref)):
        try:
            _checked(session, case, public, f"the key of case {case.case_ref}")
            continue
        except KeyNotAuthentic:
            pass
        try:
            sealed_recipient = keys.recipient_of(_sealed_identity(session, identity, case))
        except PPSArchiveError:
            sealed_recipient = None
        if sealed_recipient is not None and sealed_recipient != case.public and case.signature:
            try:  # only the public half was changed: the signature proves the sealed key is the one made
                keys.verify_public_key(public, "case", archive, case.case_ref, sealed_recipient, case.signature, "")
                case.public = sealed_recipient
                report["repaired"].append(f"the public half of the key of case {case.case_ref} in the database")
                continue
            except KeyNotAuthentic:
                pass
        if not first_pass or sealed_recipient is None or sealed_recipient != case.public:
            report["refused"].append(case.case_ref)
            continue
        case.signature = keys.sign_public_key(signing, "case", archive, case.case_ref, case.public)
        report["signed"].append(case.case_ref)
    session.flush()
    if report["refused"]:
        refs = ", ".join(report["refused"][:5]) + (" ..." if len(report["refused"]) > 5 else "")
        raise KeyNotAuthentic(what=f"the key of case(s) {refs}",
                              problem="its signature does not match (or it has none) and nothing the master key opens vouches for it")
    if first_pass or report["pinned"] or report["repaired"] or report["signed"]:
        audit.record(session, actor, "keys.authenticated", subject=f"archive:{archive}", fingerprint=keys.key_fingerprint(public),
                     first_pass=first_pass, pinned=report["pinned"], repaired=report["repaired"],
                     signed_on_first_use=report["signed"])
    return report


def case_identity(session: Session, master: bytes, case_ref: str) -> str:
    """The case's secret key (needs the master key); a record sealed for another case is refused."""
    from pps_archive.errors import KeyNotFound

    row = _row(session, "case", case_ref)
    if row is None:
        raise KeyNotFound(ref=case_ref)
    return _sealed_identity(session, archive_identity(session, master), row)


def _sealed_identity(session: Session, archive_identity_: str, row: WrappedKey) -> str:
    import io
    import json

    from archive_media import envelope
    from pps_archive.errors import IntegrityError

    case_ref = row.case_ref
    out = io.BytesIO()
    envelope.decrypt_stream(io.BytesIO(row.record), out, archive_identity_, what=f"the key of case {case_ref}")
    data = json.loads(out.getvalue())
    if data.get("v") != 1 or data.get("archive") != archive_id(session) or data.get("case") != case_ref:
        raise IntegrityError(what=f"the key record of case {case_ref}", problem="it was sealed for another case or archive")
    return data["identity"]


def has_case_key(session: Session, case_ref: str) -> bool:
    return _row(session, "case", case_ref) is not None


# --- backup, import, passphrase change, export of one case's key --------------------------------

def _require_real_date(today: dt.date, what: str, *, past_ok: bool) -> None:
    real = dt.date.today()
    if today > real or (today < real and not past_ok):
        from pps_archive.errors import InvalidValue

        raise InvalidValue(f"{what} runs on the real date ({real.isoformat()}), not on {today.isoformat()}: "
                           "run it again without another date.")


def export_backup(session: Session, *, today: dt.date, valid_days: int, auth, consent: str) -> bytes:  # noqa: ANN001
    """The wrapped key store as a backup file that expires (old backups must not outlive disposal).
    Needs the key store unlocked (``auth``, a :class:`pipeline.authority.Unlocked`) by whoever exports."""
    from archive_media.keystore import KeyBackup, dump_backup
    from pipeline import authority

    how = authority.require(session, auth, "exporting the key store", role=authority.MANAGER)
    actor = auth.actor

    rows = session.scalars(select(WrappedKey)).all()
    by = {r.purpose: r for r in rows if r.case_ref is None}
    backup = KeyBackup(
        archive_id=archive_id(session), created=today, expires=today + dt.timedelta(days=valid_days),
        master=by["master"].record, signing=by["signing"].record if "signing" in by else None,
        archive=by["archive"].record if "archive" in by else None,
        cases={r.case_ref: r.record for r in rows if r.purpose == "case"},
    )
    data = dump_backup(backup, auth.master)
    audit.record(session, actor, "keys.exported", subject=f"archive:{backup.archive_id}", cases=len(backup.cases),
                 expires=backup.expires, consent=consent, **how)
    return data


def import_backup(session: Session, data: bytes, passphrase: bytes, *, today: dt.date, claimed_by: str | None = None) -> dict:
    """Restore missing wrapped keys from a backup of this archive. Keys of cases disposed of since
    are never brought back; a record that differs from the one stored is refused. The passphrase
    must open the backup's master key (that also proves the backup belongs to this archive), and
    the backup must be unaltered and unexpired on the real date (``today`` must be it). Recorded as
    done with the recovery passphrase (``recovery``), the name given beside it (``claimed_by``)."""
    from archive_media import keys
    from pipeline import authority
    from archive_media.keystore import load_backup
    from pipeline.models import Case
    from pps_archive.errors import IntegrityError

    _require_real_date(today, "a key import", past_ok=False)
    backup, master = load_backup(data, archive_id(session), today, passphrase)
    audit.seal_on_commit(session, master)

    def public_of(purpose: str, ref: str | None, record: bytes) -> str | None:
        if purpose == "signing":
            return keys.public_key_pem(keys.public_key_of(keys.unwrap_signing_key(master, backup.archive_id, record)))
        if purpose == "archive":
            return keys.recipient_of(keys.unwrap_case_key(master, backup.archive_id, ARCHIVE_KEY_REF, record))
        if purpose == "case":
            return None  # filled in below, once the archive key is in place
        return None

    disposed = set(session.scalars(select(Case.ref).where(Case.disposed_on.is_not(None))))
    wanted = [("master", None, backup.master), ("signing", None, backup.signing), ("archive", None, backup.archive)]
    wanted += [("case", ref, rec) for ref, rec in backup.cases.items()]
    added = skipped = 0
    for purpose, ref, record in wanted:
        if record is None:
            continue
        if ref is not None and ref in disposed:
            skipped += 1
            continue
        row = _row(session, purpose, ref)
        if row is None:
            row = WrappedKey(purpose=purpose, case_ref=ref, record=record, public=public_of(purpose, ref, record), created_at=_now())
            session.add(row)
            session.flush()
            if purpose == "case":
                row.public = keys.recipient_of(case_identity(session, master, ref))
            if purpose in ("case", "archive"):  # the person importing vouches for the backup: sign
                row.signature = keys.sign_public_key(_signing_private(session, master), purpose, backup.archive_id, ref, row.public)
            added += 1
        elif row.record != record:
            raise IntegrityError(what=f"the backup's {purpose} key{f' of case {ref}' if ref else ''}",
                                 problem="it differs from the one in the database; nothing was imported")
    session.flush()
    audit.record(session, authority.RECOVERY_ACTOR, "keys.imported", subject=f"archive:{backup.archive_id}", added=added,
                 skipped_disposed=skipped, **_recovery_how(claimed_by))
    return {"added": added, "skipped_disposed": skipped, "backup_created": backup.created.isoformat()}


def change_passphrase(session: Session, cfg: Config, old: bytes, new: bytes, *, claimed_by: str | None = None) -> None:
    """Re-wrap the master key under a new passphrase (which must pass the strength check);
    nothing else is re-encrypted. Runs in the caller's transaction (the KDF too): a front-end calls
    :func:`change_recovery_passphrase`."""
    from archive_media import keys
    from pipeline import authority
    from pipeline.passphrase import check_strength

    check_strength(new, context=_strength_context(cfg))
    row = _master_row(session)
    row.record = keys.rewrap_master_key(row.record, old, new, archive_id(session), kdf_params(cfg))
    audit.record(session, authority.RECOVERY_ACTOR, "keys.passphrase_changed", subject=f"archive:{archive_id(session)}",
                 **_recovery_how(claimed_by))


def change_recovery_passphrase(ws, old: bytes, new: bytes, *, claimed_by: str | None = None) -> None:  # noqa: ANN001 - a Workspace
    """Log in with the recovery passphrase ``old`` (rate-limited and recorded, the KDF outside any
    transaction: ``authority.recover``), then re-wrap the master key under ``new``."""
    from pipeline import authority

    auth = authority.recover(ws, old)
    with ws.transaction() as s:
        audit.seal_on_commit(s, auth.master)
        change_passphrase(s, ws.config, old, new, claimed_by=claimed_by)


def _recovery_how(claimed_by: str | None) -> dict:
    from pipeline import authority

    how = {"unlocked_with": authority.RECOVERY}
    return how | {"claimed_by": claimed_by} if claimed_by else how


def export_case_key(session: Session, auth, case_ref: str, *, consent: str) -> str:  # noqa: ANN001 - authority.Unlocked
    """The case's key in age's own identity-file format, for an independent ``age -d -i``: a
    manager's action (``auth``, a :class:`pipeline.authority.Unlocked`). Runs in the caller's transaction."""
    from archive_media import keys
    from pipeline import authority

    how = authority.require(session, auth, f"exporting the key of case {case_ref}", role=authority.MANAGER)
    text = keys.export_case_identity(case_identity(session, auth.master, case_ref), case_ref)
    audit.record(session, auth.actor, "keys.case_exported", case_ref=case_ref, consent=consent, **how)
    return text
