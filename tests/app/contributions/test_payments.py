"""Payments of contributions (services): allocation oldest first, credit, concurrency, cancellation and
correction that keep the original, receipts, amounts in words, idempotent online payments, scope."""

from __future__ import annotations

import datetime as dt
import importlib.util
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.contributions import payments, receipts
from app.contributions.models import (
    Allocation,
    Due,
    DueKind,
    DueStatus,
    Payment,
    PaymentStatus,
    Subscription,
)
from app.coverage.models import Basis, Periodicity, Product, ProductVersion
from app.database import local_today
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.extensions import db
from app.members import services
from app.members.models import Member
from app.members.services import ConsentInput
from app.security.actor import Actor
from hierarchy import services as hierarchy
from hierarchy.services import NodeDetails
from tenants.context import tenant_scope
from tests.app.members.conftest import person
from tests.fixtures.app import SYSTEM, node

TODAY = dt.date(2026, 6, 15)


@pytest.fixture(autouse=True)
def business_date(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The business clock on a fixed day (dues of January to March are late)."""
    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY.isoformat())


@pytest.fixture(autouse=True)
def rights_refreshed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, dt.date]]:
    """The rights engine's hook, recorded instead of run: these tests are about money (the rights tests
    cover what a refresh does); the hook itself must be called after every change of allocations."""
    calls: list[tuple[str, int, dt.date]] = []
    if importlib.util.find_spec("app.coverage.rights") is not None:
        monkeypatch.setattr(
            "app.coverage.rights.refresh_household",
            lambda _session, tenant, principal, day: calls.append((tenant.slug, principal.id, day)),
        )
    return calls


@pytest.fixture
def alpha(session: Session, world) -> Iterator[Session]:
    with tenant_scope(session, world.alpha):
        yield session


# --- fixtures made through the models (the generation job is someone else's) -------------------------------


@dataclass(frozen=True)
class Household:
    principal_id: int
    public_id: str
    number: str
    subscription_id: int
    version_id: int


def make_household(session: Session, world, association: str = "ASS-A") -> Household:
    """An adhérent enrolled at ``association`` and subscribed to a fresh monthly product; committed."""
    principal = services.enrol(
        session, world.alpha, SYSTEM, person=person(), association_id=node(association).id,
        sector="artisanat", consent=ConsentInput(given_on=local_today()), allow_duplicates=True,
    )  # fmt: skip
    product = Product(code=f"P{uuid.uuid4().hex[:8]}", name="Produit famille", valid_from=dt.date(2026, 1, 1))
    session.add(product)
    session.flush()
    version = ProductVersion(
        product_id=product.id, number=1, effective_from=dt.date(2026, 1, 1), basis=Basis.per_household,
        amount=2000, periodicity=Periodicity.monthly, joining_fee=1000,
    )  # fmt: skip
    session.add(version)
    session.flush()
    subscription = Subscription(member_id=principal.id, product_id=product.id, start_date=dt.date(2026, 1, 1))
    session.add(subscription)
    session.commit()
    return Household(principal.id, principal.public_id, principal.number, subscription.id, version.id)


def add_due(
    session: Session, household: Household, month: int, *, amount: int = 2000, subsidy: int = 0,
    kind: DueKind = DueKind.contribution, due_day: int = 1,
) -> Due:  # fmt: skip
    """The due of ``month`` 2026 (due on its ``due_day``)."""
    start = dt.date(2026, month, 1)
    end = (dt.date(2026, month + 1, 1) if month < 12 else dt.date(2027, 1, 1)) - dt.timedelta(days=1)
    due = Due(
        subscription_id=household.subscription_id, member_id=household.principal_id,
        version_id=household.version_id, kind=kind, period_start=start, period_end=end,
        due_date=dt.date(2026, month, due_day), amount=amount, subsidy_amount=subsidy,
        member_amount=amount - subsidy,
    )  # fmt: skip
    session.add(due)
    session.commit()
    return due


def principal_of(session: Session, household: Household) -> Member:
    member = session.get(Member, household.principal_id)
    assert member is not None
    return member


def live(session: Session, payment: Payment) -> list[tuple[int, int]]:
    """(due id, amount) of the payment's live allocations, in order."""
    rows = session.execute(
        select(Allocation.due_id, Allocation.amount)
        .where(Allocation.payment_id == payment.id, Allocation.reversed_at.is_(None))
        .order_by(Allocation.id)
    )
    return [(r.due_id, r.amount) for r in rows]


