"""Online payments (tenant schema): the payment and its state, every transition with the provider's raw
event, the webhook inbox (one row per provider event: a redelivery changes nothing) and the embedded
sandbox's own record of what the simulated phone answered."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import TenantModel, new_public_id, string_enum, utcnow


class OnlineStatus(enum.StrEnum):
    created = "created"
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    expired = "expired"
    cancelled = "cancelled"
    refunded = "refunded"
    partially_refunded = "partially_refunded"


class EventSource(enum.StrEnum):
    webhook = "webhook"
    poll = "poll"
    user = "user"
    system = "system"


class OnlinePayment(TenantModel):
    """A payment started online for a household; credited to its dues once, when the provider confirms."""

    __tablename__ = "online_payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"),
        Index("ix_online_payments_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)  # the adhérent
    provider: Mapped[str] = mapped_column(String(30))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="XOF")
    status: Mapped[OnlineStatus] = mapped_column(string_enum(OnlineStatus), default=OnlineStatus.created)
    provider_ref: Mapped[str | None] = mapped_column(String(120))
    redirect_url: Mapped[str | None] = mapped_column(String(1000))
    instructions: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
    succeeded_at: Mapped[dt.datetime | None]
    refunded_amount: Mapped[int] = mapped_column(default=0)
    contribution_payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("contribution_payments.id", name="fk_online_payments_contribution_payment")
    )
    #: Orange Money's notification carries only a token: we keep its SHA-256 to find the payment again.
    notif_token_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(String(300))
    started_by_label: Mapped[str] = mapped_column(String(200), default="")

    events: Mapped[list[PaymentEvent]] = relationship(back_populates="payment", order_by="PaymentEvent.id")


class PaymentEvent(TenantModel):
    """One transition (or an event that changed nothing: late, out of order, refused), with its raw data."""

    __tablename__ = "online_payment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("online_payments.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    source: Mapped[EventSource] = mapped_column(string_enum(EventSource))
    provider_event_id: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(300))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    payment: Mapped[OnlinePayment] = relationship(back_populates="events")


class PaymentInbox(TenantModel):
    """A provider's notification as received (verified), processed later by the worker exactly once."""

    __tablename__ = "payment_inbox"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(30))
    event_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The event as the provider's adapter parsed it at intake (re-verifying later could fail on age).
    parsed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(String(500))


class SandboxCharge(TenantModel):
    """The sandbox provider's own ledger: what the simulated phone answered (fetch_status reads it)."""

    __tablename__ = "sandbox_charges"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_ref: Mapped[str] = mapped_column(String(120), unique=True)
    payment_public_id: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    refunded_amount: Mapped[int] = mapped_column(default=0)
    return_url: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[dt.datetime | None]


class ProviderCredential(TenantModel):
    """A mutual's merchant account with one provider: the credentials as JSON, encrypted at rest with AES-GCM
    (``app.security.crypto``, AAD ``provider:<tenant>:<provider>``). Changing them is a critical function."""

    __tablename__ = "provider_credentials"

    provider: Mapped[str] = mapped_column(String(30), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_label: Mapped[str] = mapped_column(String(200), default="")


class ReconciliationRun(TenantModel):
    """One comparison of our ledger with a provider's report for one day (API or uploaded file)."""

    __tablename__ = "reconciliation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    provider: Mapped[str] = mapped_column(String(30))
    day: Mapped[dt.date]
    source: Mapped[str] = mapped_column(String(10))  # api | file
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | done | failed
    matched: Mapped[int] = mapped_column(default=0)
    differences: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class ReconciliationItem(TenantModel):
    """A difference found: missing on our side, missing on the provider's, or amounts that differ."""

    __tablename__ = "reconciliation_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # missing_ours | missing_theirs | amount_differs
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("online_payments.id"))
    our_amount: Mapped[int | None]
    their_amount: Mapped[int | None]
    resolved_at: Mapped[dt.datetime | None]
    resolved_by_label: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(String(500))
