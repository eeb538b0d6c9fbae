"""Rights on a date: the rules in order (status, a valid product, waiting period, age and household limits,
arrears beyond grace), the history of changes, the panel and the daily task. Products, subscriptions and
dues are built with the models directly (their own services are written elsewhere)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.contributions.models import Due, DueKind, DueStatus, Subscription
from app.coverage import rights, tasks
from app.coverage.models import (
    Basis,
    Benefit,
    BenefitCategory,
    Periodicity,
    Product,
    ProductBenefit,
    ProductVersion,
    RightsEvent,
)
from app.coverage.rights import ReasonCode
from app.extensions import db
from app.members import services
from app.members.models import Member
from app.members.services import ConsentInput, DependantInput, PersonInput
from app.worker import TENANT_HEADER
from tenants.context import TenantRef, tenant_scope
from tests.fixtures.app import SYSTEM, node

D = dt.date
START = D(2027, 1, 1)
PRODUCTS_FROM = D(2026, 1, 1)
CONSENT_ON = D(2026, 1, 1)  # consent cannot be dated after the real today


@pytest.fixture
def alpha(session: Session, world: Any) -> Iterator[Session]:
    """The session inside mutual alpha's scope."""
    with tenant_scope(session, world.alpha):
        yield session


# --- building blocks (also used by tests/app/api/test_eligibility.py) --------------------------------------


def tag() -> str:
    return uuid.uuid4().hex[:8].upper()


def person(**overrides: str) -> PersonInput:
    token = tag().lower()
    values = {"last_name": f"Sarr{token}", "first_names": f"Ousmane{token}", "sex": "M",
              "birth": "1980-04-02", "trade": "tailleur"}  # fmt: skip
    return PersonInput(**{**values, **overrides})


def dependant(relationship: str, birth: str, sex: str = "F") -> DependantInput:
    return DependantInput(person=person(birth=birth, sex=sex, trade=""), relationship=relationship)


def enrol(
    session: Session, tenant: TenantRef, *, dependants: Sequence[DependantInput] = (), on: dt.date = START
) -> Member:
    """A household enrolled (with consent: active) on ``on``."""
    return services.enrol(
        session, tenant, SYSTEM, person=person(), association_id=node("ASS-A").id, sector="artisanat",
        dependants=dependants, consent=ConsentInput(given_on=CONSENT_ON), enrolled_on=on, today=on,
        allow_duplicates=True,
    )  # fmt: skip


def make_product(
    session: Session,
    *,
    name: str = "Produit de base",
    valid_from: dt.date = PRODUCTS_FROM,
    valid_to: dt.date | None = None,
    versions: Sequence[dict[str, Any]] = ({},),
) -> Product:
    """A product with its tariff versions (first one from ``valid_from``; 30 days of waiting and of grace
    unless told)."""
    product = Product(code=f"P{tag()}", name=name, valid_from=valid_from, valid_to=valid_to)
    session.add(product)
    session.flush()
    for number, overrides in enumerate(versions, start=1):
        values = {"effective_from": valid_from, "basis": Basis.per_household, "amount": 3000,
                  "periodicity": Periodicity.monthly, "waiting_days": 30, "grace_days": 30,
                  **overrides}  # fmt: skip
        session.add(ProductVersion(product_id=product.id, number=number, **values))
    session.flush()
    session.refresh(product)
    return product


def add_benefit(session: Session, product: Product, **limits: Any) -> ProductBenefit:
    category = limits.pop("category", BenefitCategory.consultation)
    benefit = Benefit(code=f"B{tag()}", name=limits.pop("name", "Consultation"), category=category)
    session.add(benefit)
    session.flush()
    link = ProductBenefit(product_id=product.id, benefit_id=benefit.id, **limits)
    session.add(link)
    session.flush()
    session.refresh(product)
    return link


def subscribe(session: Session, principal: Member, product: Product, start: dt.date = START) -> Subscription:
    subscription = Subscription(member_id=principal.id, product_id=product.id, start_date=start)
    session.add(subscription)
    session.flush()
    return subscription