def pay(session: Session, world, household: Household, amount: int | str, **options) -> Payment:
    payment = payments.record_payment(
        session, world.alpha, SYSTEM, principal_of(session, household), amount=amount, **options
    )
    session.commit()
    return payment


@pytest.fixture
def association_z(app: Flask) -> str:
    """ASS-Z under LIG-A (the one the member-card tests use too): ASS-A is out of its agents' reach. Made in
    a context of its own: the hierarchy is not writable from inside a mutual's scope."""
    with app.app_context():
        if hierarchy.find_node_by_code(db.session, "ASS-Z") is None:
            hierarchy.create_child(
                db.session,
                SYSTEM,
                parent=node("LIG-A"),
                code="ASS-Z",
                details=NodeDetails(name="Association Z"),
            )
            db.session.commit()
    return "ASS-Z"


def agent_at(code: str, *permissions: str) -> Actor:
    return Actor(account_id=None, label=f"agent {code}", scopes=((node(code).path, frozenset(permissions)),))


# --- allocation --------------------------------------------------------------------------------------------


def test_a_payment_pays_the_oldest_dues_first_joining_fee_first_on_the_same_day(alpha, world):
    household = make_household(alpha, world)
    march = add_due(alpha, household, 3)
    january = add_due(alpha, household, 1)
    fee = add_due(alpha, household, 1, amount=1000, kind=DueKind.joining_fee)
    february = add_due(alpha, household, 2, amount=3000, subsidy=1000)  # the household pays 2 000

    payment = pay(alpha, world, household, "4 500")

    assert payment.amount == 4500 and payment.unallocated == 0
    assert live(alpha, payment) == [(fee.id, 1000), (january.id, 2000), (february.id, 1500)]
    assert [(d.status, d.paid_amount) for d in (fee, january, february, march)] == [
        (DueStatus.paid, 1000), (DueStatus.paid, 2000), (DueStatus.open, 1500), (DueStatus.open, 0),
    ]  # fmt: skip
    assert february.outstanding == 500
    assert payment.association_id == node("ASS-A").id and payment.agent_label == SYSTEM.label

    second = pay(alpha, world, household, 2500)  # completes February, then March
    assert live(alpha, second) == [(february.id, 500), (march.id, 2000)]
    assert february.status is DueStatus.paid and march.status is DueStatus.paid


def test_overpayment_is_credit_used_for_dues_created_later(alpha, world):
    household = make_household(alpha, world)
    january = add_due(alpha, household, 1)
    payment = pay(alpha, world, household, 5000)
    assert live(alpha, payment) == [(january.id, 2000)] and payment.unallocated == 3000
    account = payments.household_account(alpha, principal_of(alpha, household))
    assert (account.credit, account.outstanding, account.balance) == (3000, 0, -3000)

    # The generation job creates two more months and applies the credit.
    february, march = add_due(alpha, household, 2), add_due(alpha, household, 3)
    moved = payments.apply_credit(alpha, principal_of(alpha, household))
    alpha.commit()
    assert [(a.due_id, a.amount) for a in moved] == [(february.id, 2000), (march.id, 1000)]
    assert payment.unallocated == 0 and february.status is DueStatus.paid and march.paid_amount == 1000
    events = alpha.scalars(
        select(TenantAuditEvent).where(
            TenantAuditEvent.action == "contributions.credit_applied",
            TenantAuditEvent.target_id == household.number,
        )
    ).all()
    assert len(events) == 1
    assert (events[0].details["before"], events[0].details["after"]) == ({"credit": 3000}, {"credit": 0})


