"""The demo's providers: eight providers with active conventions priced from the catalogue, and one provider
staff account tied to the first; a second run adds nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.care import conventions
from app.care.demo import generate_providers
from app.care.models import CareProvider, ProviderUser
from app.coverage.models import Benefit, BenefitCategory
from app.database import local_today
from app.extensions import db
from tenants.context import tenant_scope
from tests.app.care.test_eligibility import tag


def test_demo_providers(app: Any, create_mutual: Any) -> None:
    tenant = create_mutual(f"demo{tag().lower()}")
    with app.app_context():
        with tenant_scope(db.session, tenant):
            db.session.add(Benefit(code="CONS-GEN", name="Consultation",
                                   category=BenefitCategory.consultation,
                                   reference_price=3000))  # fmt: skip
            db.session.commit()
        email = generate_providers(db.session, tenant)
        assert generate_providers(db.session, tenant) == email
        with tenant_scope(db.session, tenant):
            assert db.session.scalar(select(func.count()).select_from(CareProvider)) == 8
            assert db.session.scalar(select(func.count()).select_from(ProviderUser)) == 1
            hospital = db.session.scalar(select(CareProvider).where(CareProvider.kind == "hospital"))
            benefit = db.session.scalar(select(Benefit).where(Benefit.code == "CONS-GEN"))
            price = conventions.agreed_price(db.session, hospital.id, benefit.id, local_today())
            assert price is not None and 2500 <= price <= 3500
