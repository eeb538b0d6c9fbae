"""Celery jobs of notifications.

- ``notifications.deliver_message`` (tenant header) / ``notifications.deliver_staff_message`` (no tenant):
  claim the message (conditional UPDATE, committed at once), hand it to its channel, store the outcome.
  A transient failure is committed with its error and the task retries itself after the stored exponential
  delay (``MBOLO_NOTIFY_BACKOFF_SECONDS`` × 2^(attempt − 1)); after ``MBOLO_NOTIFY_MAX_ATTEMPTS`` the
  message is failed. A redelivered task finds the message no longer queued and does nothing.
- ``notifications.sweep`` (every 5 minutes): queued messages whose retry was lost are sent again, and
  messages left "sending" by a killed worker are failed (never sent twice).
- ``notifications.send_due_reminders`` (daily 08:00, Dakar): one reminder per household and due N days
  before the due date, per active mutual.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab
from sqlalchemy import select

from app.extensions import db
from app.worker import celery
from notifications.models import OutboxMessage, StaffMessage
from tenants.context import TenantRef, bind_tenant, current_tenant_of
from tenants.models import Tenant, TenantStatus

celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "notifications.sweep": {"task": "notifications.sweep", "schedule": 300.0},
    "notifications.send_all_due_reminders": {
        "task": "notifications.send_all_due_reminders",
        "schedule": crontab(hour=8, minute=0),
    },
}


def _receipt_url(scope: str) -> str | None:
    from flask import current_app

    base = current_app.config.get("MBOLO_BASE_URL")
    return f"{str(base).rstrip('/')}/notifications/sms/accuse/{scope}" if base else None


def _run(task: Any, model: type[OutboxMessage] | type[StaffMessage], public_id: str, scope: str) -> str:
    from notifications import services

    if not services.claim(db.session, model, public_id):
        db.session.rollback()
        return "skipped"
    db.session.commit()  # the claim stands even if the worker dies while the channel works
    outcome = services.send_claimed(db.session, model, public_id, receipt_url=_receipt_url(scope))
    if outcome.retry_in is not None:
        db.session.commit()  # keep the attempt and its error; the retry finds the message queued again
        raise task.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.status


@celery.task(bind=True, name="notifications.deliver_message")
def deliver_message(self: Any, public_id: str) -> str:
    """Deliver one outbox message of the task's tenant."""
    tenant = current_tenant_of(db.session)
    assert tenant is not None, "notifications.deliver_message needs its tenant header"
    return _run(self, OutboxMessage, public_id, tenant.slug)


@celery.task(bind=True, name="notifications.deliver_staff_message")
def deliver_staff_message(self: Any, public_id: str) -> str:
    """Deliver one staff message (public schema: runs outside any tenant, whoever queued it)."""
    bind_tenant(db.session, None)
    return _run(self, StaffMessage, public_id, "_staff")


@celery.task(name="notifications.sweep_tenant")
def sweep_tenant() -> dict[str, int]:
    from notifications import services

    failed = services.fail_interrupted(db.session, OutboxMessage)
    again = services.due_for_retry(db.session, OutboxMessage)
    for public_id in again:
        deliver_message.apply_async((public_id,), tenant=current_tenant_of(db.session))
    return {"failed": failed, "requeued": len(again)}


@celery.task(name="notifications.sweep")
def sweep() -> list[str]:
    """Staff messages here; each active mutual's outbox in its own task."""
    from notifications import services

    bind_tenant(db.session, None)
    services.fail_interrupted(db.session, StaffMessage)
    for public_id in services.due_for_retry(db.session, StaffMessage):
        deliver_staff_message.apply_async((public_id,), tenant=None)
    return _each_tenant(sweep_tenant)


def _each_tenant(task: Any, *args: Any) -> list[str]:
    tenants = db.session.scalars(
        select(Tenant).where(Tenant.status == TenantStatus.active).order_by(Tenant.slug)
    ).all()
    for tenant in tenants:
        task.apply_async(args, tenant=TenantRef.of(tenant))
    return [t.slug for t in tenants]


@celery.task(name="notifications.send_due_reminders")
def send_due_reminders(day: str | None = None) -> dict[str, int]:
    """Remind the task's mutual's households of dues coming in N days (once per household and due)."""
    import datetime as dt

    from app import clock
    from notifications import reminders

    tenant = current_tenant_of(db.session)
    assert tenant is not None, "notifications.send_due_reminders needs its tenant header"
    on = dt.date.fromisoformat(day) if day else clock.today()
    return reminders.send_due_reminders(db.session, tenant, on).as_dict()


@celery.task(name="notifications.send_all_due_reminders")
def send_all_due_reminders(day: str | None = None) -> list[str]:
    return _each_tenant(send_due_reminders, day)
