"""Contribution screens: the household's account (htmx fragment or page), cash payments and receipts,
cancellation and correction behind a step-up, the day's payments, and scope."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from sqlalchemy import select

from app.contributions import payments
from app.contributions.models import Allocation, Payment, PaymentStatus
from app.extensions import db
from app.members.models import Member
from tenants.context import tenant_scope
from tests.app.contributions.test_payments import (  # noqa: F401 - fixtures used by name
    TODAY,
    Household,
    add_due,
    association_z,
    business_date,
    make_household,
    rights_refreshed,
)
from tests.fixtures.app import SYSTEM
from tests.fixtures.security import step_up

BASE = "/alpha/cotisations"


def _household(app: Flask, world, months: tuple[int, ...] = (3, 4)) -> Household:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        household = make_household(db.session, world)
        for month in months:
            add_due(db.session, household, month)
        return household


def _pay(app: Flask, world, household: Household, amount: int, **options) -> tuple[str, str]:
    """(public id, receipt number) of a payment recorded through the service."""
    with app.app_context(), tenant_scope(db.session, world.alpha):
        member = db.session.get(Member, household.principal_id)
        payment = payments.record_payment(db.session, world.alpha, SYSTEM, member, amount=amount, **options)
        db.session.commit()
        return payment.public_id, payment.receipt_number


def _payment(app: Flask, world, public_id: str) -> dict:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        payment = db.session.scalar(select(Payment).where(Payment.public_id == public_id))
        allocations = db.session.scalars(select(Allocation).where(Allocation.payment_id == payment.id)).all()
        corrections = db.session.scalars(select(Payment).where(Payment.corrects_id == payment.id)).all()
        return {
            "status": payment.status, "reason": payment.cancelled_reason,
            "allocations": [(a.amount, a.reversed_at is not None) for a in allocations],
            "corrections": [(c.receipt_number, c.amount) for c in corrections],
        }  # fmt: skip


def _plain(html: str) -> str:
    return html.replace("\u202f", " ").replace("\xa0", " ")


def test_the_account_is_a_fragment_for_htmx_and_a_page_otherwise(app, world, login):
    household = _household(app, world)
    client = login("manager.a@test.sn")
    page = client.get(f"{BASE}/membre/{household.public_id}")
    assert page.status_code == 200
    html = _plain(page.get_data(as_text=True))
    assert html.lstrip().lower().startswith("<!doctype html") and 'id="contributions-account"' in html
    assert "2 cotisations en retard depuis le 1er mars 2026 : 4 000 F CFA" in html
    assert "mars 2026" in html and "avril 2026" in html

    fragment = client.get(f"{BASE}/membre/{household.public_id}", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and body.lstrip().startswith("<section")
    assert 'id="contributions-account"' in body


def test_an_agent_records_cash_and_gets_the_receipt(app, world, login, make_staff):
    household = _household(app, world)
    agent = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    client = login(agent.email)
    done = client.post(
        f"{BASE}/membre/{household.public_id}/paiements",
        data={"amount": "3 000", "received_on": TODAY.strftime("%d/%m/%Y"), "receipt_number": ""},
    )
    assert done.status_code == 303 and done.headers["Location"].endswith(
        f"/alpha/adherents/{household.public_id}"
    )
    member_page = client.get(done.headers["Location"]).get_data(as_text=True)
    number = re.search(r"reçu n° (R-2026-\d{7})", member_page)
    link = re.search(r'href="(/alpha/cotisations/paiements/\w+/recu\.pdf)"', member_page)
    assert number and link, member_page[:2000]

    receipt = client.get(link.group(1))
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"
    assert receipt.data.startswith(b"%PDF")
    account = _plain(client.get(f"{BASE}/membre/{household.public_id}").get_data(as_text=True))
    assert number.group(1) in account
    assert "1 cotisation en retard depuis le 1er avril 2026 : 1 000 F CFA" in account
    assert "Annuler" not in account  # an agent cannot cancel: no button


def test_a_refused_payment_says_why_next_to_the_field_and_keeps_what_was_typed(app, world, login):
    household = _household(app, world)
    client = login("manager.a@test.sn")
    refused = client.post(
        f"{BASE}/membre/{household.public_id}/paiements",
        data={"amount": "2,5", "received_on": "15/06/2026", "receipt_number": "cahier-12"},
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="amount-error"' in page and "sans centimes" in page
    assert 'value="cahier-12"' in page and 'value="2,5"' in page
    future = client.post(
        f"{BASE}/membre/{household.public_id}/paiements",
        data={"amount": "1000", "received_on": "16/06/2026"},
    )
    assert future.status_code == 422 and 'id="received_on-error"' in future.get_data(as_text=True)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        assert (
            db.session.scalars(select(Payment).where(Payment.member_id == household.principal_id)).all() == []
        )


@pytest.mark.usefixtures("association_z")
def test_staff_of_another_association_find_nothing(app, world, login, make_staff):
    household = _household(app, world)
    public_id, number = _pay(app, world, household, 1000, received_on=dt.date(2026, 5, 8))
    client = login(make_staff(("ASS-Z", "association_agent"), mfa_enrolled=False).email)
    assert client.get(f"{BASE}/membre/{household.public_id}").status_code == 404
    assert (
        client.post(f"{BASE}/membre/{household.public_id}/paiements", data={"amount": "500"}).status_code
        == 404
    )
    assert client.get(f"{BASE}/paiements/{public_id}/recu.pdf").status_code == 404
    day = client.get(f"{BASE}/paiements?jour=08/05/2026")
    assert day.status_code == 200 and number not in day.get_data(as_text=True)
    assert client.get(f"{BASE}/paiements/{public_id}/annuler").status_code == 403  # no payments.validate


def test_cancelling_asks_for_a_step_up_and_keeps_the_payment(app, world, login, make_staff):
    household = _household(app, world)
    public_id, number = _pay(app, world, household, 3000)
    manager = make_staff(("FED-A", "mutual_manager"))
    client = login(manager.email)
    url = f"{BASE}/paiements/{public_id}/annuler"
    assert number in client.get(url).get_data(as_text=True)

    missing = client.post(url, data={"reason": "  "})
    assert missing.status_code == 422 and 'id="reason-error"' in missing.get_data(as_text=True)
    asked = client.post(url, data={"reason": "Billet faux"})
    assert _payment(app, world, public_id)["status"] is PaymentStatus.valid  # nothing before the code
    confirmation = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Annuler ou corriger un paiement" in confirmation and number in confirmation
    token = step_up(client, asked, manager.next_code())

    done = client.post(url, data={"reason": "Billet faux", "_stepup": token})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/adherents/{household.public_id}")
    after = _payment(app, world, public_id)
    assert after["status"] is PaymentStatus.cancelled and after["reason"] == "Billet faux"
    assert after["allocations"] == [(2000, True), (1000, True)]  # kept, reversed
    account = client.get(f"{BASE}/membre/{household.public_id}").get_data(as_text=True)
    assert "Billet faux" in account
    assert client.post(url, data={"reason": "Encore", "_stepup": token}).status_code == 422  # already


def test_correcting_an_amount_with_a_step_up(app, world, login, make_staff):
    household = _household(app, world)
    public_id, number = _pay(app, world, household, 3000)
    manager = make_staff(("FED-A", "mutual_manager"))
    client = login(manager.email)
    url = f"{BASE}/paiements/{public_id}/corriger"
    same = client.post(url, data={"new_amount": "3000", "reason": "Erreur"})
    assert same.status_code == 422 and 'id="new_amount-error"' in same.get_data(as_text=True)
    data = {"new_amount": "2 500", "reason": "Erreur de saisie"}
    token = step_up(client, client.post(url, data=data), manager.next_code())
    changed = client.post(url, data={**data, "new_amount": "2 600", "_stepup": token})
    assert changed.status_code == 303 and "/securite/confirmation/" in changed.headers["Location"]
    token = step_up(client, client.post(url, data=data), manager.next_code())
    done = client.post(url, data={**data, "_stepup": token})
    assert done.status_code == 303
    after = _payment(app, world, public_id)
    assert after["status"] is PaymentStatus.cancelled and after["corrections"] == [(f"{number}-C1", 2500)]
    assert f"{number}-C1" in client.get(done.headers["Location"]).get_data(as_text=True)


def test_the_days_payments_for_the_cash_count(app, world, login):
    household = _household(app, world)
    day = dt.date(2026, 5, 7)
    first, first_number = _pay(app, world, household, 1500, received_on=day)
    _pay(app, world, household, 3000, received_on=day)
    _pay(app, world, household, 700, received_on=day, method="mobile_money")
    with app.app_context(), tenant_scope(db.session, world.alpha):
        payment = db.session.scalar(select(Payment).where(Payment.public_id == first))
        payments.cancel_payment(db.session, world.alpha, SYSTEM, payment, "Doublon")
        db.session.commit()
    client = login("manager.a@test.sn")
    html = _plain(client.get(f"{BASE}/paiements?jour=07/05/2026").get_data(as_text=True))
    assert first_number in html and "Annulé" in html
    assert "3 000 F CFA" in html and "3 700 F CFA" in html  # cash to count; all payments
    assert "2 paiements" in html
    bad = client.get(f"{BASE}/paiements?jour=31/02/2026")
    assert bad.status_code == 200 and 'id="jour-error"' in bad.get_data(as_text=True)


def test_an_agent_subscribes_a_household_at_the_counter_and_its_dues_are_there_at_once(
    app, world, login, enrolled
):
    import datetime as dt

    from sqlalchemy import select

    from app.contributions.models import Due, Subscription
    from app.coverage.models import Basis, Periodicity, Product, ProductVersion
    from tenants.context import tenant_scope

    code = f"P{enrolled().number[-4:].replace('-', '')}"
    with app.app_context(), tenant_scope(db.session, world.alpha):
        start = dt.date(2026, 1, 1)
        product = Product(code=code, name=f"Produit {code}", valid_from=start)
        product.versions.append(
            ProductVersion(number=1, effective_from=start, basis=Basis.per_household, amount=3000,
                           periodicity=Periodicity.monthly, joining_fee=500)
        )  # fmt: skip
        db.session.add(product)
        db.session.commit()
        product_public_id = product.public_id
    member = enrolled()
    client = login("manager.a@test.sn")
    url = f"/alpha/cotisations/membre/{member.public_id}"
    assert f"Produit {code}" in client.get(url).get_data(as_text=True)
    refused = client.post(
        f"{url}/souscriptions", data={"product": product_public_id, "start_date": "31/02/2026"}
    )
    assert refused.status_code == 422 and 'id="start_date-error"' in refused.get_data(as_text=True)
    app.config["MBOLO_TODAY"] = "2026-03-10"
    try:
        done = client.post(
            f"{url}/souscriptions", data={"product": product_public_id, "start_date": "01/02/2026"}
        )
    finally:
        app.config.pop("MBOLO_TODAY")
    assert done.status_code == 303
    with app.app_context(), tenant_scope(db.session, world.alpha):
        subscription = db.session.scalar(select(Subscription).where(Subscription.member_id == member.id))
        dues = db.session.scalars(select(Due).where(Due.subscription_id == subscription.id)).all()
        assert sorted((d.kind.value, d.period_start.isoformat()) for d in dues) == [
            ("contribution", "2026-02-01"),
            ("contribution", "2026-03-01"),
            ("joining_fee", "2026-02-01"),
        ]
