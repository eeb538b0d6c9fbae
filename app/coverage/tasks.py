"""Celery jobs of coverage: rights move with the calendar (a waiting period ends, a grace period runs out)
without anyone touching the file, so a daily job records those changes for every beneficiary.

``coverage.refresh_all_rights`` (daily, from Celery beat) queues one ``coverage.refresh_rights`` per active
mutual, each in its own tenant's context: one mutual's failure or size never holds up the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery.schedules import crontab
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.worker import celery
from tenants.context import TenantRef, current_tenant_of
from tenants.models import Tenant, TenantStatus

log = logging.getLogger(__name__)
#: Adhérents per committed batch: bounded memory and audit-chain lock time, progress kept on a crash.
BATCH_SIZE = 500

# Celery beat (``celery -A app.celery_main:celery beat``) imports this module through ``imports`` and reads
# the schedule after: early in the night in Dakar (the app's Celery timezone), before the agents' day.
celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "coverage.refresh_all_rights": {
        "task": "coverage.refresh_all_rights",
        "schedule": crontab(hour=1, minute=30),
    },
}


@celery.task(name="coverage.refresh_rights")
def refresh_rights(day: str | None = None) -> dict[str, Any]:
    """Refresh the rights of every beneficiary of the task's mutual for ``day`` (ISO; the business date by
    default), committing batch by batch; a rerun after a crash only writes what is still missing."""
    from app.coverage import rights

    tenant = current_tenant_of(db.session)
    assert tenant is not None, "coverage.refresh_rights needs its tenant header"
    on = dt.date.fromisoformat(day) if day else clock.today()

    def commit(report: rights.RefreshReport) -> None:
        db.session.commit()
        log.info("rights of %s on %s: %s households, %s changes", tenant.slug, on, report.households,
                 report.changes)  # fmt: skip

    return rights.refresh_tenant(db.session, tenant, on, batch_size=BATCH_SIZE, after_batch=commit).as_dict()


@celery.task(name="coverage.refresh_all_rights")
def refresh_all_rights(day: str | None = None) -> list[str]:
    """Queue ``coverage.refresh_rights`` for every active mutual; returns their slugs."""
    tenants = db.session.scalars(
        select(Tenant).where(Tenant.status == TenantStatus.active).order_by(Tenant.slug)
    ).all()
    for tenant in tenants:
        refresh_rights.apply_async((day,), tenant=TenantRef.of(tenant))
    return [t.slug for t in tenants]
