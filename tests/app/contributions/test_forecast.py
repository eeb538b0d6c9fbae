"""Forecast (1, 3, 6, 12 months), balance (expected against collected, arrears, per association and ligue),
the funders' receivables and their screens."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.contributions.dues import generate_dues, refresh_subsidy_receivables
from app.contributions.forecast import (
    Amounts,
    Collection,
    balance,
    forecast,
    list_receivables,
    mark_receivable,
    parse_period,
)
from app.contributions.models import (
    Allocation,
    Due,
    DueKind,
    Payment,
    PaymentStatus,
    ReceivableStatus,
    SubsidyReceivable,
)
from app.contributions.subscriptions import subscribe
from app.database import utcnow
from app.errors import FieldError, Forbidden
from app.extensions import db
from app.members.models import Member
from app.security.actor import Actor
from hierarchy.models import Node
from tenants.context import tenant_scope
from tests.app.contributions import test_dues
from tests.app.contributions.test_dues import Mutual, make_household, make_product
from tests.fixtures.app import SYSTEM

D = dt.date
#: The fixtures of test_dues (a mutual of one's own per test), used here by name.
mutual, in_mutual = test_dues.mutual, test_dues.in_mutual


@dataclass
class Book:
    """Three households: two at the first ligue's associations, one at the other ligue's."""

    first: Member  # association 0: product A from 15/01 (joining fee 500)
    second: Member  # association 1: product B (quarterly, per household) from 01/02
    third: Member  # association 2 (other ligue): product A from 10/04


@pytest.fixture
def book(in_mutual: Session, mutual: Mutual) -> Book:
    session = in_mutual
    product_a = make_product(session, basis="per_adherent", amount=1000, joining_fee=500,
                             subsidies=[("État", 30, None)])  # fmt: skip
    product_b = make_product(session, basis="per_household", periodicity="quarterly", amount=6000)
    first = make_household(session, mutual, association=0)
    second = make_household(session, mutual, association=1, dependants=(("spouse", "1982"),))
    third = make_household(session, mutual, association=2)
    subscribe(session, mutual.tenant, SYSTEM, first, product_a, D(2026, 1, 15))
    subscribe(session, mutual.tenant, SYSTEM, second, product_b, D(2026, 2, 1))
    subscribe(session, mutual.tenant, SYSTEM, third, product_a, D(2026, 4, 10))
    session.commit()
    return Book(first, second, third)


def agent_of(session: Session, association_id: int, *permissions: str) -> Actor:
    node = session.get(Node, association_id)
    return Actor(account_id=None, label="agent", scopes=((node.path, frozenset(permissions)),))


def test_forecast_per_month_association_ligue_and_funder(in_mutual: Session, mutual: Mutual, book: Book):
    result = forecast(in_mutual, mutual.tenant, SYSTEM, 3, D(2026, 3, 5))
    assert result.months == [D(2026, 3, 1), D(2026, 4, 1), D(2026, 5, 1)]
    # March: first's 15/03 period. April: first's, third's first period and its joining fee. May: first,
    # third, and second's quarter starting 01/05 (6000 for a household of two: the flat amount).
    assert [t.amount for t in result.totals] == [1000, 2500, 8000]
    assert [t.subsidy for t in result.totals] == [300, 600, 600]
    assert [t.member for t in result.totals] == [700, 1900, 7400]
    assert [t.dues for t in result.totals] == [1, 3, 3]
    assert result.total == Amounts(11500, 1500, 10000, 7)
    assert result.funders == {"État": [300, 600, 600]}
    by_league = {line.node.code: [a.amount for a in line.months] for line in result.leagues}
    assert by_league == {mutual.league: [1000, 1000, 7000], mutual.other_league: [0, 1500, 1000]}
    by_association = {line.node.id: line.total.amount for line in result.associations}
    assert by_association == dict(zip(mutual.associations, (3000, 6000, 2500), strict=True))


def test_a_forecast_month_is_what_generation_then_creates(in_mutual: Session, mutual: Mutual, book: Book):
    result = forecast(in_mutual, mutual.tenant, SYSTEM, 6, D(2026, 2, 1))
    generate_dues(in_mutual, mutual.tenant, through=D(2026, 7, 31))
    for month, expected in zip(result.months, result.totals, strict=True):
        dues = in_mutual.scalars(
            select(Due).where(Due.period_start >= month, Due.period_start < _next(month))
        ).all()
        assert expected == Amounts(
            sum(d.amount for d in dues), sum(d.subsidy_amount for d in dues),
            sum(d.member_amount for d in dues), len(dues),
        ), month  # fmt: skip


def _next(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def test_forecast_horizons_and_reach(in_mutual: Session, mutual: Mutual, book: Book):
    assert len(forecast(in_mutual, mutual.tenant, SYSTEM, 12, D(2026, 1, 1)).months) == 12
    with pytest.raises(FieldError):
        forecast(in_mutual, mutual.tenant, SYSTEM, 2, D(2026, 1, 1))
    agent = agent_of(in_mutual, mutual.associations[0], "contributions.read")
    mine = forecast(in_mutual, mutual.tenant, agent, 3, D(2026, 3, 1))
    assert [line.node.id for line in mine.associations] == [mutual.associations[0]]
    assert [t.amount for t in mine.totals] == [1000, 1000, 1000]
    with pytest.raises(Forbidden):
        forecast(in_mutual, mutual.tenant, agent_of(in_mutual, mutual.associations[0], "members.read"), 3,
                 D(2026, 3, 1))  # fmt: skip


def _pay(
    session: Session, due: Due, amount: int, *, cancelled: bool = False, reversed_: bool = False
) -> None:
    """A payment allocated to one due, written directly (the cash desk has its own service)."""
    member = session.get(Member, due.member_id)
    payment = Payment(
        member_id=due.member_id, amount=amount, receipt_number=f"R-{uuid.uuid4().hex[:10]}",
        received_on=D(2026, 3, 1), association_id=member.association_id, agent_label="tests",
        status=PaymentStatus.cancelled if cancelled else PaymentStatus.valid,
    )  # fmt: skip
    session.add(payment)
    session.flush()
    session.add(Allocation(payment_id=payment.id, due_id=due.id, amount=amount,
                           reversed_at=utcnow() if reversed_ else None))  # fmt: skip
    session.flush()


def test_balance_expected_collected_rate_and_arrears(
    app: Flask, in_mutual: Session, mutual: Mutual, book: Book, monkeypatch
):
    session = in_mutual
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2026-03-20")
    generate_dues(session, mutual.tenant, through=D(2026, 3, 31))
    dues = {(d.member_id, d.kind, d.period_start): d for d in session.scalars(select(Due))}
    first, second = book.first.id, book.second.id
    _pay(session, dues[first, DueKind.contribution, D(2026, 1, 15)], 700)
    _pay(session, dues[first, DueKind.joining_fee, D(2026, 1, 15)], 500)
    _pay(session, dues[second, DueKind.contribution, D(2026, 2, 1)], 2000)
    _pay(session, dues[first, DueKind.contribution, D(2026, 2, 15)], 700, cancelled=True)  # not counted
    _pay(session, dues[first, DueKind.contribution, D(2026, 3, 15)], 300, reversed_=True)  # not counted
    session.commit()
    start, end = parse_period("2026-T1")
    result = balance(session, mutual.tenant, SYSTEM, start, end)
    assert result.as_of == D(2026, 3, 20)
    # first: 3 monthly dues (1000, of which 700 for the household) + the joining fee; second: one quarter.
    assert result.total == Collection(
        dues=5, amount=3000 + 500 + 6000, subsidy=900, expected=2100 + 500 + 6000, collected=700 + 500 + 2000,
        arrears=700 + 700 + 4000,
    )  # fmt: skip
    assert result.total.rate == pytest.approx(3200 / 8600)
    by_node = {line.node.id: line.figures for line in result.associations}
    assert by_node[mutual.associations[0]] == Collection(4, 3500, 900, 2600, 1200, 1400)
    assert by_node[mutual.associations[1]] == Collection(1, 6000, 0, 6000, 2000, 4000)
    assert by_node[mutual.associations[2]] == Collection() and Collection().rate is None
    leagues = {line.node.code: line.figures for line in result.leagues}
    assert leagues[mutual.league] == by_node[mutual.associations[0]] + by_node[mutual.associations[1]]
    assert leagues[mutual.other_league] == Collection()
    march = balance(session, mutual.tenant, SYSTEM, *parse_period("2026-03"))
    assert (march.total.expected, march.total.arrears) == (700, 700)  # due 15/03, before the 20th


def test_receivables_are_marked_claimed_then_received(
    app: Flask, in_mutual: Session, mutual: Mutual, book: Book, monkeypatch
):
    session = in_mutual
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2026-04-20")
    generate_dues(session, mutual.tenant, through=D(2026, 3, 31))
    refresh_subsidy_receivables(session, mutual.tenant)
    session.commit()
    rows = list_receivables(session, mutual.tenant, SYSTEM)
    assert [(r.funder, r.period_start, r.amount, r.status) for r in rows] == [
        ("État", D(2026, m, 1), 300, ReceivableStatus.expected) for m in (3, 2, 1)
    ]
    january = rows[-1]
    mark_receivable(session, mutual.tenant, SYSTEM, january, "claimed", None, D(2026, 2, 10))
    with pytest.raises(FieldError):
        mark_receivable(session, mutual.tenant, SYSTEM, january, "received", 301, D(2026, 4, 1))
    with pytest.raises(FieldError):
        mark_receivable(session, mutual.tenant, SYSTEM, january, "received", 300, D(2026, 4, 21))  # future
    mark_receivable(session, mutual.tenant, SYSTEM, january, "received", 250, D(2026, 4, 2))
    assert (january.status, january.claimed_on, january.received_amount, january.received_on) == (
        ReceivableStatus.received, D(2026, 2, 10), 250, D(2026, 4, 2),
    )  # fmt: skip
    with pytest.raises(FieldError):
        mark_receivable(session, mutual.tenant, SYSTEM, january, "claimed", None, D(2026, 4, 3))  # final
    agent = agent_of(session, mutual.associations[0], "contributions.read", "contributions.record")
    with pytest.raises(Forbidden):  # a mutual's receivables are not an association's business
        mark_receivable(session, mutual.tenant, agent, rows[0], "claimed", None, D(2026, 4, 3))
    session.commit()
    events = session.scalars(
        select(TenantAuditEvent).where(TenantAuditEvent.action == "contributions.receivable_marked")
    ).all()
    assert [e.details["after"]["status"] for e in events] == ["claimed", "received"]
    assert events[1].details["before"]["status"] == "claimed"
    balance_ = balance(session, mutual.tenant, SYSTEM, *parse_period("2026-T1"))
    assert [r.status for r in balance_.receivables] == [ReceivableStatus.expected] * 2 + [
        ReceivableStatus.received
    ]


def test_periods_as_typed():
    assert parse_period("2026-02") == (D(2026, 2, 1), D(2026, 2, 28))
    assert parse_period("2026-T4") == (D(2026, 10, 1), D(2026, 12, 31))
    for bad in ("2026-13", "2026-T5", "mars", ""):
        with pytest.raises(FieldError):
            parse_period(bad)


# --- screens -------------------------------------------------------------------------------------------


def test_report_screens(app: Flask, client, login, monkeypatch, world):
    """In mutual alpha (where the test accounts have grants): the three pages render, the forecast and the
    balance show amounts in F CFA, and a receivable is marked from its form."""
    from tests.app.members.conftest import person  # noqa: F401 - alpha's helpers live there
    from tests.fixtures.app import node

    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2026-03-20")
    funder = f"Commune {uuid.uuid4().hex[:6]}"
    with app.app_context(), tenant_scope(db.session, world.alpha):
        from app.members import services
        from app.members.services import ConsentInput

        product = make_product(db.session, basis="per_adherent", amount=125000,
                               subsidies=[(funder, None, 25000)])  # fmt: skip
        member = services.enrol(
            db.session, world.alpha, SYSTEM, person=person(), association_id=node("ASS-A").id,
            sector="artisanat", consent=ConsentInput(given_on=D(2026, 1, 1)), allow_duplicates=True,
        )  # fmt: skip
        subscribe(db.session, world.alpha, SYSTEM, member, product, D(2026, 3, 1))
        db.session.commit()
        generate_dues(db.session, world.alpha, through=D(2026, 3, 31))
        refresh_subsidy_receivables(db.session, world.alpha, since=D(2026, 3, 1))
        db.session.commit()
    client = login("manager.a@test.sn")
    base = "/alpha/cotisations/rapports"
    page = client.get(f"{base}/?mois=1&debut=2026-04").get_data(as_text=True)
    assert "125\u202f000\xa0F\u202fCFA" in page and "Prévision des cotisations" in page
    page = client.get(f"{base}/bilan?periode=2026-03").get_data(as_text=True)
    assert "Bilan des cotisations" in page and "<svg" in page and "Arriérés" in page
    assert client.get(f"{base}/bilan?periode=nimporte").status_code == 200  # the field says why
    page = client.get(f"{base}/subventions").get_data(as_text=True)
    assert funder in page and "25\u202f000\xa0F\u202fCFA" in page
    refused = client.post(f"{base}/subventions", data={"funder": funder, "month": "2026-03-01",
                                                        "status": "received", "received_amount": "30000",
                                                        "on": "2026-03-19"})  # fmt: skip
    assert refused.status_code == 200 and "dépasse la créance" in refused.get_data(as_text=True)
    done = client.post(f"{base}/subventions", data={"funder": funder, "month": "2026-03-01",
                                                     "status": "claimed", "on": "2026-03-19"})  # fmt: skip
    assert done.status_code == 302
    with app.app_context(), tenant_scope(db.session, world.alpha):
        receivable = db.session.scalar(select(SubsidyReceivable).where(SubsidyReceivable.funder == funder))
        assert (receivable.status, receivable.claimed_on) == (ReceivableStatus.claimed, D(2026, 3, 19))


def test_screens_need_the_permission(app: Flask, client, make_staff, world):
    from tests.fixtures.app import PASSWORD

    staff = make_staff(("ASS-A", "medical_adviser"), mfa_enrolled=False)
    client.post("/connexion", data={"login": staff.email, "password": PASSWORD})
    assert client.get("/alpha/cotisations/rapports/").status_code == 403
    assert client.get("/alpha/cotisations/rapports/subventions").status_code == 403
