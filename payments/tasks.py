"""Celery jobs of online payments: process one inbox row (sent after the webhook's commit), and poll the
pending payments of every tenant (and expire the stale ones)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab
from sqlalchemy import select

from app.extensions import db
from app.worker import celery
from tenants.context import current_tenant_of

celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "payments.poll_all_pending": {"task": "payments.poll_all_pending", "schedule": crontab(minute="*")},
}


@celery.task(name="payments.process_inbox")
def process_inbox(inbox_id: int) -> bool:
    """Apply one webhook event (idempotent: a redelivered message finds the row processed)."""
    from payments.service import process_inbox_row

    tenant = current_tenant_of(db.session)
    assert tenant is not None, "payments.process_inbox needs its tenant header"
    return process_inbox_row(db.session, tenant, inbox_id)


@celery.task(name="payments.poll_pending")
def poll_pending() -> dict[str, int]:
    from payments.service import poll_pending as poll

    tenant = current_tenant_of(db.session)
    assert tenant is not None, "payments.poll_pending needs its tenant header"
    return poll(db.session, tenant)


@celery.task(name="payments.poll_all_pending")
def poll_all_pending() -> int:
    """Queue ``payments.poll_pending`` for every active tenant."""
    from tenants.context import TenantRef
    from tenants.models import Tenant, TenantStatus

    tenants: list[Any] = list(db.session.scalars(select(Tenant).where(Tenant.status == TenantStatus.active)))
    for tenant in tenants:
        poll_pending.apply_async(tenant=TenantRef.of(tenant))
    return len(tenants)