def test_older_credit_is_used_before_a_new_payment(alpha, world):
    household = make_household(alpha, world)
    early = pay(alpha, world, household, 1500)  # nothing due yet: all credit
    due = add_due(alpha, household, 1)
    later = pay(alpha, world, household, 1000)
    assert live(alpha, early) == [(due.id, 1500)] and live(alpha, later) == [(due.id, 500)]
    assert (early.unallocated, later.unallocated, due.status) == (0, 500, DueStatus.paid)


def test_rights_are_refreshed_after_every_change_of_allocations(alpha, world, rights_refreshed):
    if importlib.util.find_spec("app.coverage.rights") is None:
        pytest.skip("the rights engine has not landed yet")
    household = make_household(alpha, world)
    pay(alpha, world, household, 500)  # nothing due: only credit, rights cannot change
    assert rights_refreshed == []
    add_due(alpha, household, 1)
    payment = pay(alpha, world, household, 1000)
    assert rights_refreshed == [("alpha", household.principal_id, TODAY)]
    payments.cancel_payment(alpha, world.alpha, SYSTEM, payment, "Erreur")
    alpha.commit()
    assert len(rights_refreshed) == 2


def test_two_payments_at_the_same_time_never_fill_one_due_twice(app, world):
    with app.app_context(), tenant_scope(db.session, world.alpha):
        household = make_household(db.session, world)
        dues = [add_due(db.session, household, month).id for month in (1, 2)]
    barrier, errors = threading.Barrier(2), []

    def counter(amount: int) -> None:
        try:
            with app.app_context(), tenant_scope(db.session, world.alpha):
                member = db.session.get(Member, household.principal_id)
                barrier.wait(timeout=10)
                payments.record_payment(db.session, world.alpha, SYSTEM, member, amount=amount)
                db.session.commit()
        except Exception as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=counter, args=(2000,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with app.app_context(), tenant_scope(db.session, world.alpha):
        session = db.session
        rows = session.execute(
            select(Allocation.due_id, func.sum(Allocation.amount))
            .where(Allocation.due_id.in_(dues), Allocation.reversed_at.is_(None))
            .group_by(Allocation.due_id)
        ).all()
        assert sorted(rows) == [(dues[0], 2000), (dues[1], 2000)]  # each due filled once, by one payment
        paid = session.execute(select(Due.paid_amount, Due.status).where(Due.id.in_(dues))).all()
        assert sorted(paid) == [(2000, DueStatus.paid), (2000, DueStatus.paid)]
        numbers = session.scalars(
            select(Payment.receipt_number).where(Payment.member_id == household.principal_id)
        )
        assert len(set(numbers.all())) == 2


# --- cancellation and correction ---------------------------------------------------------------------------


def test_cancelling_reverses_the_allocations_and_keeps_every_row(alpha, world):
    household = make_household(alpha, world)
    january, february = add_due(alpha, household, 1), add_due(alpha, household, 2)
    kept = pay(alpha, world, household, 2000)  # January
    wrong = pay(alpha, world, household, 3000)  # February + 1 000 credit
    assert live(alpha, wrong) == [(february.id, 2000)] and wrong.unallocated == 1000

    with pytest.raises(FieldError) as missing:
        payments.cancel_payment(alpha, world.alpha, SYSTEM, wrong, "   ")
    assert missing.value.field == "reason"
    alpha.rollback()

    payments.cancel_payment(alpha, world.alpha, SYSTEM, wrong, "Billet faux")
    alpha.commit()
    assert wrong.status is PaymentStatus.cancelled and wrong.cancelled_reason == "Billet faux"
    assert wrong.cancelled_at is not None and wrong.unallocated == 0
    rows = alpha.scalars(select(Allocation).where(Allocation.payment_id == wrong.id)).all()
    assert len(rows) == 1 and rows[0].reversed_at is not None  # kept, marked reversed
    assert (february.paid_amount, february.status) == (0, DueStatus.open)
    assert (january.paid_amount, january.status) == (2000, DueStatus.paid) and live(alpha, kept)
    event = alpha.scalars(
        select(TenantAuditEvent).where(
            TenantAuditEvent.action == "contributions.payment_cancelled",
            TenantAuditEvent.target_id == wrong.receipt_number,
        )
    ).one()
    assert event.details["before"]["status"] == "valid" and event.details["after"]["status"] == "cancelled"
    assert event.details["reason"] == "Billet faux"

    with pytest.raises(DomainError):
        payments.cancel_payment(alpha, world.alpha, SYSTEM, wrong, "Encore")
    alpha.rollback()


def test_a_cancellation_lets_other_credit_fill_the_reopened_dues(alpha, world):
    household = make_household(alpha, world)
    january = add_due(alpha, household, 1)
    first = pay(alpha, world, household, 2000)
    ahead = pay(alpha, world, household, 2000)  # nothing left to pay: credit
    payments.cancel_payment(alpha, world.alpha, SYSTEM, first, "Saisi deux fois")
    alpha.commit()
    assert live(alpha, ahead) == [(january.id, 2000)] and ahead.unallocated == 0
    assert january.status is DueStatus.paid


def test_a_correction_cancels_the_original_and_points_to_it(alpha, world):
    household = make_household(alpha, world)
    january, february = add_due(alpha, household, 1), add_due(alpha, household, 2)
    original = pay(alpha, world, household, 4000)

    with pytest.raises(FieldError) as same:
        payments.correct_payment(alpha, world.alpha, SYSTEM, original, 4000, "Rien")
    assert same.value.field == "new_amount"
    alpha.rollback()
    with pytest.raises(FieldError) as no_reason:
        payments.correct_payment(alpha, world.alpha, SYSTEM, original, 3000, "")
    assert no_reason.value.field == "reason"
    alpha.rollback()

    fixed = payments.correct_payment(alpha, world.alpha, SYSTEM, original, "3 000", "Erreur de saisie")
    alpha.commit()
    assert original.status is PaymentStatus.cancelled and original.cancelled_reason == "Erreur de saisie"
    assert fixed.corrects_id == original.id and fixed.amount == 3000
    assert fixed.receipt_number == f"{original.receipt_number}-C1"
    assert (fixed.received_on, fixed.method, fixed.association_id) == (
        original.received_on, original.method, original.association_id,
    )  # fmt: skip
    assert live(alpha, fixed) == [(january.id, 2000), (february.id, 1000)]
    assert live(alpha, original) == []
    assert alpha.scalar(select(func.count()).where(Allocation.payment_id == original.id)) == 2

    again = payments.correct_payment(alpha, world.alpha, SYSTEM, fixed, 3500, "Deuxième erreur")
    alpha.commit()
    assert again.receipt_number == f"{original.receipt_number}-C2" and again.corrects_id == fixed.id


def test_cancelling_needs_payments_validate_where_the_money_was_received(association_z, alpha, world):
    household = make_household(alpha, world)
    payment = pay(alpha, world, household, 1000)
    agent = agent_at("ASS-A", "contributions.read", "contributions.record")
    with pytest.raises(Forbidden):
        payments.cancel_payment(alpha, world.alpha, agent, payment, "Erreur")
    stranger = agent_at("ASS-Z", "contributions.read", "payments.validate")
    with pytest.raises(NotFound):
        payments.cancel_payment(alpha, world.alpha, stranger, payment, "Erreur")
    alpha.rollback()
    assert payment.status is PaymentStatus.valid


# --- recording: input, scope, receipts, idempotency -------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("25000", 25000), ("25 000", 25000), ("25\u202f000 F CFA", 25000), ("25.000", 25000), (" 500 ", 500),
     (1200, 1200)],
)  # fmt: skip
def test_amounts_are_whole_francs(typed: str | int, expected: int):
    assert payments.parse_amount(typed) == expected


