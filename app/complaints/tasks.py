"""Celery jobs of complaints: every hour, overdue complaints go up one level (association → ligue →
fédération) and the staff at that level are told.

``complaints.escalate_all`` (hourly, from Celery beat) queues one ``complaints.escalate`` per active mutual,
each in its own tenant's context.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery.schedules import crontab
from sqlalchemy import select

from app.extensions import db
from app.worker import celery
from tenants.context import TenantRef, current_tenant_of
from tenants.models import Tenant, TenantStatus

log = logging.getLogger(__name__)

celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "complaints.escalate_all": {"task": "complaints.escalate_all", "schedule": crontab(minute=17)},
}


@celery.task(name="complaints.escalate")
def escalate(now: str | None = None) -> list[str]:
    """Escalate the task's mutual's overdue complaints (``now``: ISO datetime, for tests); returns the
    references escalated."""
    from app.complaints import services

    tenant = current_tenant_of(db.session)
    assert tenant is not None, "complaints.escalate needs its tenant header"
    at = dt.datetime.fromisoformat(now) if now else None
    done = [c.reference for c in services.escalate_overdue(db.session, tenant, now=at)]
    if done:
        log.info("complaints of %s escalated: %s", tenant.slug, ", ".join(done))
    return done


@celery.task(name="complaints.escalate_all")
def escalate_all(now: str | None = None) -> list[str]:
    """Queue ``complaints.escalate`` for every active mutual; returns their slugs."""
    tenants = db.session.scalars(
        select(Tenant).where(Tenant.status == TenantStatus.active).order_by(Tenant.slug)
    ).all()
    for tenant in tenants:
        escalate.apply_async((now,), tenant=TenantRef.of(tenant))
    return [t.slug for t in tenants]
