"""Celery jobs of online payments: process one inbox row (sent after the webhook's commit), poll the
pending payments of every tenant (and expire the stale ones), and reconcile yesterday with each provider."""

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
    "payments.reconcile_all": {"task": "payments.reconcile_all", "schedule": crontab(hour=2, minute=0)},
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


@celery.task(name="payments.reconcile_tenant")
def reconcile_tenant(day_iso: str) -> int:
    """Reconcile ``day`` for every provider the tenant offers (from the provider: Sandbox ledger or status
    checks); one provider failing does not stop the others. How many runs were made."""
    import datetime as dt

    from payments.providers import registry
    from payments.providers.base import ProviderError
    from payments.reconciliation import reconcile_from_provider

    tenant = current_tenant_of(db.session)
    assert tenant is not None, "payments.reconcile_tenant needs its tenant header"
    day, made = dt.date.fromisoformat(day_iso), 0
    for name in registry.enabled(tenant):
        try:
            with db.session.begin_nested():  # a provider that cannot be built leaves no half run
                reconcile_from_provider(db.session, tenant, name, day)
            made += 1
        except (ProviderError, KeyError):
            continue
    return made


@celery.task(name="payments.reconcile_all")
def reconcile_all() -> int:
    """Queue yesterday's reconciliation (02:00, Dakar) for every active tenant."""
    import datetime as dt

    from app import clock
    from tenants.context import TenantRef
    from tenants.models import Tenant, TenantStatus

    day = (clock.today() - dt.timedelta(days=1)).isoformat()
    tenants: list[Any] = list(db.session.scalars(select(Tenant).where(Tenant.status == TenantStatus.active)))
    for tenant in tenants:
        reconcile_tenant.apply_async((day,), tenant=TenantRef.of(tenant))
    return len(tenants)
