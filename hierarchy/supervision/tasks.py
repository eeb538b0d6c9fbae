"""Celery jobs of supervision: refresh one tenant's snapshots (on demand), or all of them (nightly, after
the dues and rights jobs; a full recomputation on Sundays catches edits the incremental run cannot see)."""

from __future__ import annotations

import logging
from typing import Any

from celery.schedules import crontab
from sqlalchemy import select

from app.extensions import db
from app.security.actor import Actor
from app.worker import celery
from tenants.context import TenantRef
from tenants.models import Tenant

log = logging.getLogger(__name__)

celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "supervision.refresh_all": {"task": "supervision.refresh_all", "schedule": crontab(hour=2, minute=30)},
    "supervision.refresh_all_full": {
        "task": "supervision.refresh_all",
        "schedule": crontab(hour=3, minute=30, day_of_week=0),
        "kwargs": {"full": True},
    },
}


@celery.task(name="supervision.refresh_tenant")
def refresh_tenant_task(slug: str, full: bool = False) -> dict[str, Any]:
    """Refresh one tenant (sent without a tenant header: the job enters the tenant's context to compute and
    leaves it to publish in ``public``), then evaluate the alert rules."""
    from hierarchy.supervision import alerts, snapshots

    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise LookupError(f"supervision.refresh_tenant: no tenant {slug!r}")
    ref = TenantRef.of(tenant)
    actor = Actor.system("supervision.refresh")
    report = snapshots.refresh_tenant(db.session, ref, full=full)
    alerts.evaluate_after_refresh(db.session, actor, ref, report.last_month)
    log.info("supervision snapshots of %s: %s", slug, report.as_dict())
    return report.as_dict()


@celery.task(name="supervision.refresh_all")
def refresh_all_task(full: bool = False) -> list[str]:
    """Queue one refresh per tenant that is not archived; returns their slugs."""
    from hierarchy.supervision.snapshots import active_tenants

    slugs = [t.slug for t in active_tenants(db.session)]
    for slug in slugs:
        refresh_tenant_task.apply_async((slug, full))
    return slugs
