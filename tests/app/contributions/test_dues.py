"""Pricing (the reference Python) and dues generation (set-based SQL): same amounts, idempotent runs,
periods aligned on the start date, tariff changes, joining fees, receivables.

Each test that generates dues gets a mutual of its own (``mutual``): generation runs over a whole tenant, so
counts stay exact whatever other tests put in alpha."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.contributions import dues as dues_module
from app.contributions.dues import end_of_month, generate_dues, refresh_subsidy_receivables
from app.contributions.models import (
    Due,
    DueKind,
    DueStatus,
    ReceivableStatus,
    Subscription,
    SubscriptionStatus,
    SubsidyReceivable,
)
from app.contributions.pricing import Person, household_at, price
from app.contributions.subscriptions import subscribe
from app.coverage.models import (
    BandDimension,
    Basis,
    Periodicity,
    Product,
    ProductVersion,
    TariffBand,
    VersionSubsidy,
)
from app.database import local_today
from app.extensions import db
from app.members import services as members
from app.members.models import Member, MemberStatus
from app.members.services import ConsentInput, DependantInput, household_of
from app.platform import owner_engine
from hierarchy import services as hierarchy
from hierarchy.services import NodeDetails
from tenants.context import TenantRef, tenant_scope
from tenants.services import create_tenant
from tests.app.members.conftest import person
from tests.fixtures.app import SYSTEM, node, unique

D = dt.date
LONG_AGO = D(2020, 1, 1)


# --- building blocks (imported by the other contribution tests) -------------------------------------------


@dataclass(frozen=True)
class Mutual:
    """A mutual of its own: fédération → ligue → two associations, and a second ligue with one."""

    tenant: TenantRef
    federation: str
    league: str
    associations: tuple[int, ...]  # ids: two under ``league``, one under the second ligue
    other_league: str


def make_mutual(app: Flask) -> Mutual:
    with app.app_context():
        session = db.session
        fed = hierarchy.create_child(
            session, SYSTEM, parent=node("MIN"), code=unique("FED-"), details=NodeDetails(name="Fédé cotis.")
        )
        leagues, associations = [], []
        for league_name, count in (("Ligue Dakar", 2), ("Ligue Thiès", 1)):
            league = hierarchy.create_child(
                session, SYSTEM, parent=fed, code=unique("LIG-"), details=NodeDetails(name=league_name)
            )
            leagues.append(league.code)
            for i in range(count):
                association = hierarchy.create_child(
                    session, SYSTEM, parent=league, code=unique("ASS-"),
                    details=NodeDetails(name=f"Association {league_name[6:]} {i + 1}"),
                )  # fmt: skip
                associations.append(association.id)
        federation_code = fed.code
        session.commit()
        tenant = create_tenant(
            owner_engine(app), SYSTEM, slug=unique("c").lower(), name="Mutuelle cotisations",
            sector="artisanat", federation_code=federation_code,
        )  # fmt: skip
    return Mutual(tenant, federation_code, leagues[0], tuple(associations), leagues[1])


@pytest.fixture
def mutual(app: Flask, world: object) -> Mutual:
    return make_mutual(app)


@pytest.fixture
def in_mutual(session: Session, mutual: Mutual) -> Iterable[Session]:
    with tenant_scope(session, mutual.tenant):
        yield session


def add_version(
    session: Session,
    product: Product,
    *,
    effective_from: dt.date = LONG_AGO,
    basis: str = "per_beneficiary",
    amount: int = 0,
    periodicity: str = "monthly",
    bands: Sequence[tuple[str, int, int, int]] = (),
    subsidies: Sequence[tuple[str, int | None, int | None]] = (),
    max_beneficiaries: int | None = None,
    child_age_limit: int | None = None,
    joining_fee: int = 0,
) -> ProductVersion:
    version = ProductVersion(
        product_id=product.id, number=len(product.versions) + 1, effective_from=effective_from,
        basis=Basis(basis), amount=amount, periodicity=Periodicity(periodicity), joining_fee=joining_fee,
        max_beneficiaries=max_beneficiaries, child_age_limit=child_age_limit,
        bands=[TariffBand(dimension=BandDimension(d), low=lo, high=hi, amount=a) for d, lo, hi, a in bands],
        subsidies=[VersionSubsidy(funder=f, percent=p, amount=a) for f, p, a in subsidies],
    )  # fmt: skip
    session.add(version)
    session.flush()
    session.expire(product, ["versions"])
    return version


def make_product(session: Session, *, valid_from: dt.date = LONG_AGO, **version: object) -> Product:
    product = Product(code=unique("P"), name="Produit test", valid_from=valid_from)
    session.add(product)
    session.flush()
    add_version(session, product, **version)  # type: ignore[arg-type]
    return product


def make_household(
    session: Session,
    mutual: Mutual,
    *,
    birth: str = "1980",
    dependants: Sequence[tuple[str, str]] = (),
    association: int = 0,
    consent: bool = True,
) -> Member:
    """An adhérent (born ``birth``) with ayants droit ((relationship, birth), …), at one association."""
    principal = members.enrol(
        session, mutual.tenant, SYSTEM, person=person(birth=birth),
        association_id=mutual.associations[association], sector="artisanat",
        dependants=[DependantInput(person(birth=b), relation) for relation, b in dependants],
        consent=ConsentInput(given_on=local_today()) if consent else None, allow_duplicates=True,
    )  # fmt: skip
    session.flush()
    return principal


def add_months(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return D(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def expected_periods(start: dt.date, months: int, through: dt.date) -> list[tuple[dt.date, dt.date]]:
    found, k = [], 0
    while (begin := add_months(start, k * months)) <= through:
        found.append((begin, add_months(start, (k + 1) * months) - dt.timedelta(days=1)))
        k += 1
    return found


def dues_of(session: Session, subscription: Subscription, kind: DueKind = DueKind.contribution) -> list[Due]:
    return list(
        session.scalars(
            select(Due)
            .where(Due.subscription_id == subscription.id, Due.kind == kind)
            .order_by(Due.period_start)
            .execution_options(populate_existing=True)
        )
    )


# --- pricing, by hand ---------------------------------------------------------------------------------------


def version(**values: object) -> ProductVersion:
    """An unsaved tariff (pricing needs no database)."""
    bands = values.pop("bands", ())
    subsidies = values.pop("subsidies", ())
    defaults: dict[str, object] = {
        "basis": Basis.per_beneficiary, "amount": 0, "periodicity": Periodicity.monthly,
        "max_beneficiaries": None, "child_age_limit": None, "joining_fee": 0, "effective_from": D(2026, 1, 1),
    }  # fmt: skip
    made = ProductVersion(**{**defaults, **values})
    made.bands = [TariffBand(id=i, dimension=BandDimension(d), low=lo, high=hi, amount=a)
                  for i, (d, lo, hi, a) in enumerate(bands, start=1)]  # fmt: skip
    made.subsidies = [VersionSubsidy(id=i, funder=f, percent=p, amount=a)
                      for i, (f, p, a) in enumerate(subsidies, start=1)]  # fmt: skip
    return made


AGE_BANDS = (("age", 0, 4, 1000), ("age", 5, 17, 1500), ("age", 18, 59, 3500))
DAY = D(2026, 3, 1)


def test_per_adherent_is_the_adherents_age_band_or_the_flat_amount():
    tariff = version(basis=Basis.per_adherent, amount=5000, bands=AGE_BANDS)
    household = [Person(40, "principal", "active", 0), Person(8, "child", "active", 1)]
    assert price(tariff, household, DAY) == (3500, 0, 3500)
    assert price(tariff, [Person(61, "principal", "active", 0)], DAY) == (5000, 0, 5000)  # no band: flat
    assert price(version(basis=Basis.per_adherent, amount=2500), household, DAY) == (2500, 0, 2500)


def test_per_beneficiary_counts_covered_persons_by_rank_within_the_limits():
    tariff = version(amount=5000, bands=AGE_BANDS, max_beneficiaries=4, child_age_limit=18)
    household = [
        Person(45, "principal", "active", 0),  # 3500
        Person(40, "spouse", "suspended", 1),  # 3500: a suspended person still counts
        Person(18, "child", "active", 2),  # at the age limit: not covered
        Person(3, "child", "pending", 3),  # 1000
        Person(70, "other", "active", 4),  # 5000 (no band: flat) — the 4th covered
        Person(10, "child", "active", 5),  # beyond max_beneficiaries
        Person(12, "child", "left", 6),
        Person(30, "spouse", "deceased", 7),
    ]
    assert price(tariff, household, DAY) == (13000, 0, 13000)
    unlimited = version(amount=5000, bands=AGE_BANDS)
    assert price(unlimited, household, DAY).amount == 3500 + 3500 + 3500 + 1000 + 5000 + 1500


def test_per_household_prices_the_number_of_covered_persons():
    bands = (("household_size", 1, 1, 6000), ("household_size", 2, 3, 10000), ("household_size", 4, 6, 15000),
             ("age", 0, 200, 1))  # fmt: skip  # an age band is ignored for a household tariff
    tariff = version(basis=Basis.per_household, amount=20000, bands=bands, child_age_limit=21)
    alone = [Person(50, "principal", "active", 0)]
    assert price(tariff, alone, DAY).amount == 6000
    family = alone + [Person(48, "spouse", "active", 1), Person(22, "child", "active", 2),
                      Person(9, "child", "active", 3), Person(1, "child", "left", 4)]  # fmt: skip
    assert price(tariff, family, DAY).amount == 10000  # 3 covered: the 22-year-old and the one who left out
    crowd = alone + [Person(5, "child", "active", r) for r in range(1, 8)]
    assert price(tariff, crowd, DAY).amount == 20000  # 8 persons: no band, flat


def test_subsidies_round_half_up_and_never_exceed_the_amount():
    person_ = [Person(30, "principal", "active", 0)]
    state = version(basis=Basis.per_adherent, amount=2501, subsidies=[("État", 50, None)])
    assert price(state, person_, DAY) == (2501, 1251, 1250)  # 1250.5 → 1251
    two = version(
        basis=Basis.per_adherent, amount=1000, subsidies=[("État", 33, None), ("Commune", None, 250)]
    )
    assert price(two, person_, DAY) == (1000, 580, 420)
    capped = version(
        basis=Basis.per_adherent, amount=1000, subsidies=[("État", 80, None), ("ONG", None, 500)]
    )
    assert price(capped, person_, DAY) == (1000, 1000, 0)


def test_a_tariff_of_another_rhythm_is_prorated_to_the_subscriptions_periods():
    quarterly = version(basis=Basis.per_adherent, amount=2500, periodicity=Periodicity.quarterly)
    person_ = [Person(30, "principal", "active", 0)]
    assert price(quarterly, person_, DAY) == (2500, 0, 2500)
    assert price(quarterly, person_, DAY, period_months=1) == (833, 0, 833)
    assert price(quarterly, person_, DAY, period_months=12).amount == 10000


def test_ages_are_taken_on_the_period_start():
    member = Member(id=1, number="ART-000001-00-X", relation="principal", status=MemberStatus.active,
                    birth_date=D(1990, 6, 15), birth_year=1990)  # fmt: skip
    assert household_at([member], D(2026, 6, 14))[0].age == 35
    assert household_at([member], D(2026, 6, 15))[0].age == 36


# --- generation in SQL --------------------------------------------------------------------------------------


def python_price(session: Session, due: Due) -> tuple[int, int, int]:
    subscription = session.get(Subscription, due.subscription_id)
    product = session.get(Product, subscription.product_id)
    principal = session.get(Member, subscription.member_id)
    rhythm = product.version_on(subscription.start_date).periodicity.months
    tariff = product.version_on(due.period_start)
    assert tariff.id == due.version_id
    return tuple(price(tariff, household_at(household_of(principal), due.period_start), due.period_start,
                       period_months=rhythm))  # fmt: skip


def test_sql_generation_gives_exactly_the_reference_prices(in_mutual: Session, mutual: Mutual):
    session = in_mutual
    family = make_product(
        session, bands=AGE_BANDS, amount=5000, max_beneficiaries=4, child_age_limit=18,
        subsidies=[("État", 50, None), ("Commune", None, 300)],
    )  # fmt: skip
    add_version(  # mid-year: new bands, a subsidy that rounds, the limit raised
        session, family, effective_from=D(2026, 7, 1), bands=(("age", 0, 17, 1250), ("age", 18, 64, 3333)),
        amount=4444, max_beneficiaries=5, child_age_limit=21, subsidies=[("État", 33, None)],
    )  # fmt: skip
    household_product = make_product(
        session, basis="per_household", periodicity="quarterly", amount=20000, child_age_limit=21,
        bands=(("household_size", 1, 1, 6000), ("household_size", 2, 3, 10000),
               ("household_size", 4, 6, 15000)),
        subsidies=[("État", 25, None), ("ONG", None, 20000)],
    )  # fmt: skip
    solo = make_product(
        session, basis="per_adherent", periodicity="yearly", amount=9000, joining_fee=2000,
        bands=(("age", 0, 39, 7000), ("age", 40, 200, 8000)), subsidies=[("Commune", 15, None)],
    )  # fmt: skip
    rhythm = make_product(session, basis="per_beneficiary", amount=1000)
    add_version(session, rhythm, effective_from=D(2026, 5, 1), periodicity="quarterly", amount=2500)
    households = [
        make_household(session, mutual, birth="15/06/1990"),  # birthday inside the year
        make_household(
            session,
            mutual,
            birth="29/02/1960",
            association=1,
            dependants=(
                ("spouse", "1966"),
                ("child", "2007"),
                ("child", "2012"),
                ("child", "2023"),
                ("child", "2015"),
                ("other", "1950"),
            ),
        ),  # fmt: skip
        make_household(
            session,
            mutual,
            birth="1985",
            association=2,
            consent=False,
            dependants=(("spouse", "01/01/1986"), ("child", "31/12/2008")),
        ),  # fmt: skip
        make_household(session, mutual, birth="1970", dependants=(("child", "2010"), ("child", "2011"))),
    ]
    second = household_of(households[1])
    second[1].status = MemberStatus.suspended
    second[5].status = MemberStatus.left
    households[3].dependants[0].status = MemberStatus.deceased
    session.flush()
    starts = [D(2026, 1, 15), D(2026, 1, 31), D(2025, 11, 30), D(2026, 2, 1)]
    subscriptions = []
    for i, principal in enumerate(households):
        for j, product in enumerate((family, household_product, solo, rhythm)):
            if (i + j) % 4 != 3:  # most households take most products
                subscriptions.append(subscribe(session, mutual.tenant, SYSTEM, principal, product,
                                               starts[(i + j) % 4]))  # fmt: skip
    session.commit()
    through = D(2026, 12, 31)
    report = generate_dues(session, mutual.tenant, through=through)
    checked = 0
    for subscription in subscriptions:
        product = session.get(Product, subscription.product_id)
        months = product.version_on(subscription.start_date).periodicity.months
        found = dues_of(session, subscription)
        assert [(d.period_start, d.period_end) for d in found] == expected_periods(
            subscription.start_date, months, through
        )
        for due in found:
            assert (due.amount, due.subsidy_amount, due.member_amount) == python_price(session, due), due
            assert due.due_date == due.period_start
            assert due.status is (DueStatus.paid if due.member_amount == 0 else DueStatus.open)
            checked += 1
    fees = session.scalar(select(func.count()).select_from(Due).where(Due.kind == DueKind.joining_fee))
    assert report.created == checked + fees and report.skipped == 0
    assert checked == 93 and fees == 3


def test_a_second_run_creates_nothing(in_mutual: Session, mutual: Mutual):
    session = in_mutual
    product = make_product(session, bands=AGE_BANDS, amount=5000, joining_fee=1000)
    for birth in ("1980", "1990", "2001"):
        principal = make_household(session, mutual, birth=birth, dependants=(("child", "2015"),))
        subscribe(session, mutual.tenant, SYSTEM, principal, product, D(2026, 2, 10))
    session.commit()
    first = generate_dues(session, mutual.tenant, through=D(2026, 4, 30), chunk_size=3)
    assert (first.created, first.skipped, first.joining_fees) == (3 * 3 + 3, 0, 3)
    assert first.chunks == 2 and first.first_period == D(2026, 2, 10)
    second = generate_dues(session, mutual.tenant, through=D(2026, 4, 30), chunk_size=3)
    assert (second.created, second.skipped) == (0, 12)
    third = generate_dues(session, mutual.tenant, through=D(2026, 5, 31))
    assert (third.created, third.skipped) == (3, 12)
    assert session.scalar(select(func.count()).select_from(Due)) == 15
    events = session.scalars(
        select(TenantAuditEvent).where(TenantAuditEvent.action == "contributions.dues_generated")
    ).all()
    assert len(events) == 3  # two chunks of the first run, one of the third; none for the empty run


def test_periods_are_aligned_on_the_start_date(in_mutual: Session, mutual: Mutual):
    session = in_mutual
    monthly = make_product(session, basis="per_adherent", amount=1000)
    quarterly = make_product(session, basis="per_adherent", amount=3000, periodicity="quarterly")
    principal = make_household(session, mutual)
    march = subscribe(session, mutual.tenant, SYSTEM, principal, monthly, D(2026, 3, 15))
    other = make_household(session, mutual)
    end_of_january = subscribe(session, mutual.tenant, SYSTEM, other, monthly, D(2026, 1, 31))
    third = make_household(session, mutual)
    quarters = subscribe(session, mutual.tenant, SYSTEM, third, quarterly, D(2026, 2, 20))
    session.commit()
    generate_dues(session, mutual.tenant, through=D(2026, 6, 14))
    assert [(d.period_start, d.period_end) for d in dues_of(session, march)] == [
        (D(2026, 3, 15), D(2026, 4, 14)), (D(2026, 4, 15), D(2026, 5, 14)), (D(2026, 5, 15), D(2026, 6, 14)),
    ]  # fmt: skip  # the period starting on 15 June is after ``through``
    assert [d.period_start for d in dues_of(session, end_of_january)] == [
        D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31), D(2026, 4, 30), D(2026, 5, 31),
    ]  # fmt: skip  # never drifts to the 28th
    assert [(d.period_start, d.period_end) for d in dues_of(session, quarters)] == [
        (D(2026, 2, 20), D(2026, 5, 19)), (D(2026, 5, 20), D(2026, 8, 19)),
    ]  # fmt: skip


def test_a_new_tariff_prices_the_periods_that_start_after_it(in_mutual: Session, mutual: Mutual):
    session = in_mutual
    product = make_product(session, basis="per_adherent", amount=3000, subsidies=[("État", 50, None)])
    raised = add_version(session, product, effective_from=D(2026, 7, 1), basis="per_adherent", amount=4000)
    principal = make_household(session, mutual)
    subscription = subscribe(session, mutual.tenant, SYSTEM, principal, product, D(2026, 1, 10))
    session.commit()
    generate_dues(session, mutual.tenant, through=D(2026, 12, 31))
    found = {d.period_start.month: d for d in dues_of(session, subscription)}
    assert [found[m].amount for m in range(1, 13)] == [3000] * 6 + [4000] * 6
    assert (
        found[6].period_start == D(2026, 6, 10) and found[6].subsidy_amount == 1500
    )  # priced on its 1st day
    assert (
        found[7].version_id == raised.id and found[7].subsidy_amount == 0 and found[7].member_amount == 4000
    )


def test_the_joining_fee_is_due_once(in_mutual: Session, mutual: Mutual):
    session = in_mutual
    product = make_product(session, basis="per_adherent", amount=1000, joining_fee=2500,
                           subsidies=[("État", 50, None)])  # fmt: skip
    principal = make_household(session, mutual)
    subscription = subscribe(session, mutual.tenant, SYSTEM, principal, product, D(2026, 4, 5))
    session.commit()
    for through in (D(2026, 4, 30), D(2026, 6, 30), D(2026, 6, 30)):
        generate_dues(session, mutual.tenant, through=through)
    fees = dues_of(session, subscription, DueKind.joining_fee)
    assert len(fees) == 1
    assert (fees[0].period_start, fees[0].amount, fees[0].subsidy_amount, fees[0].member_amount) == (
        D(2026, 4, 5), 2500, 0, 2500,
    )  # fmt: skip
    assert len(dues_of(session, subscription)) == 3


def test_nothing_before_the_start_and_nothing_after_the_end(in_mutual: Session, mutual: Mutual):
    from app.contributions.subscriptions import end_subscription

    session = in_mutual
    product = make_product(session, basis="per_adherent", amount=1000)
    principal = make_household(session, mutual)
    later = subscribe(session, mutual.tenant, SYSTEM, principal, product, D(2027, 1, 1))
    other = make_household(session, mutual)
    ending = subscribe(session, mutual.tenant, SYSTEM, other, product, D(2026, 1, 1))
    session.commit()
    generate_dues(session, mutual.tenant, through=D(2026, 6, 30))
    assert dues_of(session, later) == []
    end_subscription(session, mutual.tenant, SYSTEM, ending, "Départ de la mutuelle", D(2026, 4, 20))
    session.commit()
    cancelled = [d for d in dues_of(session, ending) if d.status is DueStatus.cancelled]
    assert [d.period_start for d in cancelled] == [D(2026, 5, 1), D(2026, 6, 1)]
    assert cancelled[0].cancelled_reason == "Départ de la mutuelle"
    report = generate_dues(session, mutual.tenant, through=D(2026, 12, 31))
    assert report.created == 0  # ended: no period after its end
    assert session.get(Subscription, ending.id).status is SubscriptionStatus.ended


def test_receivables_follow_the_dues_and_keep_their_status(in_mutual: Session, mutual: Mutual):
    session = in_mutual
    product = make_product(session, basis="per_adherent", amount=2001,
                           subsidies=[("État", 50, None), ("Commune", None, 300)])  # fmt: skip
    principals = [make_household(session, mutual) for _ in range(3)]
    for principal in principals[:2]:
        subscribe(session, mutual.tenant, SYSTEM, principal, product, D(2026, 1, 1))
    session.commit()
    generate_dues(session, mutual.tenant, through=D(2026, 2, 28))
    changed = refresh_subsidy_receivables(session, mutual.tenant)
    assert sorted(changed) == [("Commune", D(2026, 1, 1), 600), ("Commune", D(2026, 2, 1), 600),
                               ("État", D(2026, 1, 1), 2002), ("État", D(2026, 2, 1), 2002)]  # fmt: skip
    total_subsidy = session.scalar(select(func.sum(Due.subsidy_amount)))
    assert total_subsidy == sum(a for *_k, a in changed)  # the funders' shares add up to the dues' subsidies
    january = session.scalar(
        select(SubsidyReceivable).where(SubsidyReceivable.funder == "État", SubsidyReceivable.period_start
                                        == D(2026, 1, 1))
    )  # fmt: skip
    january.status, january.claimed_on = ReceivableStatus.claimed, D(2026, 2, 5)
    session.commit()
    assert refresh_subsidy_receivables(session, mutual.tenant) == []  # nothing changed: nothing written
    subscribe(session, mutual.tenant, SYSTEM, principals[2], product, D(2026, 1, 15))
    session.commit()
    generate_dues(session, mutual.tenant, through=D(2026, 2, 28))
    changed = refresh_subsidy_receivables(session, mutual.tenant, since=D(2026, 1, 20))
    assert ("État", D(2026, 1, 1), 3003) in changed
    session.refresh(january)
    assert (january.amount, january.status, january.claimed_on) == (3003, ReceivableStatus.claimed,
                                                                    D(2026, 2, 5))  # fmt: skip


def test_the_task_defaults_to_the_end_of_the_business_month(app, mutual: Mutual, monkeypatch):
    from app.contributions.tasks import generate_dues_task
    from app.worker import TENANT_HEADER

    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2026-03-20")
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        product = make_product(db.session, basis="per_adherent", amount=1000, subsidies=[("État", 10, None)])
        principal = make_household(db.session, mutual)
        subscription_id = subscribe(db.session, mutual.tenant, SYSTEM, principal, product, D(2026, 1, 31)).id
        db.session.commit()
    result = generate_dues_task.apply(headers={TENANT_HEADER: mutual.tenant.slug}, throw=True).get()
    assert result["created"] == 3 and result["through"] == "2026-03-31"
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        starts = db.session.scalars(
            select(Due.period_start).where(Due.subscription_id == subscription_id).order_by(Due.period_start)
        ).all()
        assert starts == [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31)]
        assert db.session.scalar(select(func.sum(SubsidyReceivable.amount))) == 300  # refreshed by the task


def test_the_command_prints_what_it_did(app, mutual: Mutual):
    from app.contributions.cli import contributions

    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        product = make_product(db.session, basis="per_adherent", amount=1000)
        subscribe(
            db.session, mutual.tenant, SYSTEM, make_household(db.session, mutual), product, D(2026, 1, 1)
        )
        db.session.commit()
    with app.app_context():
        runner = CliRunner()
        args = ["generate-dues", "--tenant", mutual.tenant.slug, "--through", "2026-02-28"]
        first = runner.invoke(contributions, args)
        second = runner.invoke(contributions, args)
        refused = runner.invoke(contributions, ["generate-dues", "--tenant", "nope_nope"])
    assert first.exit_code == 0, first.output
    assert f"{mutual.tenant.slug}: 2 created, 0 already there" in first.output
    assert f"{mutual.tenant.slug}: 0 created, 2 already there" in second.output
    assert refused.exit_code != 0


def test_a_connection_will_do(app, mutual: Mutual):
    """Scripts may hand over a plain connection (of the runtime engine): it is wrapped in a session."""
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        product = make_product(db.session, basis="per_adherent", amount=1000)
        principal = make_household(db.session, mutual)
        subscribe(db.session, mutual.tenant, SYSTEM, principal, product, D(2026, 1, 1))
        db.session.commit()
    with app.app_context(), db.engine.connect() as connection:
        report = generate_dues(connection, mutual.tenant, through=D(2026, 3, 31))
    assert (report.created, report.skipped) == (3, 0)
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        assert db.session.scalar(select(func.count()).select_from(Due)) == 3


def test_the_beat_job_queues_one_run_per_active_tenant(app, mutual: Mutual, monkeypatch):
    from app.contributions import tasks

    sent = []
    monkeypatch.setattr(
        tasks.generate_dues_task, "apply_async", lambda args, tenant: sent.append((args, tenant.slug))
    )
    with app.app_context():
        queued = tasks.generate_all_dues.run("2026-05-31")
    assert queued == len(sent) and (("2026-05-31",), mutual.tenant.slug) in sent


def test_end_of_month():
    assert end_of_month(D(2026, 2, 10)) == D(2026, 2, 28)
    assert end_of_month(D(2028, 2, 29)) == D(2028, 2, 29)
    assert end_of_month(D(2026, 12, 1)) == D(2026, 12, 31)
    assert dues_module.CHUNK_SIZE >= 10_000
