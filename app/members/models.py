"""Adhérents, ayants droit, their history, consent, enrolment drafts, register imports and card keys.

One table holds every beneficiary: an adhérent has no ``principal_id``; an ayant droit points to its adhérent
and says how it is related. Each has its own number, status and history (openIMIS's Family/Insuree, folded).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import TenantModel, new_public_id, string_enum, utcnow


class Sex(enum.StrEnum):
    female = "F"
    male = "M"


class Relationship(enum.StrEnum):
    principal = "principal"  # the adhérent
    spouse = "spouse"
    child = "child"
    other = "other"


class MemberStatus(enum.StrEnum):
    pending = "pending"
    active = "active"
    suspended = "suspended"
    left = "left"
    deceased = "deceased"


class Member(TenantModel):
    __tablename__ = "members"
    __table_args__ = (
        # Trigram search without the pg_trgm extension (absent from the embedded server): the name's
        # trigrams, computed like pg_trgm does, in a GIN-indexed array (core PostgreSQL).
        Index("ix_members_name_trigrams", "name_trigrams", postgresql_using="gin"),
        Index("ix_members_birth", "name_key", "birth_year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    #: Human-readable, with an ISO 7064 check character (``app.members.numbers``).
    number: Mapped[str] = mapped_column(String(24), unique=True)
    principal_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    #: How an ayant droit is related to the adhérent (column "relationship").
    relation: Mapped[Relationship] = mapped_column(
        "relationship", string_enum(Relationship), default=Relationship.principal
    )
    last_name: Mapped[str] = mapped_column(String(80))
    first_names: Mapped[str] = mapped_column(String(120))
    sex: Mapped[Sex] = mapped_column(string_enum(Sex))
    #: The exact date when known; otherwise only ``birth_year`` ("vers 1980").
    birth_date: Mapped[dt.date | None]
    birth_year: Mapped[int]
    birth_place: Mapped[str | None] = mapped_column(String(120))
    national_id: Mapped[str | None] = mapped_column(String(20), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    phone_alt: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    commune: Mapped[str | None] = mapped_column(String(80))
    region: Mapped[str | None] = mapped_column(String(80))
    trade: Mapped[str | None] = mapped_column(String(60))
    #: The association of enrolment (a hierarchy node id of this mutual); ayants droit share their adhérent's.
    association_id: Mapped[int] = mapped_column(index=True)
    enrolled_on: Mapped[dt.date]
    status: Mapped[MemberStatus] = mapped_column(string_enum(MemberStatus), default=MemberStatus.pending)
    status_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Path of the resized photo under the media directory (never in the row itself).
    photo_path: Mapped[str | None] = mapped_column(String(200))
    #: "diop awa": casefolded, without accents, for search and duplicate checks.
    name_key: Mapped[str] = mapped_column(String(200))
    name_trigrams: Mapped[list[str]] = mapped_column(ARRAY(String(3)), default=list)
    #: Import idempotency: the register's own reference, or a hash of identity fields.
    external_ref: Mapped[str | None] = mapped_column(String(60), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    principal: Mapped[Member | None] = relationship(remote_side=[id], back_populates="dependants")
    dependants: Mapped[list[Member]] = relationship(back_populates="principal", order_by="Member.id")
    history: Mapped[list[MemberStatusEvent]] = relationship(
        back_populates="member", order_by="MemberStatusEvent.id"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_names} {self.last_name}"

    @property
    def is_principal(self) -> bool:
        return self.principal_id is None

    def age_on(self, day: dt.date) -> int:
        """Completed years; with a year only, as of the 1st of July of that year (the usual convention)."""
        born = self.birth_date or dt.date(self.birth_year, 7, 1)
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class MemberStatusEvent(TenantModel):
    __tablename__ = "member_status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500), default="")
    effective_on: Mapped[dt.date]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(200))

    member: Mapped[Member] = relationship(back_populates="history")


class Consent(TenantModel):
    """Consent to the processing of personal and health data, as collected at enrolment."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    text_version: Mapped[str] = mapped_column(String(20))
    given_on: Mapped[dt.date]
    collected_by_id: Mapped[int | None]
    collected_by_label: Mapped[str] = mapped_column(String(200))
    scan_path: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[dt.datetime | None]
    withdrawn_by_label: Mapped[str | None] = mapped_column(String(200))
    withdrawal_reason: Mapped[str | None] = mapped_column(String(500))


class EnrolmentDraft(TenantModel):
    """What an agent has typed so far, kept server-side: a lost connection or a power cut loses nothing."""

    __tablename__ = "enrolment_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    account_id: Mapped[int] = mapped_column(index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    step: Mapped[str] = mapped_column(String(20), default="identity")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))  # set once enrolled


class ImportStatus(enum.StrEnum):
    uploaded = "uploaded"
    mapped = "mapped"
    checked = "checked"  # dry run done
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class MemberImport(TenantModel):
    """An uploaded register (CSV or XLSX) on its way in: mapping, dry run, then a Celery job."""

    __tablename__ = "member_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    filename: Mapped[str] = mapped_column(String(200))
    stored_path: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64))
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    association_id: Mapped[int | None]
    status: Mapped[ImportStatus] = mapped_column(string_enum(ImportStatus), default=ImportStatus.uploaded)
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)  # already there (same file twice)
    rejected_count: Mapped[int] = mapped_column(default=0)
    #: The rejected rows with their reasons (CSV under the media directory), for download.
    report_path: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None]
    created_by_label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class CardKey(TenantModel):
    """The mutual's Ed25519 key pair for card tokens: providers verify offline with the public key."""

    __tablename__ = "card_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(40), unique=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    #: AES-GCM under MBOLO_ENCRYPTION_KEYS (``app.security.crypto``), AAD "card-key:<tenant>:<kid>".
    private_key_ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None]


#: Sequence of member numbers (one per tenant schema), created by the tenant migration.
NUMBER_SEQUENCE = "member_number_seq"
