"""``GET /api/v1/<mutual>/members/<number>/eligibility``: what a care provider asks before care."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from app.api import services as api_services
from app.audit.models import TenantAuditEvent
from app.extensions import db
from tenants.context import tenant_scope
from tests.app.coverage.test_rights import (
    add_benefit,
    add_due,
    dependant,
    enrol,
    make_product,
    subscribe,
    tag,
)
from tests.fixtures.app import SYSTEM

D = dt.date
MANAGER = "manager.a@test.sn"


@pytest.fixture
def household(app, world) -> dict[str, str]:
    """Committed: an adhérent covered from 31 January 2027 (a February due unpaid) and a child beyond the
    product's age limit."""
    with app.app_context(), tenant_scope(db.session, world.alpha):
        principal = enrol(db.session, world.alpha, dependants=[dependant("child", "2008-03-01")])
        product = make_product(db.session, versions=({"child_age_limit": 18},))
        add_benefit(db.session, product, name="Consultation", ceiling_per_beneficiary_year=100_000,
                    ceiling_per_household_year=300_000)  # fmt: skip
        subscription = subscribe(db.session, principal, product)
        add_due(db.session, subscription, D(2027, 1, 1), paid=True)
        add_due(db.session, subscription, D(2027, 2, 1))
        db.session.commit()
        return {"number": principal.number, "child": principal.dependants[0].number, "product": product.code}


@pytest.fixture(scope="module")
def bearer(app, world) -> Callable[[str], Callable[..., Any]]:
    """``bearer(email)`` → a caller with that account's client token, one token per account for the whole
    module (the token endpoint is rate limited per address, and the API tests share one)."""
    tokens: dict[str, str] = {}

    def for_account(email: str) -> Callable[..., Any]:
        if email not in tokens:
            with app.app_context():
                issued = api_services.create_client(
                    db.session, SYSTEM, name=f"test-{tag()}", account_email=email
                )
                db.session.commit()
                basic = base64.b64encode(f"{issued.client.client_id}:{issued.secret}".encode()).decode()
            response = app.test_client().post(
                "/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic}"},
            )  # fmt: skip
            assert response.status_code == 200, response.get_data(as_text=True)
            tokens[email] = response.json["access_token"]

        def call(method: str, path: str, **kwargs: Any) -> Any:
            headers = {"Authorization": f"Bearer {tokens[email]}", **kwargs.pop("headers", {})}
            return app.test_client().open(path, method=method, headers=headers, **kwargs)

        return call

    return for_account


def _url(number: str) -> str:
    return f"/api/v1/alpha/members/{number}/eligibility"


def test_needs_a_token(client, household):
    response = client.get(_url(household["number"]))
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_answers_covered_with_the_reasons_products_and_ceilings(app, world, bearer, household):
    call = bearer(MANAGER)
    response = call("GET", _url(household["number"]), query_string={"date": "2027-02-10"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["number"] == household["number"] and body["date"] == "2027-02-10" and body["covered"] is True
    assert body["summary"] == "Couvert le 10 février 2027 par Produit de base"
    assert [r["code"] for r in body["reasons"]] == ["covered", "payment_due"]
    warning = body["reasons"][1]
    assert warning == {
        "code": "payment_due",
        "message": "cotisation du 1 février 2027 à payer avant le 4 mars 2027",
        "date": "2027-03-04",
        "product": household["product"],
        "warning": True,
    }
    assert body["opens_on"] == "2027-01-31" and body["paid_through"] == "2027-01-31"
    assert body["grace_until"] == "2027-03-03"
    [product] = body["products"]
    assert product["code"] == household["product"] and product["covered"] is True
    assert product["version"] == {"number": 1, "effective_from": "2026-01-01"}
    [ceiling] = body["ceilings"]
    assert ceiling["benefit"]["name"] == "Consultation" and ceiling["year"] == 2027
    assert ceiling["beneficiary"] == {"ceiling": 100_000, "consumed": 0, "remaining": 100_000}
    assert ceiling["household"] == {"ceiling": 300_000, "consumed": 0, "remaining": 300_000}
    # The read of the record is audited, like the member's own endpoint.
    with app.app_context(), tenant_scope(db.session, world.alpha):
        reads = db.session.scalar(
            select(func.count()).where(
                TenantAuditEvent.action == "read.member", TenantAuditEvent.target_id == household["number"]
            )
        )
    assert reads == 1


def test_not_covered_with_the_reason_and_its_date(bearer, household):
    call = bearer(MANAGER)
    beyond = call("GET", _url(household["number"]), query_string={"date": "2027-03-04"}).json
    assert beyond["covered"] is False
    [reason] = beyond["reasons"]
    assert reason["code"] == "arrears" and reason["date"] == "2027-02-01"
    assert reason["message"] == "cotisation du 1 février 2027 impayée (délai de grâce dépassé le 4 mars 2027)"
    waiting = call(
        "GET", _url(household["number"].replace("-", "").lower()), query_string={"date": "2027-01-15"}
    )
    assert waiting.json["reasons"][0]["code"] == "waiting_period"
    assert waiting.json["reasons"][0]["date"] == "2027-01-30"
    child = call("GET", _url(household["child"]), query_string={"date": "2027-02-10"}).json
    assert child["covered"] is False and child["reasons"][0]["code"] == "child_age_limit"
    assert child["ceilings"] == []  # not a beneficiary of the product: no ceilings to speak of


def test_today_by_default_and_a_wrong_date_is_named(app, bearer, household, monkeypatch):
    call = bearer(MANAGER)
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2027-01-31")
    today = call("GET", _url(household["number"])).json
    assert today["date"] == "2027-01-31" and today["summary"] == "Couvert aujourd'hui par Produit de base"
    wrong = call("GET", _url(household["number"]), query_string={"date": "2027-02-30"})
    assert wrong.status_code == 422 and wrong.json["error"] == "invalid" and "date" in wrong.json["errors"]


def test_another_mutuals_client_gets_404(bearer, household):
    response = bearer("manager.b@test.sn")("GET", _url(household["number"]))
    assert response.status_code == 404 and response.json["error"] == "not_found"
