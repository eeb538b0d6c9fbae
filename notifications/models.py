"""Notifications: the per-tenant outbox of SMS, e-mails and in-portal messages, the members' preferences, and
the platform's messages to staff accounts (``public.staff_messages``). A message is written in the same
transaction as the change that causes it and delivered by a Celery task after the commit. In the embedded
default the outbox itself is the SMS and e-mail channel (messages stay visible in the back office)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import SharedModel, TenantModel, new_public_id, utcnow


class MessageStatus(enum.StrEnum):
    queued = "queued"  #: waiting for (another) delivery attempt
    sending = "sending"  #: claimed by one worker (a conditional UPDATE), being handed to the channel
    sent = "sent"  #: accepted by the gateway or SMTP relay; a delivery receipt may follow
    delivered = "delivered"  #: delivered (receipt, in-portal row, or the embedded outbox)
    failed = "failed"  #: given up: permanent error or too many attempts (see last_error)


CHANNELS = ("sms", "email", "portal")


def _status_column() -> Mapped[MessageStatus]:
    return mapped_column(Enum(MessageStatus, native_enum=False, length=20), default=MessageStatus.queued)


class OutboxMessage(TenantModel):
    """A message to a member (or anyone, typed at the counter), in the mutual's own schema."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    channel: Mapped[str] = mapped_column(String(10))  #: sms | email | portal
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    event: Mapped[str | None] = mapped_column(String(40), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    locale: Mapped[str | None] = mapped_column(String(5))
    #: one message per key and channel at most (e.g. one due reminder per due), enforced by a unique index
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    status: Mapped[MessageStatus] = _status_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    read_at: Mapped[dt.datetime | None]  #: the portal channel: when the member opened it
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider: Mapped[str | None] = mapped_column(String(30))  #: outbox | http | smtp | portal
    provider_message_id: Mapped[str | None] = mapped_column(String(120), index=True)
    created_by_label: Mapped[str | None] = mapped_column(String(200))


class MemberPreference(TenantModel):
    """How a member wants to hear from the mutual. No row = French, SMS and portal on, no e-mail."""

    __tablename__ = "member_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    email: Mapped[str | None] = mapped_column(String(200))
    sms_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    portal_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_label: Mapped[str] = mapped_column(String(200), default="")


class StaffMessage(SharedModel):
    """A message to a staff account (its e-mail, else its phone), from the platform or from a mutual."""

    __tablename__ = "staff_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    account_id: Mapped[int] = mapped_column(ForeignKey("public.accounts.id"), index=True)
    tenant_id: Mapped[int | None] = mapped_column(Integer)  #: the mutual it came from, if any
    event: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(10))  #: email | sms
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    status: Mapped[MessageStatus] = _status_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    read_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider: Mapped[str | None] = mapped_column(String(30))
    provider_message_id: Mapped[str | None] = mapped_column(String(120), index=True)
    created_by_label: Mapped[str] = mapped_column(String(200), default="")
