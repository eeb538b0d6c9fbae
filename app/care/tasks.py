"""Celery jobs of the claims side: ``care.check_invoices`` runs the controls and the valuation of submitted
invoices too large to check within the request (in the invoices' tenant, committed at the end)."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.worker import celery
from tenants.context import current_tenant_of


@celery.task(name="care.check_invoices")
def check_invoices(invoice_ids: list[int]) -> dict[str, Any]:
    from app.care import invoices

    tenant = current_tenant_of(db.session)
    assert tenant is not None, "care.check_invoices needs its tenant header"
    return invoices.check_invoices(db.session, tenant, invoice_ids).as_dict()
