"""Complaints and their timeline (tenant schema). The ``complaints`` table is read directly by the
supervision indicators: its columns are a contract (see the shared brief), so change them with care."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import TenantModel, new_public_id, string_enum, utcnow


class Category(enum.StrEnum):
    refused_care = "refused_care"
    reimbursement = "reimbursement"
    reception = "reception"
    contribution = "contribution"
    other = "other"


class Channel(enum.StrEnum):
    portal = "portal"
    counter = "counter"


class Status(enum.StrEnum):
    received = "received"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    answered = "answered"
    closed = "closed"


OPEN_STATUSES = (Status.received, Status.acknowledged, Status.in_progress, Status.answered)


class Complaint(TenantModel):
    """One complaint of a member. Reference ``REC-<year>-<000123>``: gapless per mutual and year."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_queue", "status", "association_id"),
        Index("ix_complaints_filed_at", "filed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    association_id: Mapped[int]  # the member's association when filed (hierarchy node)
    category: Mapped[Category] = mapped_column(string_enum(Category))
    text: Mapped[str] = mapped_column(Text)
    photo_path: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[Channel] = mapped_column(string_enum(Channel), default=Channel.portal)
    status: Mapped[Status] = mapped_column(string_enum(Status), default=Status.received)
    #: 0 association, 1 ligue, 2 fédération.
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    escalated_at: Mapped[dt.datetime | None]
    assigned_to_id: Mapped[int | None]  # a public account id
    assigned_to_label: Mapped[str | None] = mapped_column(String(200))
    filed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    filed_by_id: Mapped[int | None]  # the agent at the counter (None: the member, from the portal)
    filed_by_label: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[dt.datetime | None]
    answered_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    ack_due_at: Mapped[dt.datetime]
    resolve_due_at: Mapped[dt.datetime]
    reopened_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    rated_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint", order_by="ComplaintEvent.id", cascade="save-update, merge"
    )

    def is_overdue(self, now: dt.datetime) -> bool:
        """Not acknowledged after ``ack_due_at``, or not answered nor closed after ``resolve_due_at``."""
        if self.status is Status.closed:
            return False
        if self.acknowledged_at is None and now > self.ack_due_at:
            return True
        return self.answered_at is None and now > self.resolve_due_at

    @property
    def next_due_at(self) -> dt.datetime | None:
        """The deadline that matters now (None once answered or closed)."""
        if self.status is Status.closed or self.answered_at is not None:
            return None
        return self.ack_due_at if self.acknowledged_at is None else self.resolve_due_at


class EventKind(enum.StrEnum):
    filed = "filed"
    acknowledged = "acknowledged"
    assigned = "assigned"
    note = "note"
    reply = "reply"
    closed = "closed"
    reopened = "reopened"
    rated = "rated"
    escalated = "escalated"


class Visibility(enum.StrEnum):
    internal = "internal"
    member = "member"


class ComplaintEvent(TenantModel):
    """One line of a complaint's timeline. ``member`` lines are shown in the portal; ``internal`` ones only
    to staff. Never updated nor deleted."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    kind: Mapped[EventKind] = mapped_column(string_enum(EventKind))
    visibility: Mapped[Visibility] = mapped_column(string_enum(Visibility))
    body: Mapped[str] = mapped_column(Text, default="")
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    author_id: Mapped[int | None]
    author_label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    complaint: Mapped[Complaint] = relationship(back_populates="events")