@pytest.mark.parametrize(
    "typed", ["", "0", "-500", "2,5", "12.50", "abc", 10_000_001, "10 000 001", 0, 2.5, True]
)
def test_bad_amounts_are_refused_on_the_amount_field(typed):
    with pytest.raises(FieldError) as refused:
        payments.parse_amount(typed)
    assert refused.value.field == "amount"


def test_recording_refuses_a_future_date_and_a_duplicate_receipt_number(alpha, world):
    household = make_household(alpha, world)
    member = principal_of(alpha, household)
    with pytest.raises(FieldError) as future:
        payments.record_payment(
            alpha, world.alpha, SYSTEM, member, amount=1000, received_on=TODAY + dt.timedelta(1)
        )
    assert future.value.field == "received_on"
    alpha.rollback()
    book = f"B{uuid.uuid4().hex[:6]}".upper()
    first = pay(alpha, world, household, 1000, receipt_number=book.lower())
    assert first.receipt_number == book
    with pytest.raises(FieldError) as taken:
        payments.record_payment(alpha, world.alpha, SYSTEM, member, amount=1000, receipt_number=book)
    assert taken.value.field == "receipt_number"
    alpha.rollback()
    with pytest.raises(FieldError):  # Mbolo's own numbering cannot be typed (it would break the sequence)
        payments.record_payment(
            alpha, world.alpha, SYSTEM, member, amount=1000, receipt_number="R-2026-9999999"
        )
    alpha.rollback()


