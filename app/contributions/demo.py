"""Demo coverage and contributions: two products per mutual (a basic package subsidised by the State and a
complementary one), a benefits catalogue, subscriptions a year back, the year's dues and payments — most
households up to date, some in arrears, a few never paying after joining. Deterministic; runs once."""

from __future__ import annotations

import datetime as dt
import random
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.contributions import payments, subscriptions
from app.contributions.dues import generate_dues
from app.contributions.models import Payment
from app.coverage import benefits, products
from app.coverage.models import Product
from app.coverage.products import BandInput, SubsidyInput, TariffInput
from app.database import local_today
from app.members.models import Member, MemberStatus
from app.security.actor import Actor
from tenants.context import TenantRef, tenant_scope

ACTS = (
    ("CONS", "Consultation de médecine générale", "consultation", 3000),
    ("CONS-SPE", "Consultation spécialisée", "consultation", 7000),
    ("HOSP", "Journée d'hospitalisation", "hospitalisation", 15000),
    ("ACC", "Accouchement simple", "maternity", 25000),
    ("CPN", "Consultation prénatale", "maternity", 2000),
    ("LAB-NFS", "Numération formule sanguine", "laboratory", 4000),
    ("LAB-GE", "Goutte épaisse (paludisme)", "laboratory", 1500),
    ("RADIO", "Radiographie standard", "imaging", 10000),
    ("ECHO", "Échographie", "imaging", 15000),
    ("DENT", "Extraction dentaire", "dental", 5000),
    ("OPT", "Lunettes (monture et verres)", "optical", 30000),
)
#: (code, rate %, extra rules) per product.
BASE_COVERAGE = (
    ("CONS", 80, {}), ("CONS-SPE", 70, {}), ("HOSP", 80, {"ceiling_per_household_year": 300000}),
    ("ACC", 100, {"sex": "F", "min_age": 12}), ("CPN", 100, {"sex": "F"}), ("LAB-NFS", 70, {}),
    ("LAB-GE", 100, {}),
)  # fmt: skip
COMPLEMENTARY_COVERAGE = (
    ("RADIO", 70, {"prior_approval": True}), ("ECHO", 70, {"prior_approval": True}),
    ("DENT", 70, {"ceiling_per_beneficiary_year": 20000}),
    ("OPT", 70, {"frequency_count": 1, "frequency_months": 24, "ceiling_per_act": 25000}),
)  # fmt: skip


def _catalogue(session: Session, tenant: TenantRef, actor: Actor) -> None:
    for code, name, category, price in ACTS:
        benefits.create_benefit(
            session, tenant, actor,
            benefits.BenefitInput(code=code, name=name, category=category, reference_price=str(price)),
        )  # fmt: skip
    data = resources.files("app.coverage").joinpath("data/essential_medicines_sample.csv").read_bytes()
    benefits.import_medicines_csv(session, tenant, actor, data, filename="essential_medicines_sample.csv")


def _products(session: Session, tenant: TenantRef, actor: Actor, start: dt.date) -> tuple[Product, Product]:
    base = products.create_product(
        session, tenant, actor, code="BASE", name="Paquet de base (CMU)",
        description="Soins de santé primaires et hospitalisation, subventionnés par l'État.",
        valid_from=start,
        tariff=TariffInput(basis="per_beneficiary", amount="1000", periodicity="monthly", joining_fee="1000",
                           waiting_days="60", grace_days="30", max_beneficiaries="10", child_age_limit="21",
                           bands=[BandInput("age", "0", "4", "500")],
                           subsidies=[SubsidyInput("État du Sénégal", "50", "")]),
    )  # fmt: skip
    complementary = products.create_product(
        session, tenant, actor, code="COMP", name="Complémentaire",
        description="Imagerie, soins dentaires et optique.", valid_from=start,
        tariff=TariffInput(basis="per_household", amount="9000", periodicity="quarterly", waiting_days="90",
                           grace_days="30", bands=[BandInput("household_size", "1", "3", "6000"),
                                                   BandInput("household_size", "4", "6", "9000"),
                                                   BandInput("household_size", "7", "40", "12000")]),
    )  # fmt: skip
    for product, rules in ((base, BASE_COVERAGE), (complementary, COMPLEMENTARY_COVERAGE)):
        for code, rate, extra in rules:
            benefit = benefits.get_benefit(session, tenant, actor, code)
            benefits.set_product_benefit(session, tenant, actor, product, benefit, rate_percent=rate, **extra)
    session.flush()
    return base, complementary


def generate(session: Session, tenant: TenantRef) -> int:
    """Products, subscriptions, a year of dues and payments; returns the number of payments recorded."""
    actor = Actor.system("demo")
    today = local_today()
    start = (today.replace(day=1) - dt.timedelta(days=365)).replace(day=1)
    # Each step is idempotent on its own, so a demo interrupted half-way completes on the next run.
    with tenant_scope(session, tenant):
        households = list(
            session.scalars(
                select(Member).where(Member.principal_id.is_(None), Member.status == MemberStatus.active)
            )
        )
        household_ids = [p.id for p in households]
        rng = random.Random(f"contributions:{tenant.slug}")  # noqa: S311 - demo data
        if session.scalar(select(Product.id).limit(1)) is None:
            _catalogue(session, tenant, actor)
            base, complementary = _products(session, tenant, actor, start)
            for principal in households:
                joined = max(start, principal.enrolled_on)
                subscriptions.subscribe(session, tenant, actor, principal, base, joined)
                if rng.random() < 0.3:
                    subscriptions.subscribe(session, tenant, actor, principal, complementary, joined)
        session.commit()
        if session.scalar(select(Payment.id).limit(1)) is not None:
            return 0
    generate_dues(session, tenant, through=today)
    count = 0
    with tenant_scope(session, tenant):
        for principal in list(
            session.scalars(select(Member).where(Member.id.in_(household_ids)).order_by(Member.id))
        ):
            dues = sorted(
                (d for s in subscriptions.subscriptions_of(session, principal) for d in s.dues),
                key=lambda d: d.due_date,
            )
            habit = rng.random()  # up to date, stopped paying a few months ago, or never paid again
            stop = (
                today
                if habit < 0.8
                else today - dt.timedelta(days=rng.randint(70, 150))
                if habit < 0.95
                else start
            )
            owed = [d for d in dues if d.due_date <= stop]
            for chunk in (owed[: len(owed) // 2], owed[len(owed) // 2 :]):
                amount = sum(d.member_amount for d in chunk)
                if amount <= 0:
                    continue
                payments.record_payment(
                    session, tenant, actor, principal, amount=amount,
                    received_on=min(today, max(d.due_date for d in chunk)),
                )  # fmt: skip
                count += 1
        session.commit()
    return count
