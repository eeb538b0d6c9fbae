"""The demo's invoices: five months per provider in every state (paid in a batch, validated, checked or in
review, draft), valued by the controls; a second run adds nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.care.claims_demo import generate
from app.care.claims_models import CareInvoice, CareLine, PaymentBatch
from app.extensions import db
from hierarchy import services as hierarchy
from hierarchy.services import NodeDetails
from tenants.context import tenant_scope
from tenants.models import Tenant
from tests.app.care.test_invoices import build_care, tag
from tests.fixtures.app import SYSTEM


def test_demo_invoices_in_every_state(app: Any, create_mutual: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2027-05-31")
    tenant = create_mutual(f"demo{tag().lower()}")
    with app.app_context():
        federation = db.session.scalar(select(Tenant).where(Tenant.id == tenant.id)).federation
        league = hierarchy.create_child(
            db.session, SYSTEM, parent=federation, code=f"L-{tag()}", details=NodeDetails(name="Ligue")
        )
        association = hierarchy.create_child(
            db.session, SYSTEM, parent=league, code=f"A-{tag()}", details=NodeDetails(name="Association")
        )
        db.session.commit()
        with tenant_scope(db.session, tenant):
            build_care(db.session, tenant, association.id)
            db.session.commit()
        assert generate(db.session, tenant) == 5  # January to May
        db.session.commit()
        assert generate(db.session, tenant) == 0
        with tenant_scope(db.session, tenant):
            statuses = dict(
                db.session.execute(
                    select(CareInvoice.status, func.count()).group_by(CareInvoice.status)
                ).all()
            )
            # the current month a draft; older months checked, validated, paid (a month where every line
            # was refused is rejected: the random visits differ with the mutual's name)
            assert statuses.get("draft") == 1
            assert set(statuses) <= {"paid", "validated", "checked", "in_review", "draft", "rejected"}
            assert {"paid", "validated"} & set(statuses)
            outcomes = set(db.session.scalars(select(CareLine.outcome).distinct()))
            assert {"accepted", "pending"} <= outcomes and ({"reduced", "rejected"} & outcomes)
            batches = db.session.scalar(select(func.count()).select_from(PaymentBatch))
            assert (batches > 0) == bool(statuses.get("paid"))  # one batch per paid month
