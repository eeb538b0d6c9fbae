"""Refunding an online payment (a critical function: the view asks for a step-up first).

The money goes back through the provider first; only once it has accepted do we reverse the credit on the
household's account, so a refused refund changes nothing. The contributions side never deletes: a full
refund cancels the linked receipt (kept, with the reason), a partial one corrects it to what the mutual
keeps (``<number>-C<n>``). The provider's idempotency key is built from what was refunded before, so
retrying the same refund after a crash cannot pay the member twice."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.contributions import payments as contributions
from app.contributions.models import Payment, PaymentStatus
from app.errors import DomainError, FieldError, NotFound
from app.formatting import money
from app.members.models import Member
from app.security.actor import Actor
from hierarchy.models import Node
from payments import service
from payments.models import EventSource, OnlinePayment, OnlineStatus
from payments.providers import registry
from payments.providers.base import ProviderError
from tenants.context import TenantRef

REFUNDABLE = frozenset({OnlineStatus.succeeded, OnlineStatus.partially_refunded})


@dataclass(frozen=True)
class RefundPlan:
    """What a refund will do, checked before the step-up (and again, under lock, when it runs)."""

    amount: int
    reason: str
    full: bool
    contribution: Payment


def refundable_rest(payment: OnlinePayment) -> int:
    return payment.amount - payment.refunded_amount


def association_path(session: Session, payment: OnlinePayment) -> str | None:
    """Where the payment belongs for permissions: the paying household's association."""
    member = session.get(Member, payment.member_id)
    node = session.get(Node, member.association_id) if member is not None else None
    return node.path if node is not None else None


def live_contribution(session: Session, payment: OnlinePayment) -> Payment | None:
    """The receipt that currently stands for this online payment: the credited one, or the last correction
    made by an earlier partial refund (corrections point back with ``corrects_id``)."""
    if payment.contribution_payment_id is None:
        return None
    current = session.get(Payment, payment.contribution_payment_id)
    seen = 0
    while current is not None and current.status is PaymentStatus.cancelled and seen < 50:
        current = session.scalar(
            select(Payment).where(Payment.corrects_id == current.id).order_by(Payment.id.desc()).limit(1)
        )
        seen += 1
    return current


def check_refund(
    session: Session, actor: Actor, payment: OnlinePayment, amount: int | str | None, reason: str | None
) -> RefundPlan:
    """The refund as typed, validated: the rights (refund here, and validate the receipt it reverses), a
    payment that can be refunded, an amount within what is left, a reason."""
    path = association_path(session, payment)
    if not actor.can("payments.read", path) and not actor.can("payments.refund", path):
        raise NotFound(_l("Paiement introuvable."))
    actor.require("payments.refund", path)
    if payment.status not in REFUNDABLE:
        raise DomainError(_l("Seul un paiement réussi peut être remboursé."))
    value = contributions.parse_amount(amount, field="amount")
    rest = refundable_rest(payment)
    if value > rest:
        raise FieldError(
            "amount",
            _l("Au plus %(rest)s : le reste remboursable de ce paiement.", rest=money(rest)),
        )
    clean = contributions.clean_reason(reason)
    linked = live_contribution(session, payment)
    if linked is None or linked.status is PaymentStatus.cancelled:
        raise DomainError(
            _l("Ce paiement n'a pas de reçu valide à annuler ou corriger : remboursement impossible.")
        )
    received_at = session.get(Node, linked.association_id)
    if not actor.can("payments.validate", received_at.path if received_at is not None else path):
        # a DomainError, not a 403: shown on the refund form, saying which right is missing
        raise DomainError(
            _l("Rembourser annule ou corrige le reçu : il faut aussi le droit de valider les paiements.")
        )
    contributions.check_cancellable(session, actor, linked)
    return RefundPlan(amount=value, reason=clean, full=value == rest, contribution=linked)


def refund_online_payment(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    payment: OnlinePayment,
    amount: int | str,
    reason: str,
) -> OnlinePayment:
    """Refund ``amount`` through the provider, then reverse it on the household's account."""
    locked = session.scalar(
        select(OnlinePayment)
        .where(OnlinePayment.id == payment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    payment = locked
    plan = check_refund(session, actor, payment, amount, reason)
    before, status_before = payment.refunded_amount, payment.status.value
    try:
        provider = registry.provider_for(tenant, payment.provider)
    except KeyError as unknown:
        raise DomainError(
            _l("Ce moyen de paiement n'est plus configuré : remboursement impossible.")
        ) from unknown
    try:
        result = provider.refund(
            payment.provider_ref or "",
            plan.amount,
            idempotency_key=f"refund-{payment.public_id}-{before}-{plan.amount}",
        )
    except ProviderError as refused:
        raise FieldError(
            "amount", _l("Le service de paiement a refusé le remboursement : %(why)s", why=str(refused)[:200])
        ) from refused
    total = before + plan.amount
    # the household's account first: its locks come before any audit event (see app.contributions.payments)
    if total >= payment.amount:
        receipt = contributions.cancel_payment(session, tenant, actor, plan.contribution, plan.reason)
    else:
        receipt = contributions.correct_payment(
            session, tenant, actor, plan.contribution, payment.amount - total, plan.reason
        )
    payment.refunded_amount = total
    to = OnlineStatus.refunded if total >= payment.amount else OnlineStatus.partially_refunded
    service.transition(
        session,
        payment,
        to,
        source=EventSource.user,
        raw={"refund": plan.amount, "refunded_amount": total, "provider": result.raw},
        note=f"remboursement de {plan.amount} par {actor.label} : {plan.reason}",
    )
    record_event(
        session, actor, "payments.online_refunded", target_type="online_payment", target_id=payment.public_id,
        before={"status": status_before, "refunded_amount": before},
        after={"status": to.value, "refunded_amount": total}, amount=plan.amount, reason=plan.reason,
        receipt=receipt.receipt_number, provider=payment.provider,
    )  # fmt: skip
    return payment
