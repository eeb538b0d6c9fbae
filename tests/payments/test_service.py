"""Online payments (service): duplicate webhooks credit once, out-of-order events never go backwards,
mismatches are flagged without credit, bad signatures change nothing, a late success after expiry credits
and is flagged, processing twice allocates once."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.contributions.models import DueStatus, Payment
from app.database import utcnow
from payments import service
from payments.models import OnlinePayment, OnlineStatus, PaymentEvent, PaymentInbox
from payments.providers.base import SignatureInvalid
from payments.providers.sandbox import SIGNATURE_HEADER, sign
from tests.app.contributions.test_payments import add_due, make_household, principal_of
from tests.fixtures.app import SYSTEM


@pytest.fixture
def request_ctx(app):
    with app.test_request_context("/"):
        yield


def _start(alpha: Session, world, amount: int = 2000):
    household = make_household(alpha, world)
    due = add_due(alpha, household, 1, amount=amount)
    payment = service.start_payment(
        alpha, world.alpha, SYSTEM, principal_of(alpha, household), amount, "sandbox"
    )
    alpha.commit()
    return household, due, payment


def _webhook(
    alpha: Session,
    world,
    payment: OnlinePayment,
    status: str,
    *,
    amount: int | None = None,
    currency: str = "XOF",
    event_id: str | None = None,
) -> PaymentInbox | None:
    body = json.dumps(
        {
            "event_id": event_id or uuid.uuid4().hex,
            "ref": payment.provider_ref,
            "status": status,
            "amount": payment.amount if amount is None else amount,
            "currency": currency,
        }
    ).encode()
    row = service.receive_webhook(alpha, world.alpha, "sandbox", body, {SIGNATURE_HEADER: sign(body)})
    alpha.commit()
    return row


def _process(alpha: Session, world, row: PaymentInbox | None) -> bool:
    assert row is not None
    done = service.process_inbox_row(alpha, world.alpha, row.id)
    alpha.commit()
    return done


def _credits(alpha: Session, payment: OnlinePayment) -> int:
    return alpha.scalar(
        select(func.count()).select_from(Payment).where(Payment.external_ref == f"online:{payment.public_id}")
    )


def test_start_is_pending_with_a_sandbox_redirect(alpha, world, request_ctx):
    _, _, payment = _start(alpha, world)
    assert payment.status is OnlineStatus.pending and payment.provider_ref
    assert payment.redirect_url.endswith(f"/alpha/paiements/sandbox/{payment.provider_ref}")
    assert [e.to_status for e in payment.events] == ["pending"]


def test_duplicate_webhook_credits_once(alpha, world, request_ctx):
    _, due, payment = _start(alpha, world)
    first = _webhook(alpha, world, payment, "succeeded", event_id="evt-1")
    again = _webhook(alpha, world, payment, "succeeded", event_id="evt-1")
    assert again is None
    assert _process(alpha, world, first)
    alpha.refresh(payment)
    alpha.refresh(due)
    assert payment.status is OnlineStatus.succeeded and payment.contribution_payment_id is not None
    assert due.status is DueStatus.paid and _credits(alpha, payment) == 1
    # a new delivery of the same news under another id changes nothing either
    _process(alpha, world, _webhook(alpha, world, payment, "succeeded"))
    assert _credits(alpha, payment) == 1


def test_processing_twice_allocates_once(alpha, world, request_ctx):
    """A worker killed after the inbox insert: the task runs again (or twice): one allocation."""
    _, due, payment = _start(alpha, world)
    row = _webhook(alpha, world, payment, "succeeded")
    assert _process(alpha, world, row)
    assert not _process(alpha, world, row)
    # even with the inbox row's mark lost (killed between credit and mark in another design), the
    # external reference keeps the credit single
    alpha.refresh(payment)
    service.credit(alpha, world.alpha, payment)
    alpha.commit()
    assert _credits(alpha, payment) == 1


def test_out_of_order_events_never_go_backwards(alpha, world, request_ctx):
    _, _, payment = _start(alpha, world)
    success = _webhook(alpha, world, payment, "succeeded")
    late_pending = _webhook(alpha, world, payment, "pending")
    late_failure = _webhook(alpha, world, payment, "failed")
    for row in (success, late_pending, late_failure):
        _process(alpha, world, row)
    alpha.refresh(payment)
    assert payment.status is OnlineStatus.succeeded
    events = alpha.scalars(
        select(PaymentEvent).where(PaymentEvent.payment_id == payment.id).order_by(PaymentEvent.id)
    ).all()
    assert [(e.from_status, e.to_status) for e in events] == [
        ("created", "pending"),
        ("pending", "succeeded"),
        ("succeeded", "succeeded"),
        ("succeeded", "succeeded"),
    ]
    assert events[2].note and "ignoré" in events[2].note and events[2].raw["status"] == "pending"


def test_amount_mismatch_is_flagged_and_not_credited(alpha, world, request_ctx):
    _, due, payment = _start(alpha, world)
    _process(alpha, world, _webhook(alpha, world, payment, "succeeded", amount=200))
    alpha.refresh(payment)
    alpha.refresh(due)
    assert payment.status is OnlineStatus.pending and payment.flagged and "montant" in payment.flag_reason
    assert _credits(alpha, payment) == 0 and due.status is DueStatus.open
    _process(alpha, world, _webhook(alpha, world, payment, "succeeded", currency="EUR"))
    assert _credits(alpha, payment) == 0


def test_bad_signature_is_refused_and_changes_nothing(alpha, world, request_ctx):
    _, _, payment = _start(alpha, world)
    body = json.dumps(
        {
            "event_id": "x",
            "ref": payment.provider_ref,
            "status": "succeeded",
            "amount": 2000,
            "currency": "XOF",
        }
    ).encode()
    before = alpha.scalar(select(func.count()).select_from(PaymentInbox))
    with pytest.raises(SignatureInvalid):
        service.receive_webhook(alpha, world.alpha, "sandbox", body, {SIGNATURE_HEADER: "0" * 64})
    alpha.commit()
    assert alpha.scalar(select(func.count()).select_from(PaymentInbox)) == before
    alpha.refresh(payment)
    assert payment.status is OnlineStatus.pending
    assert alpha.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "security.webhook_signature_invalid")
    )


def test_expiry_then_late_success_credits_and_flags(alpha, world, request_ctx):
    _, due, payment = _start(alpha, world)
    payment.created_at = utcnow() - dt.timedelta(minutes=45)
    alpha.commit()
    counts = service.poll_pending(alpha, world.alpha)  # the sandbox phone never answered
    alpha.commit()
    alpha.refresh(payment)
    assert counts["expired"] == 1 and payment.status is OnlineStatus.expired
    _process(alpha, world, _webhook(alpha, world, payment, "succeeded"))
    alpha.refresh(payment)
    alpha.refresh(due)
    assert payment.status is OnlineStatus.succeeded and payment.flagged and "tardif" in payment.flag_reason
    assert _credits(alpha, payment) == 1 and due.status is DueStatus.paid


def test_polling_confirms_a_sandbox_answer(alpha, world, request_ctx):
    from payments.models import SandboxCharge

    _, due, payment = _start(alpha, world)
    charge = alpha.scalar(select(SandboxCharge).where(SandboxCharge.provider_ref == payment.provider_ref))
    charge.status = "succeeded"  # the phone answered, the webhook was lost
    payment.created_at = utcnow() - dt.timedelta(minutes=2)
    alpha.commit()
    assert service.poll_pending(alpha, world.alpha)["polled"] == 1
    alpha.commit()
    alpha.refresh(payment)
    assert payment.status is OnlineStatus.succeeded and _credits(alpha, payment) == 1