def test_receipt_numbers_follow_one_sequence_per_year(alpha, world):
    household = make_household(alpha, world)
    made = [pay(alpha, world, household, 100) for _ in range(3)]
    numbers = [p.receipt_number for p in made]
    assert all(n.startswith("R-2026-") and len(n) == len("R-2026-0000001") for n in numbers)
    sequence = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert sequence == [sequence[0], sequence[0] + 1, sequence[0] + 2]
    payments.correct_payment(
        alpha, world.alpha, SYSTEM, made[-1], 150, "Erreur"
    )  # "-C1": not in the sequence
    pay(alpha, world, household, 100, receipt_number="cahier 7")
    following = pay(alpha, world, household, 100)
    assert following.receipt_number == f"R-2026-{sequence[0] + 3:07d}"
    last_year = pay(alpha, world, household, 100, received_on=dt.date(2025, 12, 31))
    assert last_year.receipt_number.startswith("R-2025-")


def test_an_agent_records_only_at_associations_in_reach(association_z, alpha, world):
    household = make_household(alpha, world)
    member = principal_of(alpha, household)
    with pytest.raises(NotFound):
        payments.record_payment(
            alpha, world.alpha, agent_at("ASS-Z", "contributions.record"), member, amount=500
        )
    alpha.rollback()
    with pytest.raises(NotFound):  # reading is not recording
        payments.record_payment(
            alpha, world.alpha, agent_at("ASS-A", "contributions.read"), member, amount=500
        )
    alpha.rollback()
    payment = payments.record_payment(
        alpha, world.alpha, agent_at("ASS-A", "contributions.record"), member, amount=500
    )
    assert payment.agent_label == "agent ASS-A"
    alpha.rollback()


def test_the_same_online_payment_applied_twice_is_recorded_once(alpha, world):
    household = make_household(alpha, world)
    due = add_due(alpha, household, 1)
    ref = f"wave-{uuid.uuid4().hex}"
    first = pay(alpha, world, household, 2000, method="mobile_money", external_ref=ref)
    again = pay(alpha, world, household, 2000, method="mobile_money", external_ref=ref)
    assert again.id == first.id
    assert alpha.scalar(select(func.count()).where(Payment.external_ref == ref)) == 1
    assert due.paid_amount == 2000 and len(live(alpha, first)) == 1
    with pytest.raises(DomainError):
        payments.record_payment(
            alpha, world.alpha, SYSTEM, principal_of(alpha, household), amount=999, external_ref=ref
        )
    alpha.rollback()


def test_a_payment_for_an_ayant_droit_goes_to_the_household(alpha, world):
    household = make_household(alpha, world)
    principal = principal_of(alpha, household)
    dependant = services.add_dependant(
        alpha, world.alpha, SYSTEM, principal, services.DependantInput(person(birth="2015"), "child")
    )
    alpha.commit()
    payment = payments.record_payment(alpha, world.alpha, SYSTEM, dependant, amount=700)
    assert payment.member_id == principal.id
    alpha.rollback()


