"""The database schema (SQLAlchemy 2.0 typed models). Alembic migrations in ``migrations/``.

The register holds no more than the policy needs: a case is a reference and dates; there is no
field for a parent's or child's name, address or contact details, so a parent can stay anonymous.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
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
