"""Medical control: the multi-criteria search with totals, and the four signals (provider cost far above its
peers, unusual frequency, one card at two consulting providers on a day, care after death), raised once and
closed with a comment."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.care import control
from app.care.claims_models import CareLine, CareRecord
from app.care.models import CareProvider, CareSignal, ProviderKind, SignalKind, SignalStatus
from app.errors import DomainError, FieldError, Forbidden
from app.members import services as members
from tests.app.care.test_eligibility import TODAY, agent_actor, audited, setup_care, tag
from tests.app.coverage.test_rights import enrol
from tests.fixtures.app import SYSTEM

D = dt.date
START, END = D(2031, 1, 1), D(2031, 3, 31)  # a quarter of its own: other tests leave no care there


@pytest.fixture
def alpha(session: Session, world: Any, app: Any, monkeypatch: pytest.MonkeyPatch):
    from tenants.context import tenant_scope

    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    with tenant_scope(session, world.alpha):
        session.execute(delete(CareSignal))
        yield session
        session.rollback()


def provider(session: Session, kind: ProviderKind, name: str = "") -> CareProvider:
    made = CareProvider(code=f"P-{tag()}", name=name or f"Prestataire {tag()}", kind=kind, region="Dakar")
    session.add(made)
    session.flush()
    return made


def visit(session: Session, member_id: int, where: CareProvider, day: dt.date, benefit_id: int, amount: int):
    record = CareRecord(provider_id=where.id, member_id=member_id, care_date=day)
    session.add(record)
    session.flush()
    session.add(CareLine(record_id=record.id, benefit_id=benefit_id, quantity=1, unit_price_asked=amount,
                         amount_asked=amount, amount_accepted=amount * 8 // 10,
                         member_share=amount * 2 // 10))  # fmt: skip
    session.flush()
    return record


def test_search_with_totals(alpha: Session, world: Any) -> None:
    care = setup_care(alpha, world)
    adviser = agent_actor(alpha, world.alpha, "care.medical_control")
    pharmacy = provider(alpha, ProviderKind.pharmacy)
    searches = (
        select(func.count())
        .select_from(TenantAuditEvent)
        .where(TenantAuditEvent.action == "read.care_search")
    )
    before = alpha.scalar(searches)
    member = care["member"]
    visit(alpha, member.id, care["a"], D(2031, 1, 5), care["consult"].id, 5000)
    visit(alpha, member.id, pharmacy, D(2031, 1, 5), care["scan"].id, 1500)
    visit(alpha, member.id, care["a"], D(2031, 4, 5), care["consult"].id, 5000)  # outside the period
    filters = control.CareFilters(member=member.number, date_from=START, date_to=END)
    found = control.search(alpha, world.alpha, adviser, filters)
    assert (found.totals.lines, found.totals.visits, found.totals.amount_asked) == (2, 2, 6500)
    assert (found.totals.amount_accepted, found.totals.member_share, found.totals.beneficiaries) == (
        5200,
        1300,
        1,
    )
    pharmacies = control.search(alpha, world.alpha, adviser, control.CareFilters(
        member=member.number, provider_kind="pharmacy"))  # fmt: skip
    assert [(row[2].id, row[3].id) for row in pharmacies.rows] == [(pharmacy.id, care["scan"].id)]
    by_act = control.search(alpha, world.alpha, adviser, control.CareFilters(benefit=care["consult"].code))
    assert by_act.totals.lines == 2
    assert alpha.scalar(searches) == before + 3  # medical data: every search is audited
    with pytest.raises(FieldError):
        control.search(alpha, world.alpha, adviser, control.CareFilters(date_from=END, date_to=START))
    with pytest.raises(Forbidden):
        control.search(alpha, world.alpha, agent_actor(alpha, world.alpha, "care.record"), filters)


def test_signals_are_raised_once_and_closed_with_a_comment(alpha: Session, world: Any) -> None:
    care = setup_care(alpha, world)
    adviser = agent_actor(alpha, world.alpha, "care.medical_control")
    consult = care["consult"].id
    centres = [provider(alpha, ProviderKind.health_centre) for _ in range(4)]
    expensive = provider(alpha, ProviderKind.health_centre, "Centre cher")
    pharmacy = provider(alpha, ProviderKind.pharmacy)
    people = [enrol(alpha, world.alpha) for _ in range(4)]
    for index, centre in enumerate(centres):  # peers: 5 000 to 5 600 per visit
        for person in people[:2]:
            visit(alpha, person.id, centre, D(2031, 1, 10 + index), consult, 5000 + index * 200)
    visit(alpha, people[2].id, expensive, D(2031, 2, 1), consult, 25_000)
    visit(alpha, people[2].id, expensive, D(2031, 2, 2), consult, 23_000)
    frequent = people[3]
    for day in range(1, 11):  # ten visits in the quarter; the others have one to three
        visit(alpha, frequent.id, centres[0], D(2031, 3, day), consult, 5000)
    # same day: a centre and the expensive centre (two consulting providers); a pharmacy does not count
    visit(alpha, people[0].id, expensive, D(2031, 1, 10), consult, 5000)
    visit(alpha, people[1].id, pharmacy, D(2031, 1, 10), care["scan"].id, 1000)
    deceased = enrol(alpha, world.alpha)
    members.change_status(alpha, world.alpha, SYSTEM, deceased, "deceased", "Décès déclaré",
                          effective_on=D(2031, 2, 1))  # fmt: skip
    visit(alpha, deceased.id, centres[1], D(2031, 2, 15), consult, 5000)
    visit(alpha, deceased.id, centres[1], D(2031, 1, 15), consult, 5000)  # before: fine

    report = control.detect(alpha, world.alpha, adviser, start=START, end=END)
    signals = control.list_signals(alpha, world.alpha, adviser)
    found = {(s.kind, s.provider_id, s.member_id) for s in signals}
    assert (SignalKind.provider_cost, expensive.id, None) in found
    assert not any(s.kind == SignalKind.provider_cost and s.provider_id != expensive.id for s in signals)
    assert (SignalKind.frequent_visits, None, frequent.id) in found
    assert [s.member_id for s in signals if s.kind == SignalKind.frequent_visits] == [frequent.id]
    assert [(s.member_id, s.period_start) for s in signals if s.kind == SignalKind.same_day_providers] == [
        (people[0].id, D(2031, 1, 10))
    ]
    assert [(s.member_id, s.period_start) for s in signals if s.kind == SignalKind.care_after_exit] == [
        (deceased.id, D(2031, 2, 15))
    ]
    assert report.total == len(signals) == 4
    assert control.detect(alpha, world.alpha, adviser, start=START, end=END).total == 0  # raised once

    signal = signals[0]
    with pytest.raises(FieldError):
        control.close_signal(alpha, world.alpha, adviser, signal, "  ")
    control.close_signal(alpha, world.alpha, adviser, signal, "Vérifié avec le prestataire : justifié.")
    assert signal.status == SignalStatus.closed and signal.close_comment.startswith("Vérifié")
    assert signal not in control.list_signals(alpha, world.alpha, adviser)
    with pytest.raises(DomainError):
        control.close_signal(alpha, world.alpha, adviser, signal, "encore")
    assert audited(alpha, "care.signal_closed", signal.public_id) == 1
    assert alpha.scalar(select(CareSignal.id).where(CareSignal.id == signal.id)) is not None


def test_control_pages(
    app: Any, world: Any, make_staff: Any, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.extensions import db
    from tenants.context import tenant_scope

    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        care = setup_care(db.session, world)
        visit(
            db.session, care["member"].id, care["a"], D(2032, 1, 5), care["consult"].id, 5000
        )  # not Q1 2031
        number = care["member"].number
        db.session.commit()
    adviser = make_staff(("FED-A", "medical_adviser"))
    client = login(adviser.email)
    page = client.get("/alpha/controle-medical/", query_string={"member": number, "start": "2032-01-01"})
    assert page.status_code == 200 and "5 000" in page.get_data(as_text=True).replace("\u202f", " ")
    bad = client.get("/alpha/controle-medical/", query_string={"member": "XX", "start": "2031-01-01"})
    assert bad.status_code == 422 and "invalide" in bad.get_data(as_text=True)
    assert client.get("/alpha/controle-medical/signaux").status_code == 200
    agent = make_staff(("FED-A", "association_agent"))
    assert login(agent.email).get("/alpha/controle-medical/").status_code == 403
