"""The right of access: a member's data as JSON and PDF, audited, extensible by later modules."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.members import cards, exports, services
from app.members.models import Member
from tests.app.members.test_cards import (
    events,
    in_tenant,
    make_household,
    make_other_agent,
    new_member,
    unique_phone,
)
from tests.fixtures.app import SYSTEM


def test_my_data_json_holds_the_household_and_its_consents(app, client, login, world):
    phone = unique_phone()
    household = make_household(app, world, dependants=2, phone=phone)
    with in_tenant(app, world.alpha) as session:
        principal = session.scalar(select(Member).where(Member.number == household.principal.number))
        services.withdraw_consent(session, world.alpha, SYSTEM, principal, "Ne souhaite plus")
        session.commit()
    login("manager.a@test.sn")
    response = client.get(f"/alpha/adherents/{household.principal.public_id}/mes-donnees.json")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    data = response.get_json(force=True)
    assert data["format"] == exports.FORMAT and data["mutual"]["name"] == "Mutuelle Alpha"
    assert [p["number"] for p in data["household"]] == [p.number for p in household.people]
    adherent = data["household"][0]
    assert adherent["phone"] == f"+221{phone}" and adherent["relationship"] == "principal"
    assert adherent["association"] == "Association A" and adherent["birth_date"] == "1985-03-12"
    assert [s["to_status"] for s in adherent["status_history"]] == ["active", "suspended"]
    (consent,) = data["consents"]
    assert consent["text_version"] and consent["given_on"] and consent["collected_by"] == "tests"
    assert consent["withdrawn_at"] and consent["withdrawal_reason"] == "Ne souhaite plus"
    (event,) = events(app, world, "members.data_exported", household.principal.number)
    assert event.details["format"] == "json" and len(event.details["people"]) == 3
    assert events(app, world, "read.member", household.principal.number)


def test_an_ayant_droit_receives_only_their_own_data(app, client, login, world):
    household = make_household(app, world, dependants=1)
    login("manager.a@test.sn")
    data = client.get(f"/alpha/adherents/{household.dependants[0].public_id}/mes-donnees.json").get_json(
        force=True
    )
    assert [p["number"] for p in data["household"]] == [household.dependants[0].number]
    assert len(data["consents"]) == 1  # the household's consent covers them


def test_my_data_pdf(app, client, login, world, monkeypatch):
    monkeypatch.setattr(cards, "PDF_COMPRESSION", False)
    household = make_household(app, world, dependants=1, first_names="Maïmouna")
    login("manager.a@test.sn")
    response = client.get(f"/alpha/adherents/{household.principal.public_id}/mes-donnees.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert "Maïmouna".encode("latin-1") in response.data
    assert household.dependants[0].number.encode() in response.data
    assert b"Consentements" in response.data
    (event,) = events(app, world, "members.data_exported", household.principal.number)
    assert event.details["format"] == "pdf"


def test_later_modules_add_their_section(alpha, world, monkeypatch):
    monkeypatch.setattr(exports, "SECTIONS", {})
    monkeypatch.setitem(exports.LABELS, "contributions", "Cotisations")

    @exports.export_section("contributions")
    def contributions(session, tenant, member):
        return [{"period": "2026-11", "amount": 3500}]

    member = new_member(alpha, world)
    data = exports.member_data(alpha, world.alpha, member)
    assert data["contributions"] == [{"period": "2026-11", "amount": 3500}]
    monkeypatch.setattr(cards, "PDF_COMPRESSION", False)
    pdf = exports.render_pdf(data)
    assert b"Cotisations" in pdf and b"3500" in pdf


@pytest.mark.parametrize("suffix", ["json", "pdf"])
def test_export_outside_reach_is_not_found(app, client, login, world, make_staff, suffix):
    household = make_household(app, world)
    login(make_other_agent(app, make_staff))
    assert (
        client.get(f"/alpha/adherents/{household.principal.public_id}/mes-donnees.{suffix}").status_code
        == 404
    )
