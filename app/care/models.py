"""Provider side of care: the provider register, conventions (versioned, with their prices), provider staff
accounts, guarantee letters and eligibility checks. Tenant tables; money is integer XOF.

A convention is never overwritten: a new version (``supersedes_id``) starts on a date, and the version
in force on the care date prices the care (``app.care.conventions.agreed_price``)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.coverage.models import Benefit
from app.database import TenantModel, new_public_id, string_enum, utcnow


class ProviderKind(enum.StrEnum):
    hospital = "hospital"
    health_centre = "health_centre"
    health_post = "health_post"
    pharmacy = "pharmacy"
    laboratory = "laboratory"
    imaging = "imaging"
    optician = "optician"
    dentist = "dentist"
    other = "other"


class ProviderStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"
    closed = "closed"


class PayoutMethod(enum.StrEnum):
    bank_transfer = "bank_transfer"
    wave = "wave"
    orange_money = "orange_money"


class CareProvider(TenantModel):
    """A care point under convention (or not yet): hospital, health centre, pharmacy, laboratory…"""

    __tablename__ = "care_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ProviderKind] = mapped_column(string_enum(ProviderKind))
    region: Mapped[str] = mapped_column(String(80), default="")
    commune: Mapped[str] = mapped_column(String(80), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[ProviderStatus] = mapped_column(string_enum(ProviderStatus), default=ProviderStatus.active)
    payout_method: Mapped[PayoutMethod] = mapped_column(
        string_enum(PayoutMethod), default=PayoutMethod.bank_transfer
    )
    payout_account: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    conventions: Mapped[list[Convention]] = relationship(
        back_populates="provider", order_by="(Convention.starts_on, Convention.version)"
    )


class Pricing(enum.StrEnum):
    negotiated = "negotiated"  # a price per act or medicine in convention_prices
    reference_grid = "reference_grid"  # the catalogue's reference price × reference_rate_pct / 100


class ConventionStatus(enum.StrEnum):
    draft = "draft"
    active = "active"
    ended = "ended"


class Convention(TenantModel):
    """One version of a provider's convention. A new version supersedes the previous one from its start
    date; the old version keeps its rows (it ends the day before)."""

    __tablename__ = "conventions"
    __table_args__ = (Index("ix_conventions_provider_dates", "provider_id", "starts_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    provider_id: Mapped[int] = mapped_column(ForeignKey("care_providers.id"))
    reference: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(default=1)
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date | None]
    pricing: Mapped[Pricing] = mapped_column(string_enum(Pricing), default=Pricing.negotiated)
    reference_rate_pct: Mapped[int] = mapped_column(default=100)
    payment_delay_days: Mapped[int] = mapped_column(default=30)
    status: Mapped[ConventionStatus] = mapped_column(
        string_enum(ConventionStatus), default=ConventionStatus.draft
    )
    document_path: Mapped[str | None] = mapped_column(String(300))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("conventions.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    provider: Mapped[CareProvider] = relationship(back_populates="conventions")
    prices: Mapped[list[ConventionPrice]] = relationship(
        back_populates="convention", cascade="all, delete-orphan"
    )

    def in_force_on(self, day: dt.date) -> bool:
        return (
            self.status != ConventionStatus.draft
            and self.starts_on <= day
            and (self.ends_on is None or day <= self.ends_on)
        )


class ConventionPrice(TenantModel):
    __tablename__ = "convention_prices"
    __table_args__ = (UniqueConstraint("convention_id", "benefit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    convention_id: Mapped[int] = mapped_column(ForeignKey("conventions.id"))
    benefit_id: Mapped[int] = mapped_column(ForeignKey("benefits.id"), index=True)
    price: Mapped[int]

    convention: Mapped[Convention] = relationship(back_populates="prices")
    benefit: Mapped[Benefit] = relationship(lazy="joined")


class ProviderUser(TenantModel):
    """A provider staff account (public account with the ``provider_staff`` profile on the mutual's node),
    limited to this provider's data."""

    __tablename__ = "provider_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("care_providers.id"), index=True)
    account_id: Mapped[int] = mapped_column(unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    provider: Mapped[CareProvider] = relationship(lazy="joined")


class LetterStatus(enum.StrEnum):
    pending_approval = "pending_approval"
    issued = "issued"
    refused = "refused"
    consumed = "consumed"
    cancelled = "cancelled"
    expired = "expired"


class GuaranteeLetter(TenantModel):
    """A lettre de garantie (prise en charge): the mutual guarantees acts for a beneficiary at a provider."""

    __tablename__ = "guarantee_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("care_providers.id"), index=True)
    issued_on: Mapped[dt.date]
    valid_until: Mapped[dt.date]
    estimated_amount: Mapped[int] = mapped_column(default=0)
    status: Mapped[LetterStatus] = mapped_column(string_enum(LetterStatus))
    decided_by_label: Mapped[str | None] = mapped_column(String(200))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_label: Mapped[str] = mapped_column(String(200), default="")

    provider: Mapped[CareProvider] = relationship(lazy="joined")
    items: Mapped[list[GuaranteeLetterItem]] = relationship(
        back_populates="letter", cascade="all, delete-orphan", order_by="GuaranteeLetterItem.id"
    )


class GuaranteeLetterItem(TenantModel):
    __tablename__ = "guarantee_letter_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("guarantee_letters.id"), index=True)
    benefit_id: Mapped[int] = mapped_column(ForeignKey("benefits.id"))
    quantity: Mapped[int]
    unit_price: Mapped[int]
    needs_approval: Mapped[bool] = mapped_column(default=False)
    approved: Mapped[bool | None]
    consumed_quantity: Mapped[int] = mapped_column(default=0)

    letter: Mapped[GuaranteeLetter] = relationship(back_populates="items")
    benefit: Mapped[Benefit] = relationship(lazy="joined")


class CheckChannel(enum.StrEnum):
    web = "web"
    api = "api"
    fhir = "fhir"
    qr = "qr"


class EligibilityCheck(TenantModel):
    """One check of a beneficiary's rights at a counter (or through the API)."""

    __tablename__ = "eligibility_checks"
    __table_args__ = (Index("ix_eligibility_checks_member", "member_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("care_providers.id"), index=True)
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    covered: Mapped[bool]
    reason_code: Mapped[str] = mapped_column(String(40))
    channel: Mapped[CheckChannel] = mapped_column(string_enum(CheckChannel))
    actor_label: Mapped[str] = mapped_column(String(200), default="")


class SignalKind(enum.StrEnum):
    provider_cost = "provider_cost"  # average cost per visit far above the peers of the same kind
    frequent_visits = "frequent_visits"  # a beneficiary's visits far above the others'
    same_day_providers = "same_day_providers"  # one card at two consulting providers on one day
    care_after_exit = "care_after_exit"  # care dated after the member's death or departure


class SignalStatus(enum.StrEnum):
    open = "open"
    closed = "closed"


class CareSignal(TenantModel):
    """A fraud or abuse signal for the médecin-conseil, raised once (``key``) and closed with a comment."""

    __tablename__ = "care_signals"
    __table_args__ = (Index("ix_care_signals_status", "status", "raised_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[SignalKind] = mapped_column(string_enum(SignalKind))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("care_providers.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    value: Mapped[int | None]
    threshold: Mapped[int | None]
    detail: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[SignalStatus] = mapped_column(string_enum(SignalStatus), default=SignalStatus.open)
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    closed_by_label: Mapped[str | None] = mapped_column(String(200))
    close_comment: Mapped[str | None] = mapped_column(String(1000))
