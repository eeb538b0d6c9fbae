from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import TenantModel, new_public_id, utcnow


class MessageStatus(enum.StrEnum):
    queued = "queued"
    delivered = "delivered"
    failed = "failed"


class OutboxMessage(TenantModel):
    """A message to a member or staff, written in the same transaction as the change that causes it."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    channel: Mapped[str] = mapped_column(String(10))  #: sms | email
    recipient: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(
        Enum(MessageStatus, native_enum=False, length=20), default=MessageStatus.queued
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
