"""Celery jobs of contributions: the dues of one tenant up to a date, and a beat-friendly job that queues
it for every active tenant. Both are safe to run twice (generation is idempotent)."""

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

log = logging.getLogger(__name__)


def default_through() -> dt.date:
    """The end of the current month of the business clock: a run early in the month calls the whole month."""
    from app.contributions.dues import end_of_month

    return end_of_month(clock.today())


@celery.task(name="contributions.generate_dues")
def generate_dues_task(through: str | None = None) -> dict[str, Any]:
    """Generate the tenant's dues up to ``through`` (ISO date; default: end of the current month), then
    bring the funders' receivables up to date for the months that got new dues. Chunks commit as they go."""
    from app.contributions.dues import generate_dues, refresh_subsidy_receivables
    from app.security.actor import Actor

    tenant = current_tenant_of(db.session)
    assert tenant is not None, "contributions.generate_dues needs its tenant header"
    day = dt.date.fromisoformat(through) if through else default_through()
    actor = Actor.system("contributions.generate_dues")
    report = generate_dues(db.session, tenant, through=day, actor=actor)
    if report.first_period is not None:
        refresh_subsidy_receivables(db.session, tenant, since=report.first_period, actor=actor)
    log.info("dues of %s through %s: %s created, %s already there", tenant.slug, day, report.created,
             report.skipped)  # fmt: skip
    return {"tenant": tenant.slug, "through": day.isoformat(), "created": report.created,
            "skipped": report.skipped, "joining_fees": report.joining_fees}  # fmt: skip


# Celery beat: the dues of the new periods before the night's rights refresh (coverage.tasks, 01:30).
celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "contributions.generate_all_dues": {
        "task": "contributions.generate_all_dues",
        "schedule": crontab(hour=0, minute=30),
    },
}


@celery.task(name="contributions.generate_all_dues")
def generate_all_dues(through: str | None = None) -> int:
    """For a periodic schedule (Celery beat, a timer): queue ``contributions.generate_dues`` for every
    active tenant, each in its own context. Returns how many were queued."""
    from tenants.models import Tenant, TenantStatus

    tenants = db.session.scalars(
        select(Tenant).where(Tenant.status == TenantStatus.active).order_by(Tenant.slug)
    ).all()
    refs = [TenantRef.of(t) for t in tenants]
    for ref in refs:
        generate_dues_task.apply_async((through,), tenant=ref)
    return len(refs)
