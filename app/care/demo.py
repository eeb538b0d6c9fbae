"""Demo providers: per demo mutual about eight providers across regions and kinds, each with an active
convention (negotiated prices for its kind's part of the catalogue, or the reference grid at a rate), and one
provider staff account per mutual (listed with the demo logins). Idempotent: a second run adds nothing."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.care.models import (
    CareProvider,
    Convention,
    ConventionPrice,
    ConventionStatus,
    PayoutMethod,
    Pricing,
    ProviderKind,
    ProviderUser,
)
from app.coverage.models import Benefit, BenefitCategory
from app.database import local_today
from app.security.actor import Actor
from app.security.services import ensure_account
from tenants.context import TenantRef, tenant_scope

#: (code suffix, name, kind, region, commune)
PROVIDERS = (
    ("HOP-PIK", "Hôpital de Pikine", ProviderKind.hospital, "Dakar", "Pikine"),
    ("CS-MED", "Centre de santé de la Médina", ProviderKind.health_centre, "Dakar", "Médina"),
    ("PS-THI", "Poste de santé de Thiès-Nord", ProviderKind.health_post, "Thiès", "Thiès"),
    ("PH-KAO", "Pharmacie du Marché, Kaolack", ProviderKind.pharmacy, "Kaolack", "Kaolack"),
    ("PH-DKR", "Pharmacie Sandaga", ProviderKind.pharmacy, "Dakar", "Plateau"),
    ("LAB-STL", "Laboratoire de Saint-Louis", ProviderKind.laboratory, "Saint-Louis", "Saint-Louis"),
    ("IMG-ZIG", "Centre d'imagerie de Ziguinchor", ProviderKind.imaging, "Ziguinchor", "Ziguinchor"),
    ("OPT-TBA", "Optique de Tambacounda", ProviderKind.optician, "Tambacounda", "Tambacounda"),
)
PAYOUTS = (PayoutMethod.bank_transfer, PayoutMethod.wave, PayoutMethod.orange_money)
KIND_CATEGORIES = {
    ProviderKind.hospital: None,  # everything
    ProviderKind.health_centre: {
        BenefitCategory.consultation,
        BenefitCategory.maternity,
        BenefitCategory.other,
    },
    ProviderKind.health_post: {BenefitCategory.consultation, BenefitCategory.maternity},
    ProviderKind.pharmacy: {BenefitCategory.medicine},
    ProviderKind.laboratory: {BenefitCategory.laboratory},
    ProviderKind.imaging: {BenefitCategory.imaging},
    ProviderKind.optician: {BenefitCategory.optical},
}


def generate_providers(session: Session, tenant: TenantRef) -> str:
    """Providers, conventions and prices of one mutual; returns the provider staff login."""
    actor = Actor.system("demo")
    rng = random.Random(f"providers:{tenant.slug}")  # noqa: S311 - demo data
    prefix = tenant.slug[:3].upper()
    starts = (local_today() - dt.timedelta(days=365)).replace(day=1)
    with tenant_scope(session, tenant):
        if session.scalar(select(CareProvider.id).limit(1)) is None:
            benefits = list(session.scalars(select(Benefit).where(Benefit.active.is_(True))))
            for index, (suffix, name, kind, region, commune) in enumerate(PROVIDERS):
                provider = CareProvider(
                    code=f"{prefix}-{suffix}", name=name, kind=kind, region=region, commune=commune,
                    phone=f"+22133{rng.randint(8000000, 8999999)}",
                    payout_method=PAYOUTS[index % 3],
                    payout_account=f"SN{rng.randint(10**9, 10**10 - 1)}",
                )  # fmt: skip
                session.add(provider)
                session.flush()
                grid = kind in (ProviderKind.pharmacy, ProviderKind.laboratory)
                convention = Convention(
                    provider_id=provider.id, reference=f"CONV-{prefix}-{index + 1:03d}", starts_on=starts,
                    pricing=Pricing.reference_grid if grid else Pricing.negotiated,
                    reference_rate_pct=rng.choice((90, 95, 100)) if grid else 100,
                    payment_delay_days=rng.choice((30, 45, 60)), status=ConventionStatus.active,
                )  # fmt: skip
                session.add(convention)
                session.flush()
                if not grid:
                    wanted = KIND_CATEGORIES.get(kind)
                    for benefit in benefits:
                        if benefit.reference_price and (wanted is None or benefit.category in wanted):
                            factor = rng.choice((0.9, 0.95, 1.0, 1.05))
                            session.add(
                                ConventionPrice(
                                    convention_id=convention.id,
                                    benefit_id=benefit.id,
                                    price=int(round(benefit.reference_price * factor, -1)),
                                )  # fmt: skip
                            )
            session.commit()
        first = session.scalar(select(CareProvider).order_by(CareProvider.id).limit(1))
        first_id = first.id if first else None
    if first_id is None:
        return ""
    from tenants.models import Tenant

    record = session.get(Tenant, tenant.id)
    email = f"prestataire.{tenant.slug}@mbolo.sn"
    from app.demo import demo_password

    account = ensure_account(
        session, actor, email=email, full_name=f"Accueil {PROVIDERS[0][1]}", password=demo_password(),
        grants=((record.federation_id, "provider_staff"),),
    )  # fmt: skip
    account_id = account.id
    session.commit()
    with tenant_scope(session, tenant):
        if session.scalar(select(ProviderUser.id).where(ProviderUser.account_id == account_id)) is None:
            session.add(ProviderUser(provider_id=first_id, account_id=account_id))
            session.commit()
    return email


def generate_all(session: Session) -> list:
    """Every demo mutual's providers; the provider staff logins for the demo list."""
    from app.demo import TENANTS, DemoLogin
    from tenants import services as tenants

    logins = []
    for slug, _name, _sector, _federation in TENANTS:
        tenant = tenants.find_tenant(session, slug)
        if tenant is None:
            continue
        email = generate_providers(session, TenantRef.of(tenant))
        if email:
            logins.append(DemoLogin(email, f"Accueil d'un prestataire (hôpital), mutuelle {slug}"))
    return logins
