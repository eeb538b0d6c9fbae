"""Claims side of care: provider invoices (bordereaux), care records and their lines with the outcome of the
automatic controls and of the médecin-conseil's review, payment batches to providers, and ceiling alerts.
Tenant tables; money is integer XOF (sums in BIGINT)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.care import models as _provider_side  # noqa: F401 - the tables these refer to
from app.care.controls import Outcome, ReviewStatus
from app.database import TenantModel, new_public_id, string_enum, utcnow


class InvoiceStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    checked = "checked"
    in_review = "in_review"
    validated = "validated"
    paid = "paid"
    rejected = "rejected"


class InvoiceSource(enum.StrEnum):
    provider = "provider"
    agent = "agent"
    api = "api"
    upload = "upload"


class BatchStatus(enum.StrEnum):
    open = "open"
    paid = "paid"


class CareInvoice(TenantModel):
    """A bordereau: a provider's care records for a period, submitted together for payment."""

    __tablename__ = "care_invoices"
    __table_args__ = (Index("ix_care_invoices_status", "status", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("care_providers.id"), index=True)
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    status: Mapped[InvoiceStatus] = mapped_column(string_enum(InvoiceStatus), default=InvoiceStatus.draft)
    source: Mapped[InvoiceSource] = mapped_column(string_enum(InvoiceSource), default=InvoiceSource.provider)
    #: the provider's own reference (API and uploads: a second submission of it changes nothing)
    external_ref: Mapped[str | None] = mapped_column(String(80))
    amount_asked: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_accepted: Mapped[int] = mapped_column(BigInteger, default=0)  # the mutual's share
    member_share: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_label: Mapped[str] = mapped_column(String(200), default="")
    submitted_at: Mapped[dt.datetime | None]
    checked_at: Mapped[dt.datetime | None]
    validated_at: Mapped[dt.datetime | None]
    validated_by_label: Mapped[str | None] = mapped_column(String(200))
    paid_at: Mapped[dt.datetime | None]
    payment_batch_id: Mapped[int | None] = mapped_column(ForeignKey("payment_batches.id"), index=True)

    records: Mapped[list[CareRecord]] = relationship(back_populates="invoice", order_by="CareRecord.id")


class CareRecord(TenantModel):
    """One visit: a beneficiary's care at a provider on a date (attestation de prestation)."""

    __tablename__ = "care_records"
    __table_args__ = (
        Index("ix_care_records_member_date", "member_id", "care_date"),
        Index("ix_care_records_provider_date", "provider_id", "care_date"),
        UniqueConstraint("provider_id", "external_ref", name="uq_care_records_provider_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("care_invoices.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("care_providers.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    care_date: Mapped[dt.date]
    prescriber: Mapped[str] = mapped_column(String(200), default="")
    diagnosis: Mapped[str | None] = mapped_column(String(300))
    guarantee_letter_id: Mapped[int | None] = mapped_column(ForeignKey("guarantee_letters.id"))
    #: the provider's reference of the record (uploads, API): a second import of it changes nothing
    external_ref: Mapped[str | None] = mapped_column(String(80))
    entered_by_label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    invoice: Mapped[CareInvoice | None] = relationship(back_populates="records")
    lines: Mapped[list[CareLine]] = relationship(
        back_populates="record", order_by="CareLine.id", cascade="all, delete-orphan"
    )


class CareLine(TenantModel):
    """An act or medicine of a record, with what was asked and what the controls and valuation gave."""

    __tablename__ = "care_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("care_records.id"), index=True)
    benefit_id: Mapped[int] = mapped_column(ForeignKey("benefits.id"), index=True)
    quantity: Mapped[int]
    unit_price_asked: Mapped[int]
    amount_asked: Mapped[int] = mapped_column(BigInteger)
    agreed_unit_price: Mapped[int | None]
    quantity_accepted: Mapped[int] = mapped_column(default=0)
    amount_accepted: Mapped[int] = mapped_column(BigInteger, default=0)  # the mutual's share
    member_share: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome: Mapped[Outcome] = mapped_column(string_enum(Outcome), default=Outcome.pending)
    reason_codes: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    #: the product's coverage rule that valued the line (ceilings are counted per rule)
    product_benefit_id: Mapped[int | None] = mapped_column(ForeignKey("product_benefits.id"), index=True)
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_status: Mapped[ReviewStatus] = mapped_column(string_enum(ReviewStatus), default=ReviewStatus.none)
    reviewed_by_label: Mapped[str | None] = mapped_column(String(200))
    review_note: Mapped[str | None] = mapped_column(String(500))
    reviewed_at: Mapped[dt.datetime | None]

    record: Mapped[CareRecord] = relationship(back_populates="lines")


class PaymentBatch(TenantModel):
    """Validated invoices grouped for payment to their providers (a bank-transfer file, a mobile-money payout
    file and a statement per provider)."""

    __tablename__ = "payment_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_label: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[BatchStatus] = mapped_column(string_enum(BatchStatus), default=BatchStatus.open)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    method: Mapped[str] = mapped_column(String(20), default="mixed")
    paid_at: Mapped[dt.datetime | None]


class CeilingAlert(TenantModel):
    """A beneficiary at 80 % or more of a ceiling of a benefit in a year (once per member, rule, year)."""

    __tablename__ = "ceiling_alerts"
    __table_args__ = (
        UniqueConstraint(
            "member_id", "product_benefit_id", "year", name="uq_ceiling_alerts_member_rule_year"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    product_benefit_id: Mapped[int] = mapped_column(ForeignKey("product_benefits.id"))
    year: Mapped[int]
    consumed: Mapped[int] = mapped_column(BigInteger)
    ceiling: Mapped[int] = mapped_column(BigInteger)
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None]