def add_due(
    session: Session,
    subscription: Subscription,
    period_start: dt.date,
    *,
    paid: bool = False,
    amount: int = 3000,
    kind: DueKind = DueKind.contribution,
) -> Due:
    """A monthly due, due on the first day of its period."""
    following = D(period_start.year + period_start.month // 12, period_start.month % 12 + 1, 1)
    product = db.session.get(Product, subscription.product_id)
    assert product is not None
    version = product.version_on(period_start) or product.versions[0]
    due = Due(
        subscription_id=subscription.id, member_id=subscription.member_id, version_id=version.id, kind=kind,
        period_start=period_start, period_end=following - dt.timedelta(days=1), due_date=period_start,
        amount=amount, member_amount=amount, paid_amount=amount if paid else 0,
        status=DueStatus.paid if paid else DueStatus.open,
    )  # fmt: skip
    session.add(due)
    session.flush()
    session.expire(subscription, ["dues"])
    return due


def pay(session: Session, due: Due) -> None:
    due.paid_amount, due.status = due.member_amount, DueStatus.paid
    session.flush()


def codes(found: rights.Rights) -> list[str]:
    return [r.code.value for r in found.reasons]


# --- the rules ---------------------------------------------------------------------------------------------


def test_waiting_period_then_covered(app, alpha, world, monkeypatch):
    principal = enrol(alpha, world.alpha)
    subscribe(alpha, principal, make_product(alpha))
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2027-01-15")

    waiting = rights.rights_on(alpha, world.alpha, principal)  # the business date
    assert waiting.day == D(2027, 1, 15) and not waiting.covered
    assert codes(waiting) == ["waiting_period"]
    assert waiting.main_reason.date == D(2027, 1, 30)  # 30 days from 1 January: the 30th is the last
    assert waiting.main_reason.message == "délai de carence jusqu'au 30 janvier 2027"
    assert waiting.headline == "Non couvert : délai de carence jusqu'au 30 janvier 2027"
    assert waiting.opens_on == D(2027, 1, 31)
    [product] = waiting.products
    assert product.valid and product.beneficiary and not product.covered and product.version.number == 1

    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2027-01-31")
    covered = rights.rights_on(alpha, world.alpha, principal)
    assert covered.covered and codes(covered) == ["covered"]
    assert covered.headline == "Couvert aujourd'hui par Produit de base"
    other_day = rights.rights_on(alpha, world.alpha, principal, D(2027, 2, 3))
    assert other_day.headline == "Couvert le 3 février 2027 par Produit de base"


def test_dues_within_grace_warn_beyond_grace_refuse_and_paying_restores(alpha, world):
    principal = enrol(alpha, world.alpha)
    subscription = subscribe(alpha, principal, make_product(alpha))
    add_due(alpha, subscription, D(2027, 1, 1), paid=True)
    february = add_due(alpha, subscription, D(2027, 2, 1))

    within = rights.rights_on(alpha, world.alpha, principal, D(2027, 2, 10))
    assert within.covered and codes(within) == ["covered", "payment_due"]
    [warning] = within.warnings
    assert warning.message == "cotisation du 1 février 2027 à payer avant le 4 mars 2027"
    assert within.paid_through == D(2027, 1, 31) and within.grace_until == D(2027, 3, 3)
    assert rights.rights_on(alpha, world.alpha, principal, D(2027, 3, 3)).covered  # the last day of grace

    beyond = rights.rights_on(alpha, world.alpha, principal, D(2027, 3, 4))
    assert not beyond.covered and codes(beyond) == ["arrears"]
    assert beyond.main_reason.date == D(2027, 2, 1)
    assert (
        beyond.main_reason.message
        == "cotisation du 1 février 2027 impayée (délai de grâce dépassé le 4 mars 2027)"
    )

    pay(alpha, february)
    paid = rights.rights_on(alpha, world.alpha, principal, D(2027, 3, 4))
    assert paid.covered and codes(paid) == ["covered"] and paid.paid_through == D(2027, 2, 28)


def test_an_unpaid_joining_fee_counts_and_a_cancelled_due_does_not(alpha, world):
    principal = enrol(alpha, world.alpha)
    subscription = subscribe(alpha, principal, make_product(alpha))
    fee = add_due(alpha, subscription, D(2027, 1, 1), kind=DueKind.joining_fee, amount=1000)
    found = rights.rights_on(alpha, world.alpha, principal, D(2027, 3, 1))
    assert codes(found) == ["arrears"] and found.main_reason.message.startswith(
        "droit d'adhésion du 1 janvier"
    )
    fee.status, fee.cancelled_reason = DueStatus.cancelled, "offert"
    alpha.flush()
    assert rights.rights_on(alpha, world.alpha, principal, D(2027, 3, 1)).covered


def test_history_records_each_change_once_with_its_audit(alpha, world):
    principal = enrol(alpha, world.alpha)
    subscription = subscribe(alpha, principal, make_product(alpha))
    add_due(alpha, subscription, D(2027, 1, 1), paid=True)
    february = add_due(alpha, subscription, D(2027, 2, 1))

    def refresh(day: dt.date) -> RightsEvent | None:
        return rights.refresh_rights(alpha, world.alpha, principal, day)

    first = refresh(D(2027, 1, 15))
    assert first is not None and not first.covered and first.reason == "waiting_period"
    assert first.details == "délai de carence jusqu'au 30 janvier 2027" and first.effective_on == D(
        2027, 1, 15
    )
    assert refresh(D(2027, 1, 20)) is None  # nothing changed
    opened = refresh(D(2027, 1, 31))
    assert opened is not None and opened.covered and opened.reason == "covered"
    assert refresh(D(2027, 2, 10)) is None  # a due within grace warns, rights unchanged
    closed = refresh(D(2027, 3, 4))
    assert closed is not None and not closed.covered and closed.reason == "arrears"
    assert "1 février 2027" in closed.details
    assert refresh(D(2027, 3, 4)) is None
    pay(alpha, february)
    reopened = refresh(D(2027, 3, 5))
    assert reopened is not None and reopened.covered and reopened.effective_on == D(2027, 3, 5)
    assert refresh(D(2027, 3, 6)) is None

    history = rights.rights_history(alpha, principal)
    assert [(e.effective_on, e.covered, e.reason) for e in history] == [
        (D(2027, 3, 5), True, "covered"),
        (D(2027, 3, 4), False, "arrears"),
        (D(2027, 1, 31), True, "covered"),
        (D(2027, 1, 15), False, "waiting_period"),
    ]
    audited = alpha.scalars(
        select(TenantAuditEvent)
        .where(
            TenantAuditEvent.action == "coverage.rights_changed",
            TenantAuditEvent.target_id == principal.number,
        )
        .order_by(TenantAuditEvent.id)
    ).all()
    assert len(audited) == 4
    assert "before" not in audited[0].details and audited[0].details["after"] == {
        "covered": False,
        "reason": "waiting_period",
    }
    assert audited[2].details["before"] == {"covered": True, "reason": "covered"}
    assert audited[2].details["after"] == {"covered": False, "reason": "arrears"}
    assert audited[2].details["effective_on"] == "2027-03-04"


def test_refresh_household_records_every_person_and_is_in_french_whatever_the_request(app, alpha, world):
    principal = enrol(alpha, world.alpha, dependants=[dependant("spouse", "1985-01-01")])
    subscribe(alpha, principal, make_product(alpha))
    [spouse] = principal.dependants
    with app.test_request_context(headers={"Accept-Language": "en"}):
        events = rights.refresh_household(
            alpha, world.alpha, spouse, D(2027, 1, 10)
        )  # any member: its household
    assert [e.member_id for e in events] == [principal.id, spouse.id]
    assert all(e.details == "délai de carence jusqu'au 30 janvier 2027" for e in events)
    assert rights.refresh_household(alpha, world.alpha, principal, D(2027, 1, 11)) == []


def test_status_of_the_day_suspended_member_and_household(alpha, world):
    principal = enrol(alpha, world.alpha, dependants=[dependant("spouse", "1985-01-01")])
    subscribe(alpha, principal, make_product(alpha, versions=({"waiting_days": 0},)))
    [spouse] = principal.dependants
    services.change_status(
        alpha, world.alpha, SYSTEM, principal, "suspended", "fraude", effective_on=D(2027, 3, 1)
    )

    suspended = rights.rights_on(alpha, world.alpha, principal, D(2027, 3, 2))
    assert not suspended.covered and codes(suspended) == ["member_suspended"]
    assert suspended.main_reason.message == "adhésion suspendue depuis le 1 mars 2027"
    household = rights.rights_on(alpha, world.alpha, spouse, D(2027, 3, 2))
    assert not household.covered and codes(household) == ["principal_suspended"]
    assert rights.rights_on(alpha, world.alpha, principal, D(2027, 2, 15)).covered  # before the suspension
    assert codes(rights.rights_on(alpha, world.alpha, principal, D(2026, 12, 1))) == ["not_enrolled"]


def test_pending_member_is_not_covered(alpha, world):
    principal = services.enrol(
        alpha, world.alpha, SYSTEM, person=person(), association_id=node("ASS-A").id, sector="artisanat",
        enrolled_on=START, today=START, allow_duplicates=True,
    )  # fmt: skip
    subscribe(alpha, principal, make_product(alpha, versions=({"waiting_days": 0},)))
    found = rights.rights_on(alpha, world.alpha, principal, D(2027, 2, 1))
    assert not found.covered and codes(found) == ["member_pending"]
    assert found.main_reason.message == "adhésion en attente (consentement à recueillir)"


def test_no_valid_product(alpha, world):
    nothing = enrol(alpha, world.alpha)
    found = rights.rights_on(alpha, world.alpha, nothing, D(2027, 2, 1))
    assert not found.covered and codes(found) == ["no_product"] and found.products == []
    assert found.headline == "Non couvert le 1 février 2027 : aucun produit valide"

    expired = enrol(alpha, world.alpha)
    subscribe(alpha, expired, make_product(alpha, valid_to=D(2027, 1, 31), versions=({"waiting_days": 0},)))
    assert rights.rights_on(alpha, world.alpha, expired, D(2027, 1, 31)).covered
    assert codes(rights.rights_on(alpha, world.alpha, expired, D(2027, 2, 1))) == ["no_product"]

    ended = enrol(alpha, world.alpha)
    subscription = subscribe(alpha, ended, make_product(alpha, versions=({"waiting_days": 0},)))
    subscription.end_date = D(2027, 1, 31)
    alpha.flush()
    assert codes(rights.rights_on(alpha, world.alpha, ended, D(2027, 2, 1))) == ["no_product"]

    later = enrol(alpha, world.alpha)
    subscribe(alpha, later, make_product(alpha, name="Produit famille"), start=D(2027, 4, 1))
    upcoming = rights.rights_on(alpha, world.alpha, later, D(2027, 2, 1))
    assert codes(upcoming) == ["no_product", "not_started"]
    assert upcoming.reasons[1].message == "Produit famille à partir du 1 avril 2027"


def test_the_version_in_force_gives_the_waiting_and_grace_days(alpha, world):
    product = make_product(
        alpha,
        valid_from=D(2027, 1, 1),
        versions=(
            {"waiting_days": 30, "grace_days": 30},
            {"effective_from": D(2027, 3, 1), "waiting_days": 10, "grace_days": 5},
        ),
    )
    principal = enrol(alpha, world.alpha)
    subscription = subscribe(alpha, principal, product, start=D(2027, 2, 20))

    old_tariff = rights.rights_on(alpha, world.alpha, principal, D(2027, 2, 28))
    assert codes(old_tariff) == ["waiting_period"] and old_tariff.products[0].version.number == 1
    assert old_tariff.main_reason.date == D(2027, 3, 21)
    new_tariff = rights.rights_on(alpha, world.alpha, principal, D(2027, 3, 2))  # 20 Feb + 10 days
    assert new_tariff.covered and new_tariff.products[0].version.number == 2
    assert new_tariff.opens_on == D(2027, 3, 2)

    add_due(alpha, subscription, D(2027, 3, 1))
    assert codes(rights.rights_on(alpha, world.alpha, principal, D(2027, 3, 6))) == ["covered", "payment_due"]
    late = rights.rights_on(alpha, world.alpha, principal, D(2027, 3, 7))  # 5 days of grace, not 30
    assert codes(late) == ["arrears"] and late.grace_until == D(2027, 3, 6)


def test_child_beyond_age_limit_and_beneficiary_beyond_maximum(alpha, world):
    principal = enrol(
        alpha,
        world.alpha,
        dependants=[
            dependant("spouse", "1985-01-01"),  # rank 1
            dependant("child", "2010-06-01"),  # rank 2: 16 in 2027, beyond 15
            dependant("child", "2021-06-01"),  # rank 3
            dependant("child", "2023-06-01"),  # rank 4: the 4th counted, beyond 3
        ],
    )
    product = make_product(
        alpha, versions=({"waiting_days": 0, "child_age_limit": 15, "max_beneficiaries": 3},)
    )
    subscribe(alpha, principal, product)
    spouse, teenager, child, baby = principal.dependants
    day = D(2027, 2, 1)
    answers = {
        m.id: rights.rights_on(alpha, world.alpha, m, day) for m in (principal, spouse, teenager, child, baby)
    }

    assert answers[principal.id].covered and answers[spouse.id].covered and answers[child.id].covered
    too_old = answers[teenager.id]
    assert not too_old.covered and codes(too_old) == ["child_age_limit"]
    assert too_old.main_reason.date == D(2025, 6, 1)
    assert too_old.main_reason.message == (
        "enfant de 15 ans ou plus : au-delà de l'âge limite de Produit de base (depuis le 1 juin 2025)"
    )
    assert not too_old.products[0].beneficiary
    beyond = answers[baby.id]
    assert not beyond.covered and codes(beyond) == ["beneficiary_limit"]
    assert (
        beyond.main_reason.message
        == "au-delà du nombre maximal de bénéficiaires de Produit de base (3 par foyer)"
    )

    # Someone leaving frees a place: the baby moves up.
    services.change_status(alpha, world.alpha, SYSTEM, spouse, "left", "divorce", effective_on=D(2027, 3, 1))
    assert rights.rights_on(alpha, world.alpha, baby, D(2027, 3, 2)).covered
    assert not rights.rights_on(alpha, world.alpha, baby, D(2027, 2, 28)).covered


def test_covered_by_one_product_of_two(alpha, world):
    principal = enrol(alpha, world.alpha, dependants=[dependant("child", "2010-06-01")])
    subscribe(
        alpha, principal, make_product(alpha, name="Produit adultes", versions=({"child_age_limit": 12},))
    )
    subscribe(alpha, principal, make_product(alpha, name="Produit famille"), start=D(2026, 6, 1))
    [child] = principal.dependants
    found = rights.rights_on(alpha, world.alpha, child, D(2027, 1, 10))
    assert found.covered and found.headline.endswith("par Produit famille")
    assert [(p.product.name, p.covered) for p in found.products] == [
        ("Produit famille", True),
        ("Produit adultes", False),
    ]
    adults = found.products[1]
    assert [r.code for r in adults.reasons] == [ReasonCode.waiting_period, ReasonCode.child_age_limit]


def test_ceilings_remaining_per_beneficiary_and_household(alpha, world, monkeypatch):
    product = make_product(alpha, versions=({"waiting_days": 0},))
    add_benefit(alpha, product, name="Consultation", ceiling_per_beneficiary_year=100_000,
                ceiling_per_household_year=300_000, ceiling_per_act=5_000, rate_percent=80)  # fmt: skip
    add_benefit(alpha, product, name="Lunettes", category=BenefitCategory.optical, frequency_count=1,
                frequency_months=24)  # fmt: skip
    add_benefit(alpha, product, name="Accouchement", category=BenefitCategory.maternity, sex="F",
                ceiling_per_beneficiary_year=150_000)  # fmt: skip
    add_benefit(alpha, product, name="Radiographie", ceiling_per_act=20_000)  # no yearly limit: not listed
    principal = enrol(alpha, world.alpha)  # a man: maternity does not apply
    subscribe(alpha, principal, product)

    found = rights.rights_on(alpha, world.alpha, principal, D(2027, 5, 10))
    by_name = {c.product_benefit.benefit.name: c for c in found.ceilings}
    assert set(by_name) == {"Consultation", "Lunettes"}
    consultation = by_name["Consultation"]
    assert consultation.year == 2027 and consultation.beneficiary.remaining == 100_000
    assert consultation.household.ceiling == 300_000 and consultation.household.remaining == 300_000
    glasses = by_name["Lunettes"].frequency
    assert (
        glasses.remaining == 1 and glasses.since == D(2025, 5, 11) and by_name["Lunettes"].household is None
    )

    windows = []
    rule = {name: c.product_benefit.id for name, c in by_name.items()}
    spouse_id = principal.id + 10_000  # another person of the household

    def fake_care_use(session, member, since, until):
        windows.append((member.id, since, until))
        return rights.CareUse(
            (
                (rule["Consultation"], D(2027, 2, 1), principal.id, 40_000, 1),
                (rule["Consultation"], D(2027, 3, 1), spouse_id, 240_000, 2),
                (rule["Consultation"], D(2026, 12, 30), principal.id, 50_000, 1),  # last year: not counted
                (rule["Lunettes"], D(2026, 6, 1), principal.id, 30_000, 1),  # within the 24 months
                (rule["Lunettes"], D(2027, 4, 1), spouse_id, 30_000, 1),  # the spouse's: not this person's
            )
        )

    monkeypatch.setattr(rights, "care_use", fake_care_use)
    after_care = {
        c.product_benefit.benefit.name: c
        for c in rights.rights_on(alpha, world.alpha, principal, D(2027, 5, 10)).ceilings
    }
    assert after_care["Consultation"].beneficiary.remaining == 60_000
    assert after_care["Consultation"].household.remaining == 20_000
    assert after_care["Lunettes"].frequency.remaining == 0
    # one read of the household's care, from the start of the longest window to the end of the year
    assert windows == [(principal.id, D(2025, 5, 11), D(2027, 12, 31))]
    assert after_care["Consultation"].as_dict()["household"] == {
        "ceiling": 300_000,
        "consumed": 280_000,
        "remaining": 20_000,
    }


def test_parse_day():
    assert rights.parse_day("2027-02-12") == D(2027, 2, 12)
    assert rights.parse_day(" 12/02/2027 ") == D(2027, 2, 12)
    for wrong in ("2027-02-30", "31/02/2027", "demain", "2027-2-1"):
        with pytest.raises(rights.FieldError):
            rights.parse_day(wrong)


def test_rights_need_the_tenant_context(session, world):
    with tenant_scope(session, world.alpha):
        member = enrol(session, world.alpha)
    with tenant_scope(session, world.beta), pytest.raises(rights.NoTenantContext):
        rights.rights_on(session, world.alpha, member, START)


# --- the panel ---------------------------------------------------------------------------------------------


@pytest.fixture
def household_in_waiting(app, world) -> dict[str, str]:
    """Committed (the web client has its own session): an adhérent in waiting until 30 January 2027."""
    with app.app_context(), tenant_scope(db.session, world.alpha):
        principal = enrol(db.session, world.alpha)
        product = make_product(db.session)
        add_benefit(db.session, product, name="Consultation", ceiling_per_household_year=250_000)
        subscribe(db.session, principal, product)
        rights.refresh_rights(db.session, world.alpha, principal, D(2027, 1, 10))
        db.session.commit()
        return {"public_id": principal.public_id, "number": principal.number, "id": str(principal.id)}


def test_panel_explains_in_plain_french(app, login, household_in_waiting, monkeypatch):
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2027-01-15")
    client = login("manager.a@test.sn")
    url = f"/alpha/droits/{household_in_waiting['public_id']}"
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "Non couvert : délai de carence jusqu&#39;au 30 janvier 2027" in html
    assert "Produit de base" in html and "reste 250" in html  # the household ceiling, in F CFA
    assert "Historique des droits" in html and "10 janvier 2027" in html

    later = client.get(url, query_string={"jour": "2027-02-01"}, headers={"HX-Request": "true"})
    fragment = later.get_data(as_text=True)
    assert later.status_code == 200 and "<html" not in fragment and 'id="rights-panel"' in fragment
    assert "Couvert le 1 février 2027 par Produit de base" in fragment

    wrong = client.get(url, query_string={"jour": "30/02/2027"})
    body = wrong.get_data(as_text=True)
    assert (
        wrong.status_code == 422
        and "existe pas." in body
        and 'id="jour-error"' in body
        and 'value="30/02/2027"' in body
    )
    assert "délai de carence" in body  # today's rights are still shown


def test_panel_is_read_within_reach_and_audited(app, world, login, household_in_waiting):
    assert (
        login("manager.b@test.sn").get(f"/alpha/droits/{household_in_waiting['public_id']}").status_code
        == 403
    )
    client = login("manager.a@test.sn")
    assert client.get("/alpha/droits/inconnu").status_code == 404
    assert client.get(f"/alpha/droits/{household_in_waiting['public_id']}").status_code == 200
    with app.app_context(), tenant_scope(db.session, world.alpha):
        reads = db.session.scalar(
            select(func.count()).where(
                TenantAuditEvent.action == "read.member",
                TenantAuditEvent.target_id == household_in_waiting["number"],
            )
        )
    assert reads == 1


# --- the daily task ----------------------------------------------------------------------------------------


def test_task_refreshes_the_whole_mutual_and_writes_only_changes(app, world, household_in_waiting):
    member_id = int(household_in_waiting["id"])

    def events() -> list[tuple[dt.date, str]]:
        with app.app_context(), tenant_scope(db.session, world.alpha):
            rows = db.session.scalars(
                select(RightsEvent).where(RightsEvent.member_id == member_id).order_by(RightsEvent.id)
            )
            return [(e.effective_on, e.reason) for e in rows]

    assert events() == [(D(2027, 1, 10), "waiting_period")]
    result = tasks.refresh_rights.apply(("2027-02-01",), headers={TENANT_HEADER: "alpha"}, throw=True).get()
    assert (
        result["day"] == "2027-02-01"
        and result["households"] >= 1
        and result["people"] >= result["households"]
    )
    assert events() == [(D(2027, 1, 10), "waiting_period"), (D(2027, 2, 1), "covered")]
    again = tasks.refresh_rights.apply(("2027-02-01",), headers={TENANT_HEADER: "alpha"}, throw=True).get()
    assert again["changes"] == 0 and len(events()) == 2


def test_daily_task_queues_one_refresh_per_active_mutual(app, world, monkeypatch):
    sent = []
    monkeypatch.setattr(
        tasks.refresh_rights, "apply_async", lambda args, tenant: sent.append((args, tenant.slug))
    )
    slugs = tasks.refresh_all_rights.apply(throw=True).get()
    assert {"alpha", "beta"} <= set(slugs) and [s for _args, s in sent] == slugs
    assert (
        app.extensions["celery"].conf.beat_schedule["coverage.refresh_all_rights"]["task"]
        == "coverage.refresh_all_rights"
    )
