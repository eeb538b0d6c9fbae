"""Portal fixtures: households of mutual alpha (adhérent with a phone, an adult spouse, a child) with a
product and dues, and a browser-like client signed in through the real SMS-code flow."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.contributions.models import Due, Subscription
from app.coverage.models import Basis, Periodicity, Product, ProductVersion
from app.extensions import db
from app.members import services
from app.members.services import ConsentInput, DependantInput
from notifications.models import OutboxMessage
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM, node
from tests.fixtures.members import person

TODAY, ENROLLED = dt.date(2026, 6, 15), dt.date(2025, 11, 1)


@dataclass(frozen=True)
class Person:
    id: int
    public_id: str
    number: str


@dataclass(frozen=True)
class Household:
    principal: Person
    spouse: Person
    child: Person
    tenant: str


@pytest.fixture(autouse=True)
def business_date(app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY.isoformat())


def _phone() -> str:
    return f"77{uuid.uuid4().int % 10**7:07d}"


@pytest.fixture
def make_household(app, world) -> Callable[..., Household]:
    """A household enrolled through the service, subscribed to a monthly product; ``dues`` months of 2026
    owed (2 000 F each)."""

    def make(*, tenant: str = "alpha", dues: tuple[int, ...] = (), spouse_phone: bool = False) -> Household:
        ref = getattr(world, tenant)
        with app.app_context():
            association = node("ASS-A").id
            with tenant_scope(db.session, ref):
                session = db.session
                principal = services.enrol(
                    session, ref, SYSTEM, person=person(phone=_phone()), association_id=association,
                    sector="artisanat", consent=ConsentInput(given_on=ENROLLED), allow_duplicates=True,
                    enrolled_on=ENROLLED, today=TODAY,
                )  # fmt: skip
                adult = person(sex="M", birth="02/02/1980", phone=_phone() if spouse_phone else "")
                spouse = services.add_dependant(
                    session, ref, SYSTEM, principal, DependantInput(adult, "spouse"), today=ENROLLED
                )
                child = services.add_dependant(
                    session,
                    ref,
                    SYSTEM,
                    principal,
                    DependantInput(person(birth="05/05/2016"), "child"),
                    today=ENROLLED,
                )
                product = Product(
                    code=f"P{uuid.uuid4().hex[:8]}", name="Produit famille", valid_from=dt.date(2026, 1, 1)
                )
                session.add(product)
                session.flush()
                version = ProductVersion(
                    product_id=product.id, number=1, effective_from=dt.date(2026, 1, 1),
                    basis=Basis.per_household, amount=2000, periodicity=Periodicity.monthly, joining_fee=0,
                )  # fmt: skip
                session.add(version)
                session.flush()
                subscription = Subscription(
                    member_id=principal.id, product_id=product.id, start_date=dt.date(2026, 1, 1)
                )
                session.add(subscription)
                session.flush()
                for month in dues:
                    start = dt.date(2026, month, 1)
                    end = dt.date(2026, month + 1, 1) - dt.timedelta(days=1)
                    session.add(
                        Due(
                            subscription_id=subscription.id, member_id=principal.id, version_id=version.id,
                            period_start=start, period_end=end, due_date=start, amount=2000,
                            member_amount=2000,
                        )
                    )  # fmt: skip
                session.commit()
                people = [Person(m.id, m.public_id, m.number) for m in (principal, spouse, child)]
        return Household(*people, tenant=tenant)

    return make


def last_code(app, world, member_id: int, tenant: str = "alpha") -> str | None:
    """The code of the latest sign-in SMS written to the outbox for this member, if any."""
    with app.app_context(), tenant_scope(db.session, getattr(world, tenant)):
        body = db.session.scalar(
            select(OutboxMessage.body)
            .where(OutboxMessage.member_id == member_id, OutboxMessage.event == "portal.sign_in_code")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    if body is None:
        return None
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


@pytest.fixture
def portal_sign_in(app, world) -> Callable[..., FlaskClient]:
    """Sign ``who`` in on a fresh client (the number typed in lower case with spaces, as people do)."""

    def sign_in(who: Person, *, tenant: str = "alpha", client: FlaskClient | None = None) -> FlaskClient:
        browser = client or app.test_client()
        typed = who.number.lower().replace("-", " ")
        asked = browser.post(f"/{tenant}/portail/connexion", data={"number": typed})
        assert asked.status_code == 303, asked.get_data(as_text=True)
        code = last_code(app, world, who.id, tenant)
        assert code is not None
        answer = browser.post(f"/{tenant}/portail/connexion/code", data={"code": code})
        assert answer.status_code == 303, answer.get_data(as_text=True)
        return browser

    return sign_in
