"""Enrolment screens: steps with server-side drafts, errors next to fields, duplicates, the member page."""

import re
import uuid

from sqlalchemy import select

from app.extensions import db
from app.members.models import EnrolmentDraft, Member
from tenants.context import tenant_scope
from tests.fixtures.app import node

BASE = "/alpha/adherents"


def _draft_url(response):
    found = re.search(r"/alpha/adherents/inscription/(\w+)/", response.headers["Location"])
    assert found, response.headers.get("Location")
    return f"{BASE}/inscription/{found.group(1)}", found.group(1)


def _identity(**overrides):
    token = uuid.uuid4().hex[:6]
    return {
        "association": str(node("ASS-A").id), "last_name": f"Sarr{token}", "first_names": f"Mariama{token}",
        "sex": "F", "birth": "vers 1982", "birth_place": "Thiès", "national_id": "", **overrides,
    }  # fmt: skip


def _member(app, world, public_id):
    with app.app_context(), tenant_scope(db.session, world.alpha):
        member = db.session.scalar(select(Member).where(Member.public_id == public_id))
        return member.number, member.status.value, [(d.relation.value, d.number) for d in member.dependants]


def test_an_agent_enrols_an_adherent_with_two_ayants_droit_step_by_step(app, world, login):
    client = login("manager.a@test.sn")
    with app.app_context():
        identity = _identity()
    refused = client.post(f"{BASE}/inscription", data={**identity, "last_name": "", "birth": "31/02/1982"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="last_name-error"' in page and "Le nom est obligatoire" in page
    assert f'value="{identity["first_names"]}"' in page  # nothing typed is lost

    started = client.post(f"{BASE}/inscription", data=identity)
    draft, draft_id = _draft_url(started)
    assert started.headers["Location"].endswith("/contact")
    assert client.post(f"{draft}/contact", data={"phone": "12", "trade": "tailleur"}).status_code == 422
    contact = client.post(
        f"{draft}/contact", data={"phone": "77 400 11 22", "trade": "tailleur", "region": "Thiès"}
    )
    assert contact.headers["Location"].endswith("/foyer")

    child = {"relationship": "child", "last_name": "Sarr", "first_names": "Ali", "sex": "M", "birth": "1990"}
    too_old = client.post(f"{draft}/foyer", data=child)
    assert too_old.status_code == 422 and "21 ans ou plus" in too_old.get_data(as_text=True)
    for relation, first, sex, birth in (
        ("spouse", "Ibrahima", "M", "vers 1978"),
        ("child", "Awa", "F", "02/05/2016"),
    ):
        dependant = {
            "relationship": relation,
            "last_name": "Sarr",
            "first_names": first,
            "sex": sex,
            "birth": birth,
        }
        ok = client.post(f"{draft}/foyer", data=dependant)
        assert ok.status_code == 302
    assert (
        client.post(f"{draft}/consent", data={"given_on": "23/11/2026"}).status_code == 422
    )  # box not ticked
    consent = client.post(f"{draft}/consent", data={"consent": "y", "given_on": "23/11/2026"})
    assert consent.headers["Location"].endswith("/verification")

    review = client.get(f"{draft}/verification").get_data(as_text=True)
    assert "Ibrahima" in review and "Awa" in review
    saved = client.post(f"{draft}/verification", data={})
    assert saved.status_code == 302
    public_id = saved.headers["Location"].rsplit("/", 1)[1]
    number, status, dependants = _member(app, world, public_id)
    assert status == "active" and [r for r, _n in dependants] == ["spouse", "child"]
    assert number in client.get(saved.headers["Location"]).get_data(as_text=True)
    assert client.get(f"{draft}/verification").status_code == 410  # the draft served its purpose


def test_a_draft_survives_a_lost_connection(app, world, login):
    client = login("manager.a@test.sn")
    with app.app_context():
        identity = _identity()
    draft, draft_id = _draft_url(client.post(f"{BASE}/inscription", data=identity))
    # The agent types the phone; htmx saves on change; then the power goes.
    assert (
        client.post(f"{draft}/brouillon", data={"_step": "contact", "phone": "77 999 88 77"}).status_code
        == 204
    )
    again = login("manager.a@test.sn")
    assert identity["last_name"] in again.get(f"{BASE}/").get_data(as_text=True)  # listed as to finish
    assert 'value="77 999 88 77"' in again.get(f"{draft}/contact").get_data(as_text=True)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        assert db.session.scalar(select(EnrolmentDraft).where(EnrolmentDraft.public_id == draft_id)).data[
            "contact"
        ]


def test_the_duplicate_warning_comes_before_saving(app, world, login):
    client = login("manager.a@test.sn")

    def enrol_through_screens(identity, confirm=False):
        draft, _id = _draft_url(client.post(f"{BASE}/inscription", data=identity))
        client.post(f"{draft}/contact", data={"phone": "", "trade": "tailleur"})
        client.post(f"{draft}/consent", data={"consent": "y", "given_on": "01/11/2026"})
        return draft, client.post(f"{draft}/verification", data={"not_duplicate": "y"} if confirm else {})

    with app.app_context():
        first = _identity(last_name="Faye", first_names=f"Khady {uuid.uuid4().hex[:4]}", birth="1990")
    assert enrol_through_screens(first)[1].status_code == 302
    near = {**first, "last_name": "Fay", "birth": "vers 1991"}
    draft, warned = enrol_through_screens(near)
    assert warned.status_code == 409 and "peut-être déjà inscrite" in warned.get_data(as_text=True)
    confirmed = client.post(f"{draft}/verification", data={"not_duplicate": "y"})
    assert confirmed.status_code == 302


def test_the_register_is_searched_and_paginated_within_reach(app, world, login, enrolled):
    for _ in range(3):
        enrolled(last_name="Thiam", birth="1970")
    client = login("manager.a@test.sn")
    page = client.get(f"{BASE}/?q=thiam").get_data(as_text=True)
    assert page.count("THIAM") >= 3
    assert client.get(f"{BASE}/?q=thiam&page=2").status_code == 200
    other = login("manager.b@test.sn")
    assert other.get(f"{BASE}/?q=thiam").status_code == 403  # not their mutual at all


def test_the_member_page_changes_status_and_records_consent(app, world, login, enrolled):
    member = enrolled(consent=False)
    client = login("manager.a@test.sn")
    url = f"{BASE}/{member.public_id}"
    assert "Pas de consentement en cours" in client.get(url).get_data(as_text=True)
    assert client.post(f"{url}/consentement", data={"given_on": "20/11/2026"}).status_code == 422
    assert (
        client.post(f"{url}/consentement", data={"consent": "y", "given_on": "20/11/2026"}).status_code == 302
    )
    refused = client.post(f"{url}/statut", data={"status": "suspended", "reason": ""})
    assert refused.status_code == 422 and 'id="reason-error"' in refused.get_data(as_text=True)
    assert (
        client.post(
            f"{url}/statut", data={"status": "suspended", "reason": "Cotisations impayées"}
        ).status_code
        == 302
    )
    assert _member(app, world, member.public_id)[1] == "suspended"


def test_a_manager_sets_the_mutuals_rules_and_they_apply(app, world, login):
    client = login("manager.a@test.sn")
    defaults = {"child_age_limit": "21", "max_household_size": "10", "card_validity_months": "12",
                "consent_version": "2026-01"}  # fmt: skip
    bad = client.post(f"{BASE}/regles", data={**defaults, "child_age_limit": "99"})
    assert bad.status_code == 422 and 'id="child_age_limit-error"' in bad.get_data(as_text=True)
    try:
        assert client.post(f"{BASE}/regles", data={**defaults, "child_age_limit": "18"}).status_code == 302
        with app.app_context():
            identity = _identity()
        draft, _id = _draft_url(client.post(f"{BASE}/inscription", data=identity))
        child = {
            "relationship": "child",
            "last_name": "Sow",
            "first_names": "Ali",
            "sex": "M",
            "birth": "2007",
        }
        refused = client.post(f"{draft}/foyer", data=child)
        assert refused.status_code == 422 and "18 ans ou plus" in refused.get_data(as_text=True)
    finally:
        client.post(f"{BASE}/regles", data=defaults)
    assert login("sup.a@test.sn").get(f"{BASE}/regles").status_code == 403  # a supervisor only reads
