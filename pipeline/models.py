"""The database schema (SQLAlchemy 2.0 typed models). Alembic migrations in ``migrations/``.

The register holds no more than the policy needs: a case is a reference and dates; there is no
field for a parent's or child's name, address or contact details, so a parent can stay anonymous.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    DateTime,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

HOLD_REASONS = ("safeguarding", "sar", "foi", "complaint", "tribunal", "legal")
HOLD_REASON_WORDS = {
    "safeguarding": "safeguarding concern",
    "sar": "subject access request",
    "foi": "freedom of information request",
    "complaint": "complaint",
    "tribunal": "tribunal",
    "legal": "legal",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Setting(Base):
    """Archive-wide facts: the archive id, the schema's creation date."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class WrappedKey(Base):
    """A key stored only wrapped: the master key (by the passphrase), case keys and the signing key
    (by the master key). Disposal destroys a case key by deleting its row (``secure_delete`` on)."""

    __tablename__ = "wrapped_keys"
    __table_args__ = (UniqueConstraint("purpose", "case_ref", name="purpose_case"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # master | signing | case
    case_ref: Mapped[str | None] = mapped_column(String(40))
    record: Mapped[bytes] = mapped_column(LargeBinary)
    public: Mapped[str | None] = mapped_column(Text)  # age recipient / Ed25519 public key
    created_at: Mapped[str] = mapped_column(String(32))
    # the archive signing key's Ed25519 signature over (purpose, archive, case, public): checked
    # before every use of ``public`` (keystore.case_recipient / archive_recipient)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    last_activity: Mapped[dt.date] = mapped_column(Date)
    store_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    store_consent_on: Mapped[dt.date | None] = mapped_column(Date)
    disposed_on: Mapped[dt.date | None] = mapped_column(Date)
    disposal_run_id: Mapped[int | None] = mapped_column(ForeignKey("disposal_runs.id"))
    #: the parent/carer's permission to be identified in a report to the Local Authority (without
    #: it, issue reports to the LA are anonymous: pipeline.reports)
    la_identify: Mapped[bool] = mapped_column(Boolean, default=False)
    la_identify_on: Mapped[dt.date | None] = mapped_column(Date)

    third_parties: Mapped[list[ThirdPartyConsent]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="ThirdPartyConsent.party"
    )
    holds: Mapped[list[Hold]] = relationship(back_populates="case", cascade="all, delete-orphan", order_by="Hold.id")


class ThirdPartyConsent(Base):
    """Whether the parent/carer allows the service to contact a third party (a role, not a person)."""

    __tablename__ = "third_party_consents"
    __table_args__ = (UniqueConstraint("case_id", "party", name="case_party"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    party: Mapped[str] = mapped_column(String(64))
    allowed: Mapped[bool] = mapped_column(Boolean)
    changed_on: Mapped[dt.date] = mapped_column(Date)
    case: Mapped[Case] = relationship(back_populates="third_parties")


class Hold(Base):
    """A hold blocks shredding and disposal of the case until released."""

    __tablename__ = "holds"
    __table_args__ = (CheckConstraint("reason IN " + str(HOLD_REASONS), name="reason"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)  # kept in the database only, never in the audit log
    placed_on: Mapped[dt.date] = mapped_column(Date)
    placed_by: Mapped[str] = mapped_column(String(64))
    released_on: Mapped[dt.date | None] = mapped_column(Date)
    released_by: Mapped[str | None] = mapped_column(String(64))
    case: Mapped[Case] = relationship(back_populates="holds")

    @property
    def active(self) -> bool:
        return self.released_on is None


class AuditEvent(Base):
    """Append-only, hash-chained. ``hash = sha256(canonical JSON of the event and prev_hash)``."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))  # ISO 8601 UTC, stored as text so it hashes the same everywhere
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    case_ref: Mapped[str | None] = mapped_column(String(40), index=True)
    subject: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """One row: the last event's number and hash. Appends lock it, so the chain never forks."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    # the last seal (see AuditSeal): written only by a process holding the master key
    sealed_seq: Mapped[int | None] = mapped_column(Integer)
    sealed_mac: Mapped[str | None] = mapped_column(String(64))


class AuditSeal(Base):
    """A keyed checkpoint of the chain: ``mac = HMAC(key from the master key, archive, seq, hash,
    previous seal's mac)``. Intake writes events without the key; any process that holds it seals."""

    __tablename__ = "audit_seals"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))  # the chain's hash at ``seq``
    mac: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(32))


INPUT_STATES = ("queued", "processing", "done", "quarantined")
DECISIONS = ("retain", "shred", "review")
SOURCES = ("barcode", "ocr_text", "manual")


class Input(Base):
    """A file (or a group of single-page files) taken from a drop folder: also the job queue.

    ``sha256`` is unique, so the same bytes are never taken in twice. The spool holds the content
    under that hash until the input's documents are committed. ``display_name`` is the name the
    file had in the drop folder; it is shown to staff and never used for a file name of ours.
    """

    __tablename__ = "inputs"
    __table_args__ = (CheckConstraint("state IN " + str(INPUT_STATES), name="state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    profile: Mapped[str] = mapped_column(String(64))
    members: Mapped[int] = mapped_column(Integer, default=1)  # files in a group of single-page scans
    member_names: Mapped[str | None] = mapped_column(Text)  # JSON list of a group's file names
    size: Mapped[int] = mapped_column(Integer)
    source_mtime_ns: Mapped[int | None] = mapped_column(Integer().with_variant(BigInteger(), "postgresql"))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(16), index=True)
    host: Mapped[str | None] = mapped_column(String(255))  # spool id of the data dir whose spool holds the copy
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    pages: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)  # why the last attempt failed (no file content)

    documents: Mapped[list[Document]] = relationship(back_populates="input", order_by="Document.id")


class Document(Base):
    """One paper document: its pages, its case, its retain/shred decision and why."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("decision IN " + str(DECISIONS), name="decision"),
        CheckConstraint("source IN " + str(SOURCES), name="source"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    input_id: Mapped[int] = mapped_column(ForeignKey("inputs.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    doc_class: Mapped[str | None] = mapped_column(String(48))
    decision: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    pages: Mapped[int] = mapped_column(Integer)
    source_pages: Mapped[str] = mapped_column(Text)  # JSON list of "<input file name>#<page>"
    state: Mapped[str] = mapped_column(String(16))  # filed | review | shred-only | disposed
    suggested_ref: Mapped[str | None] = mapped_column(String(40))  # a reference seen but not usable
    vault_item: Mapped[str | None] = mapped_column(String(40), unique=True)  # opaque blob id
    encrypted_to: Mapped[str | None] = mapped_column(String(16))  # "case" | "archive" (review copies)
    plaintext_sha256: Mapped[str | None] = mapped_column(String(64))
    ciphertext_sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    sheet_decision: Mapped[str | None] = mapped_column(String(8))  # what its cover sheet said: retain | shred
    # a born-digital or signed PDF's own bytes, kept beside the PDF/A copy (encrypted to the same key)
    original_item: Mapped[str | None] = mapped_column(String(40), unique=True)
    original_sha256: Mapped[str | None] = mapped_column(String(64))
    original_ciphertext_sha256: Mapped[str | None] = mapped_column(String(64))
    original_size: Mapped[int | None] = mapped_column(Integer)
    #: scanned while archiving the case (its cover sheet said ARCHIVE): not new activity on the case
    archiving: Mapped[bool] = mapped_column(Boolean, default=False)

    input: Mapped[Input] = relationship(back_populates="documents")
    case: Mapped[Case | None] = relationship()
    shred_entry: Mapped[ShredEntry | None] = relationship(back_populates="document", uselist=False)


class ShredEntry(Base):
    """The paper of one document, to be shredded once staff confirm it (and, for a retained
    document, only after its scan is on a verified disc)."""

    __tablename__ = "shred_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), unique=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    confirmed_on: Mapped[dt.date | None] = mapped_column(Date)
    document: Mapped[Document] = relationship(back_populates="shred_entry")


class QuarantineEntry(Base):
    """An input that could not be processed, or a duplicate of one already taken in.

    ``file`` is the name it had in the drop folder; ``path`` (relative to the data dir, an opaque
    name) is where the kept copy lies, or empty when nothing needed keeping (a duplicate).
    """

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(primary_key=True)
    input_id: Mapped[int | None] = mapped_column(ForeignKey("inputs.id"), index=True)
    file: Mapped[str] = mapped_column(Text)
    profile: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    path: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


DISC_STATUSES = ("built", "verified", "in-cupboard", "failed", "destroyed")


class Disc(Base):
    """The disc register: one row per CD image built, where the disc is, and what state it is in.

    Only items on a disc that passed verification count as archived."""

    __tablename__ = "discs"
    __table_args__ = (CheckConstraint("status IN " + str(DISC_STATUSES), name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(32), unique=True)
    iso_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer().with_variant(BigInteger(), "postgresql"))
    dispose_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    location: Mapped[str | None] = mapped_column(Text)
    built_at: Mapped[dt.datetime] = mapped_column(DateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    verify_level: Mapped[str | None] = mapped_column(String(8))  # quick | full
    verified_from: Mapped[str | None] = mapped_column(String(8))  # image (the .iso file) | disc (a mounted or burnt disc)
    # last verification read from the archive medium itself (the optical drive or a mounted CD);
    # cleared when a verification fails
    medium_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    medium_mac: Mapped[str | None] = mapped_column(String(64))  # pipeline.verify_marks: made with the master key
    destroyed_on: Mapped[dt.date | None] = mapped_column(Date)
    items: Mapped[list[DiscItemRow]] = relationship(back_populates="disc", order_by="DiscItemRow.id")
    # disc-burn: the image 'media build' wrote; whether it carries dvdisaster RS02 data (None: not
    # recorded, a disc built before this column); the last burn (when, and to what: "drive" for a
    # block device, "file" for a pseudo-drive file); the label of a degraded disc this one replaces
    image_path: Mapped[str | None] = mapped_column(Text)
    ecc: Mapped[bool | None] = mapped_column(Boolean)
    burnt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    burnt_to: Mapped[str | None] = mapped_column(String(16))
    replaces: Mapped[str | None] = mapped_column(String(32))


class DiscItemRow(Base):
    """A document's encrypted blob as written on a disc, with the disposal date in its index."""

    __tablename__ = "disc_items"
    __table_args__ = (UniqueConstraint("disc_id", "document_id", name="disc_document"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    disc_id: Mapped[int] = mapped_column(ForeignKey("discs.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    vault_item: Mapped[str] = mapped_column(String(40))
    case_ref: Mapped[str] = mapped_column(String(40), index=True)
    dispose_after: Mapped[dt.date] = mapped_column(Date)
    # when a full verification decrypted this item and found its plaintext hash right
    checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    checked_mac: Mapped[str | None] = mapped_column(String(64))  # pipeline.verify_marks: made with the master key
    disc: Mapped[Disc] = relationship(back_populates="items")


class DisposalRun(Base):
    """One annual disposal run. Cases it disposed of point to it, so an interrupted run is finished
    by running it again, and its certificate covers everything it did."""

    __tablename__ = "disposal_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    operator: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    certificate: Mapped[str | None] = mapped_column(Text)  # JSON of the certificate, kept permanently


class DisposalPlanRecord(Base):
    """A prepared disposal run, waiting for its approval (pipeline.disposal_plans): the plan as it
    was shown, and the hash of its decisive content that the approval and the execution check."""

    __tablename__ = "disposal_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    sha256: Mapped[str] = mapped_column(String(64))
    plan: Mapped[str] = mapped_column(Text)  # JSON of the plan, as prepared
    approvers_required: Mapped[int] = mapped_column(Integer)
    prepared_by: Mapped[str] = mapped_column(String(64))
    prepared_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("disposal_runs.id"))
    executed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


STAFF_ROLES = ("staff", "manager")


class StaffAccount(Base):
    """A staff login: its role and its login state. The secret is its key slot (:class:`KeySlot`);
    a disabled account keeps this row (for the audit log's names) and loses its slot."""

    __tablename__ = "staff_accounts"
    __table_args__ = (CheckConstraint("role IN ('staff', 'manager')", name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: the password was set by a manager's reset: it opens nothing but a password change
    must_change: Mapped[bool] = mapped_column(Boolean, default=False)
    #: failed logins in a row, the earliest next attempt (exponential backoff), and the lock
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    locked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class KeySlot(Base):
    """An account's own copy of the master key, wrapped under its password (see docs/formats.md).
    ``slot_version`` counts re-wraps and is bound into the record with the account and its role."""

    __tablename__ = "key_slots"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), unique=True)
    slot_version: Mapped[int] = mapped_column(Integer)
    record: Mapped[bytes] = mapped_column(LargeBinary)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime)


SAFEGUARDING_KINDS = ("concern", "disclosure")


class SafeguardingRecord(Base):
    """A safeguarding concern, or a disclosure made under the policy's one exception
    (pipeline.safeguarding). Who decided and when are plain; what the concern is, to whom it was
    disclosed, what was shared and why are ``sealed``: an age file encrypted to the case's key, so
    that only the master key reads them and the case's disposal erases them with its key."""

    __tablename__ = "safeguarding_records"
    __table_args__ = (CheckConstraint("kind IN ('concern', 'disclosure')", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("holds.id"))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


ROUND_PURPOSES = ("dispose", "verify")


class DiscRound(Base):
    """Discs presented one at a time, over one sitting or several, for one disposal run or one
    read-back of the cupboard (pipeline.disc_rounds). Open until the run it was for is executed
    (``closed_at``); the plan is made from the discs presented in it."""

    __tablename__ = "disc_rounds"
    __table_args__ = (CheckConstraint("purpose IN " + str(ROUND_PURPOSES), name="purpose"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_because: Mapped[str | None] = mapped_column(Text)
    discs: Mapped[list[PresentedDiscRow]] = relationship(back_populates="round", order_by="PresentedDiscRow.id")


class PresentedDiscRow(Base):
    """One disc read in a round: what its signed index said (its label, its cases' disposal dates)
    and what it was read from. ``mac``: made with the master key (pipeline.verify_marks), so a row
    written into the database by hand does not count as a disc presented."""

    __tablename__ = "presented_discs"
    __table_args__ = (UniqueConstraint("round_id", "label", name="round_label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("disc_rounds.id"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    items: Mapped[int] = mapped_column(Integer)
    index_sha256: Mapped[str] = mapped_column(String(64))  # which disc of that label: its index's content
    case_dates: Mapped[str] = mapped_column(Text)  # JSON: case reference -> earliest dispose-after on the disc
    read_from: Mapped[str] = mapped_column(String(8))  # drive | disc | image | folder
    presented_by: Mapped[str] = mapped_column(String(64))
    presented_at: Mapped[dt.datetime] = mapped_column(DateTime)
    times: Mapped[int] = mapped_column(Integer)  # how often it was put in during the round
    mac: Mapped[str | None] = mapped_column(String(64))
    round: Mapped[DiscRound] = relationship(back_populates="discs")


class Appointment(Base):
    """A booked slot in a staff member's diary (pipeline.diary): every member of staff sees when and
    where; only the adviser it belongs to and managers see whose case it is. ``place`` is shown to
    everyone, so it may not carry a case reference (checked when booking)."""

    __tablename__ = "appointments"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime)
    place: Mapped[str] = mapped_column(String(120))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    booked_by: Mapped[str] = mapped_column(String(64))
    booked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    account: Mapped[StaffAccount] = relationship()
    case: Mapped[Case | None] = relationship()
