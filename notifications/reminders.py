"""Reminders before a due date: every open due of a household falling due in N days (tenant setting
``notifications.reminder_days``, else ``MBOLO_REMINDER_DAYS``, default 3) and not paid gets one reminder —
never twice: each message carries the key ``due.reminder:<due id>`` (unique per channel in the outbox), so a
rerun the same day, or the next day for a due it already covered, writes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.contributions.models import Due, DueStatus
from app.members.models import Member
from app.security.actor import Actor
from notifications.config import setting
from tenants.context import TenantRef
from tenants.models import TenantSetting

SETTING_KEY = "notifications.reminder_days"
WORKER = Actor.system("rappels")


@dataclass
class ReminderReport:
    dues: int = 0
    reminded: int = 0
    messages: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def reminder_days(session: Session) -> int:
    row = session.get(TenantSetting, SETTING_KEY)
    if row is not None and row.value not in (None, ""):
        return int(row.value)
    return int(setting("MBOLO_REMINDER_DAYS"))


def dedupe_key(due: Due) -> str:
    return f"due.reminder:{due.id}"


def send_due_reminders(session: Session, tenant: TenantRef, today: dt.date) -> ReminderReport:
    """Reminders for dues falling due between today and today + N days, not yet reminded. A due whose
    date is within the window is caught even if a daily run was missed."""
    from notifications.services import notify

    report = ReminderReport()
    horizon = today + dt.timedelta(days=reminder_days(session))
    dues = session.scalars(
        select(Due)
        .where(
            Due.status == DueStatus.open,
            Due.due_date > today,
            Due.due_date <= horizon,
            Due.paid_amount < Due.member_amount,
        )
        .order_by(Due.member_id, Due.due_date, Due.id)
    ).all()
    for due in dues:
        report.dues += 1
        household = session.get(Member, due.member_id)
        if household is None:
            continue
        try:
            with session.begin_nested():  # a unique-key race with another run only undoes this due
                written = notify(
                    session,
                    tenant,
                    WORKER,
                    event="due.reminder",
                    member=household,
                    context={"amount": due.member_amount - due.paid_amount, "due_on": due.due_date},
                    dedupe_key=dedupe_key(due),
                )
        except IntegrityError:
            continue
        if written:
            report.reminded += 1
            report.messages += len(written)
    return report
