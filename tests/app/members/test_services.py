"""Enrolment rules: identity checks, eligibility, numbers, duplicates, status history, search, scope."""

import datetime as dt

import pytest
from sqlalchemy import select

from app.database import local_today
from app.errors import FieldError, NotFound
from app.members import numbers, services
from app.members.models import MemberStatus, MemberStatusEvent
from app.members.services import DependantInput, DuplicatesFound
from app.security.actor import Actor
from tests.app.members.conftest import person
from tests.fixtures.app import SYSTEM, node

TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12/03/1985", (dt.date(1985, 3, 12), 1985)), ("1985-03-12", (dt.date(1985, 3, 12), 1985)),
     ("vers 1980", (None, 1980)), ("1980", (None, 1980)), ("Vers 1975", (None, 1975))],
)  # fmt: skip
def test_birth_dates_exact_or_year_only(raw, expected):
    assert services.parse_birth(raw, TODAY) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [("31/02/1990", "n'existe pas"), ("12/03/2030", "futur"), ("1880", "trop ancienne"),
     ("hier", "JJ/MM/AAAA"), ("", "année seule")],
)  # fmt: skip
def test_bad_birth_dates_say_why(raw, message):
    with pytest.raises(FieldError, match=message) as error:
        services.parse_birth(raw, TODAY)
    assert error.value.field == "birth"


def test_identity_checks_name_the_field():
    with pytest.raises(FieldError) as error:
        services.clean_person(person(national_id="123"), today=TODAY)
    assert error.value.field == "national_id"
    with pytest.raises(FieldError) as error:
        services.clean_person(person(phone="12"), today=TODAY, prefix="dependants-0-")
    assert error.value.field == "dependants-0-phone"
    clean = services.clean_person(person(phone="77 123 45 67", national_id="1 234 5678 90123"), today=TODAY)
    assert clean.phone == "+221771234567" and clean.national_id == "1234567890123"


def test_enrolment_gives_each_beneficiary_a_checked_number(enrol):
    principal = enrol(
        dependants=(DependantInput(person(sex="M", birth="vers 1980"), "spouse"),
                    DependantInput(person(birth="2015"), "child")),
    )  # fmt: skip
    household = [principal, *principal.dependants]
    assert [numbers.parse(m.number).rank for m in household] == [0, 1, 2]
    assert len({numbers.parse(m.number).household for m in household}) == 1
    assert all(m.status is MemberStatus.active for m in household)
    mistyped = principal.number[:-3] + ("1" if principal.number[-3] != "1" else "2") + principal.number[-2:]
    assert numbers.parse(mistyped) is None


def test_several_spouses_are_allowed_but_not_an_adult_child_nor_a_crowd(alpha, world, enrol):
    principal = enrol(sex="M")
    for _ in range(2):
        services.add_dependant(alpha, world.alpha, SYSTEM, principal, DependantInput(person(), "spouse"))
    with pytest.raises(FieldError, match="21 ans ou plus") as error:
        services.add_dependant(
            alpha, world.alpha, SYSTEM, principal, DependantInput(person(birth="1990"), "child")
        )
    assert error.value.field == "birth"
    for _ in range(7):
        services.add_dependant(
            alpha, world.alpha, SYSTEM, principal, DependantInput(person(birth="2020"), "child")
        )
    with pytest.raises(FieldError, match="maximum"):
        services.add_dependant(
            alpha, world.alpha, SYSTEM, principal, DependantInput(person(birth="2021"), "child")
        )


def test_a_near_duplicate_is_flagged_before_saving(alpha, world, enrol):
    existing = enrol(last_name="Ndiaye", first_names="Fatou Binetou", birth="1984", phone="77 555 12 34")
    near = person(last_name="Ndiay", first_names="Fatou Binetu", birth="vers 1985")
    with pytest.raises(DuplicatesFound) as found:
        services.enrol(alpha, world.alpha, SYSTEM, person=near, association_id=node("ASS-A").id)
    assert existing.id in [c.member.id for c in found.value.candidates]
    same_phone = person(phone="+221 77 555 12 34", birth="2001")
    with pytest.raises(DuplicatesFound):
        services.enrol(alpha, world.alpha, SYSTEM, person=same_phone, association_id=node("ASS-A").id)
    confirmed = services.enrol(
        alpha, world.alpha, SYSTEM, person=near, association_id=node("ASS-A").id, allow_duplicates=True
    )
    assert confirmed.number != existing.number


def test_search_by_number_phone_or_name_forgives_accents_and_spelling(alpha, world, enrol):
    member = enrol(last_name="Guèye", first_names="Aïssatou", birth="1979", phone="76 321 00 11")

    def found(q):
        return [m.id for m in services.search_members(alpha, world.alpha, SYSTEM, q).items]

    assert member.id in found(member.number.lower().replace("-", " "))
    assert member.id in found("763210011")
    assert member.id in found("gueye aissatou")
    assert member.id in found("Gaye Aissatou")


def test_status_changes_follow_the_rules_and_keep_history(alpha, world, enrol):
    member = enrol()
    with pytest.raises(FieldError, match="motif"):
        services.change_status(alpha, world.alpha, SYSTEM, member, "suspended", "")
    services.change_status(alpha, world.alpha, SYSTEM, member, "deceased", "Acte de décès n° 12")
    with pytest.raises(FieldError, match="pas possible"):
        services.change_status(alpha, world.alpha, SYSTEM, member, "active", "erreur")
    steps = alpha.scalars(
        select(MemberStatusEvent.to_status)
        .where(MemberStatusEvent.member_id == member.id)
        .order_by(MemberStatusEvent.id)
    ).all()
    assert steps == ["active", "deceased"]


def test_staff_see_only_their_subtree(alpha, world, enrol):
    member = enrol()
    outsider = Actor(
        account_id=None, label="fed-b", scopes=((node("FED-B").path, frozenset({"members.read"})),)
    )
    agent = Actor(account_id=None, label="ass-a", scopes=((node("ASS-A").path, frozenset({"members.read"})),))
    assert services.search_members(alpha, world.alpha, outsider, "").total == 0
    with pytest.raises(NotFound):
        services.get_member(alpha, world.alpha, outsider, member.public_id)
    assert services.get_member(alpha, world.alpha, agent, member.public_id).id == member.id


def test_an_imported_member_without_consent_waits_until_it_is_collected(alpha, world, enrol):
    member = enrol(consent=False)
    assert member.status is MemberStatus.pending
    services.record_consent(alpha, world.alpha, SYSTEM, member, services.ConsentInput(given_on=local_today()))
    assert member.status is MemberStatus.active
    services.withdraw_consent(alpha, world.alpha, SYSTEM, member, "Ne souhaite plus")
    assert member.status is MemberStatus.suspended and services.current_consent(alpha, member) is None