# --- arrears and account -----------------------------------------------------------------------------------


def test_arrears_are_the_unpaid_dues_whose_date_has_passed(alpha, world):
    household = make_household(alpha, world)
    add_due(alpha, household, 3)
    april = add_due(alpha, household, 4)
    may = add_due(alpha, household, 5)
    add_due(alpha, household, 7)  # not yet due on 15 June
    cancelled = add_due(alpha, household, 2)
    cancelled.status, cancelled.cancelled_reason = DueStatus.cancelled, "Erreur de tarif"
    alpha.commit()
    pay(alpha, world, household, 3000)  # March, and half of April
    late = payments.arrears(alpha, principal_of(alpha, household), TODAY)
    assert (late.count, late.total, late.oldest_due_date) == (2, 3000, dt.date(2026, 4, 1))
    assert [d.id for d in late.dues] == [april.id, may.id]
    assert payments.arrears(alpha, principal_of(alpha, household), dt.date(2026, 4, 1)).count == 0


# --- receipts ----------------------------------------------------------------------------------------------


def test_the_receipt_is_a_pdf_and_says_cancelled_with_the_reason(alpha, world, monkeypatch):
    monkeypatch.setattr(receipts, "PDF_COMPRESSION", False)
    household = make_household(alpha, world)
    add_due(alpha, household, 1)
    add_due(alpha, household, 1, amount=1000, kind=DueKind.joining_fee)
    payment = pay(alpha, world, household, 25000)
    data = receipts.print_receipt(alpha, world.alpha, SYSTEM, payment)
    assert data.startswith(b"%PDF")
    text = data.decode("latin-1")
    assert payment.receipt_number in text and household.number in text
    assert "Vingt-cinq mille francs CFA" in text and "Droit d'adh" in text and "janvier 2026" in text
    assert "ANNUL" not in text

    payments.cancel_payment(alpha, world.alpha, SYSTEM, payment, "Billet faux")
    alpha.commit()
    cancelled = receipts.print_receipt(alpha, world.alpha, SYSTEM, payment).decode("latin-1")
    assert "ANNUL\xc9 - motif : Billet faux" in cancelled and "janvier 2026" in cancelled


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "zéro franc CFA"),
        (1, "un franc CFA"),
        (21, "vingt et un francs CFA"),
        (71, "soixante et onze francs CFA"),
        (80, "quatre-vingts francs CFA"),
        (81, "quatre-vingt-un francs CFA"),
        (91, "quatre-vingt-onze francs CFA"),
        (100, "cent francs CFA"),
        (200, "deux cents francs CFA"),
        (201, "deux cent un francs CFA"),
        (1000, "mille francs CFA"),
        (2000, "deux mille francs CFA"),
        (21_000, "vingt et un mille francs CFA"),
        (25_000, "vingt-cinq mille francs CFA"),
        (80_000, "quatre-vingt mille francs CFA"),
        (200_000, "deux cent mille francs CFA"),
        (1_000_000, "un million de francs CFA"),
        (1_250_500, "un million deux cent cinquante mille cinq cents francs CFA"),
        (2_000_000, "deux millions de francs CFA"),
        (3_080_000, "trois millions quatre-vingt mille francs CFA"),
    ],
)
def test_amounts_in_french_words(amount: int, words: str):
    assert receipts.amount_in_words_fr(amount) == words


def test_period_labels(app):
    with app.test_request_context():
        due = Due(
            kind=DueKind.contribution, period_start=dt.date(2026, 3, 1), period_end=dt.date(2026, 3, 31)
        )
        assert payments.period_label(due) == "mars 2026"
        due.period_start, due.period_end = dt.date(2026, 3, 15), dt.date(2026, 4, 14)
        assert payments.period_label(due) == "15/03/2026 – 14/04/2026"
        assert payments.long_date(dt.date(2026, 3, 1)) == "1er mars 2026"
        assert payments.long_date(dt.date(2026, 3, 2)) == "2 mars 2026"
