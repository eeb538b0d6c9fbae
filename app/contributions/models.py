"""Subscriptions to products, dues per period (appels de cotisation), payments and their allocation. Nothing
is deleted: a cancelled payment or due keeps its row with a reason. Money is integer XOF."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import TenantModel, new_public_id, string_enum, utcnow


class SubscriptionStatus(enum.StrEnum):
    active = "active"
    ended = "ended"


class Subscription(TenantModel):
    """An adhérent's household subscribed to a product from a date."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_active", "status", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)  # the adhérent
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date | None]
    status: Mapped[SubscriptionStatus] = mapped_column(
        string_enum(SubscriptionStatus), default=SubscriptionStatus.active
    )
    end_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_label: Mapped[str] = mapped_column(String(200), default="")

    dues: Mapped[list[Due]] = relationship(back_populates="subscription", order_by="Due.period_start")


class DueKind(enum.StrEnum):
    contribution = "contribution"
    joining_fee = "joining_fee"


class DueStatus(enum.StrEnum):
    open = "open"
    paid = "paid"
    cancelled = "cancelled"


class Due(TenantModel):
    """What a household owes for one period of one subscription. Unique per (subscription, kind, period):
    generating twice creates nothing twice."""

    __tablename__ = "dues"
    __table_args__ = (
        UniqueConstraint("subscription_id", "kind", "period_start"),
        Index("ix_dues_open", "member_id", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))  # the adhérent (denormalised, for speed)
    version_id: Mapped[int] = mapped_column(ForeignKey("product_versions.id"))  # the tariff that priced it
    kind: Mapped[DueKind] = mapped_column(string_enum(DueKind), default=DueKind.contribution)
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    due_date: Mapped[dt.date]
    #: Gross contribution; the funders' share (subsidies of the version); what the household pays.
    amount: Mapped[int]
    subsidy_amount: Mapped[int] = mapped_column(default=0)
    member_amount: Mapped[int]
    paid_amount: Mapped[int] = mapped_column(default=0)  # sum of live allocations
    status: Mapped[DueStatus] = mapped_column(string_enum(DueStatus), default=DueStatus.open)
    cancelled_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    subscription: Mapped[Subscription] = relationship(back_populates="dues")

    @property
    def outstanding(self) -> int:
        return 0 if self.status is DueStatus.cancelled else max(0, self.member_amount - self.paid_amount)


class PaymentMethod(enum.StrEnum):
    cash = "cash"
    mobile_money = "mobile_money"
    card = "card"
    bank = "bank"


class PaymentStatus(enum.StrEnum):
    valid = "valid"
    cancelled = "cancelled"


class Payment(TenantModel):
    """Money received for a household (at the association, or online through the payments package)."""

    __tablename__ = "contribution_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)  # the adhérent
    amount: Mapped[int]
    method: Mapped[PaymentMethod] = mapped_column(string_enum(PaymentMethod), default=PaymentMethod.cash)
    receipt_number: Mapped[str] = mapped_column(String(40), unique=True)
    received_on: Mapped[dt.date]
    association_id: Mapped[int]  # where it was received (hierarchy node)
    agent_id: Mapped[int | None]
    agent_label: Mapped[str] = mapped_column(String(200))
    #: The online payment it came from (payments package), if any: applied once.
    external_ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[PaymentStatus] = mapped_column(string_enum(PaymentStatus), default=PaymentStatus.valid)
    cancelled_at: Mapped[dt.datetime | None]
    cancelled_reason: Mapped[str | None] = mapped_column(String(300))
    #: A correction cancels the original and points to it.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("contribution_payments.id"))
    #: What was not allocated (paid ahead of any due): kept as credit for the next dues.
    unallocated: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    allocations: Mapped[list[Allocation]] = relationship(back_populates="payment")


class Allocation(TenantModel):
    """Part of a payment applied to a due (oldest dues first). Reversed, never deleted, when the payment is
    cancelled."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("contribution_payments.id"), index=True)
    due_id: Mapped[int] = mapped_column(ForeignKey("dues.id"), index=True)
    amount: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reversed_at: Mapped[dt.datetime | None]

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    due: Mapped[Due] = relationship()


class ReceivableStatus(enum.StrEnum):
    expected = "expected"
    claimed = "claimed"
    received = "received"


class SubsidyReceivable(TenantModel):
    """What a funder owes the mutual for one month of dues (computed from the dues' versions), and where the
    claim stands."""

    __tablename__ = "subsidy_receivables"
    __table_args__ = (UniqueConstraint("funder", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    funder: Mapped[str] = mapped_column(String(80))
    period_start: Mapped[dt.date]
    amount: Mapped[int] = mapped_column(BigInteger)  # a funder's month can pass 2**31 F CFA
    status: Mapped[ReceivableStatus] = mapped_column(
        string_enum(ReceivableStatus), default=ReceivableStatus.expected
    )
    claimed_on: Mapped[dt.date | None]
    received_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    received_on: Mapped[dt.date | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
