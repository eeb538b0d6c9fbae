"""Online payments: start, webhook intake, processing, polling and expiry, through one state machine.

created → pending → succeeded | failed | expired | cancelled; succeeded → refunded | partially_refunded.
Every event is stored (``PaymentEvent``) with its raw data; one that would move a payment backwards (a late
"pending" after "succeeded") changes nothing. A return URL is never proof of payment: only a verified
webhook or the provider's own status (``fetch_status``) is; untrusted webhooks are confirmed through it.

**Late success.** A success after the payment expired, failed or was cancelled on our side still credits
the household (the money was taken), and the payment is flagged for review.

**Mismatch.** A success whose amount or currency differs from what was started is refused: no credit, the
payment is flagged.

Crediting goes through ``record_payment`` with ``external_ref="online:<public_id>"``: idempotent, so a worker
killed between the inbox insert and the allocation allocates exactly once when the event is redelivered."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.contributions.models import Payment
from app.contributions.payments import parse_amount, record_payment
from app.database import utcnow
from app.errors import DomainError, FieldError
from app.members.models import Member
from app.security.actor import Actor
from payments.models import EventSource, OnlinePayment, OnlineStatus, PaymentEvent, PaymentInbox
from payments.providers import registry
from payments.providers.base import (
    ProviderError,
    ProviderStatus,
    SignatureInvalid,
    StartRequest,
    WebhookEvent,
)
from tenants.context import TenantRef

S = OnlineStatus
FINAL_FAILURES = frozenset({S.failed, S.expired, S.cancelled})
#: Allowed moves; anything else is recorded and ignored.
TRANSITIONS: dict[OnlineStatus, frozenset[OnlineStatus]] = {
    S.created: frozenset({S.pending, S.succeeded, S.failed, S.expired, S.cancelled}),
    S.pending: frozenset({S.succeeded, S.failed, S.expired, S.cancelled}),
    S.succeeded: frozenset({S.refunded, S.partially_refunded}),
    S.partially_refunded: frozenset({S.refunded, S.partially_refunded}),
    S.refunded: frozenset(),
    # a late success: the money was taken (credited, flagged)
    S.failed: frozenset({S.succeeded}),
    S.expired: frozenset({S.succeeded}),
    S.cancelled: frozenset({S.succeeded}),
}
DEFAULT_EXPIRY_MINUTES = 30
SYSTEM = Actor.system("payments")

STATUS_LABELS: dict[str, object] = {
    "created": _l("Créé"),
    "pending": _l("En attente"),
    "succeeded": _l("Payé"),
    "failed": _l("Échoué"),
    "expired": _l("Expiré"),
    "cancelled": _l("Annulé"),
    "refunded": _l("Remboursé"),
    "partially_refunded": _l("Remboursé en partie"),
}


def expiry_minutes() -> int:
    return int(current_app.config.get("MBOLO_PAYMENT_EXPIRY_MINUTES", DEFAULT_EXPIRY_MINUTES))


# --- the state machine -------------------------------------------------------------------------------------


def transition(
    session: Session,
    payment: OnlinePayment,
    to: OnlineStatus,
    *,
    source: EventSource,
    event_id: str | None = None,
    raw: dict[str, Any] | None = None,
    note: str | None = None,
) -> bool:
    """Move ``payment`` to ``to`` if allowed; always store the event. True if the status changed."""
    before = payment.status
    allowed = to in TRANSITIONS[before] and (to != before or to is S.partially_refunded)
    session.add(
        PaymentEvent(
            payment_id=payment.id,
            from_status=before.value,
            to_status=(to if allowed else before).value,
            source=source,
            provider_event_id=event_id,
            raw=dict(raw or {}),
            note=(note or (None if allowed else f"ignoré : {to.value} après {before.value}"))[:300]
            if (note or not allowed)
            else None,
        )
    )
    if not allowed:
        session.flush()
        return False
    payment.status = to
    if to is S.succeeded:
        payment.succeeded_at = utcnow()
        if before in FINAL_FAILURES:
            _flag(payment, f"succès tardif après « {before.value} » : à vérifier")
    session.flush()
    record_event(
        session,
        SYSTEM,
        "payments.online_status_changed",
        target_type="online_payment",
        target_id=payment.public_id,
        before={"status": before.value},
        after={"status": to.value},
        source=source.value,
        provider=payment.provider,
        provider_event_id=event_id,
    )
    return True


def _flag(payment: OnlinePayment, reason: str) -> None:
    payment.flagged = True
    payment.flag_reason = ((payment.flag_reason + " ; ") if payment.flag_reason else "") + reason
    payment.flag_reason = payment.flag_reason[:300]


# --- start -------------------------------------------------------------------------------------------------


def start_payment(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    principal: Member,
    amount: int | str,
    provider_name: str,
    *,
    return_url: str | None = None,
    cancel_url: str | None = None,
) -> OnlinePayment:
    """An online payment for the household, pending with the provider's redirect or instructions."""
    principal = principal.principal or principal
    value = parse_amount(amount)
    try:
        provider = registry.provider_for(tenant, provider_name)
    except KeyError as unknown:
        raise FieldError("provider", _l("Moyen de paiement indisponible.")) from unknown
    payment = OnlinePayment(
        member_id=principal.id,
        provider=provider_name,
        amount=value,
        currency="XOF",
        expires_at=utcnow() + dt.timedelta(minutes=expiry_minutes()),
        started_by_label=actor.label[:200],
    )
    session.add(payment)
    session.flush()
    webhook = url_for("payments.webhook", tenant_slug=tenant.slug, provider=provider_name, _external=True)
    request = StartRequest(
        payment_id=payment.public_id,
        amount=value,
        currency="XOF",
        description=f"Cotisations {principal.number}",
        customer_phone=principal.phone,
        return_url=return_url or webhook,
        cancel_url=cancel_url or return_url or webhook,
        webhook_url=webhook,
    )
    try:
        result = provider.start(request)
    except ProviderError as failed:
        transition(session, payment, S.failed, source=EventSource.system, note=str(failed)[:300])
        raise DomainError(_l("Le service de paiement ne répond pas ; réessayez plus tard.")) from failed
    payment.provider_ref = result.provider_ref
    payment.redirect_url = result.redirect_url
    payment.instructions = result.instructions
    payment.notif_token_sha256 = result.raw.get("notif_token_sha256") or None  # Orange Money's lookup key
    transition(session, payment, S.pending, source=EventSource.user, raw=result.raw)
    record_event(
        session,
        actor,
        "payments.online_started",
        target_type="online_payment",
        target_id=payment.public_id,
        after={"amount": value, "provider": provider_name, "member": principal.number},
    )
    return payment


# --- webhook intake ----------------------------------------------------------------------------------------


def _event_json(event: WebhookEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "provider_ref": event.provider_ref,
        "status": event.status.value,
        "amount": event.amount,
        "currency": event.currency,
        "trusted": event.trusted,
        "raw": event.raw,
    }


def receive_webhook(
    session: Session, tenant: TenantRef, provider_name: str, body: bytes, headers: dict[str, str]
) -> PaymentInbox | None:
    """Verify and store one notification; the inbox row to process, or None for a redelivery. Raises
    ``SignatureInvalid`` (nothing stored but the security event); the caller commits either way."""
    from app.worker import enqueue_after_commit
    from payments.tasks import process_inbox

    try:
        provider = registry.provider_for(tenant, provider_name)
        event = provider.parse_webhook(body, headers)
    except (SignatureInvalid, KeyError) as bad:
        record_event(
            session,
            SYSTEM,
            "security.webhook_signature_invalid",
            target_type="payment_provider",
            target_id=provider_name,
            outcome="failure",
            tenant_slug=tenant.slug,
            reason=str(bad)[:200],
        )
        raise SignatureInvalid(str(bad)) from bad
    inserted = session.scalar(
        insert(PaymentInbox)
        .values(
            provider=provider_name,
            event_id=event.event_id,
            payload=body.decode("utf-8", "replace"),
            headers={k: v for k, v in headers.items() if k.lower() != "cookie"},
            parsed=_event_json(event),
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(PaymentInbox.id)
    )
    if inserted is None:
        return None
    enqueue_after_commit(session, process_inbox, inserted)
    return session.get(PaymentInbox, inserted)


# --- processing --------------------------------------------------------------------------------------------


def process_inbox_row(session: Session, tenant: TenantRef, inbox_id: int) -> bool:
    """Apply one stored event, once: the row is taken FOR UPDATE SKIP LOCKED and marked processed in the
    same transaction as the credit. False if another worker has it or it was done already."""
    row = session.scalar(
        select(PaymentInbox)
        .where(PaymentInbox.id == inbox_id, PaymentInbox.processed_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    if row is None:
        return False
    data = row.parsed
    payment = _inbox_payment(session, row)
    if payment is None:
        row.error = "paiement inconnu"
    else:
        status, amount, currency, refunded = (
            ProviderStatus(data["status"]),
            data.get("amount"),
            data.get("currency"),
            None,
        )
        if not data.get("trusted", False):  # confirm with the provider before believing it
            confirmed = registry.provider_for(tenant, row.provider).fetch_status(payment.provider_ref or "")
            status, amount, currency = confirmed.status, confirmed.amount, confirmed.currency
            refunded = confirmed.refunded_amount
        apply_status(
            session,
            tenant,
            payment,
            status,
            amount=amount,
            currency=currency,
            refunded_amount=refunded,
            source=EventSource.webhook,
            event_id=row.event_id,
            raw=data.get("raw") or {},
        )
    row.processed_at = utcnow()
    session.flush()
    return True


def _inbox_payment(session: Session, row: PaymentInbox) -> OnlinePayment | None:
    """The payment an event is about: by ``provider_ref``, or, for Orange Money (whose notification carries
    only a token), by the SHA-256 of that token, kept at start (the token itself is never stored)."""
    data = row.parsed
    if data.get("provider_ref"):
        return session.scalar(
            select(OnlinePayment)
            .where(OnlinePayment.provider == row.provider, OnlinePayment.provider_ref == data["provider_ref"])
            .with_for_update()
        )
    token = str((data.get("raw") or {}).get("notif_token") or "")
    if row.provider != "orange_money" or not token:
        return None
    from payments.providers.orange_money import notif_token_digest

    digest = notif_token_digest(token)  # recomputed from the token received, not taken from the row
    payment = session.scalar(
        select(OnlinePayment)
        .where(OnlinePayment.provider == row.provider, OnlinePayment.notif_token_sha256 == digest)
        .with_for_update()
    )
    if payment is None or not hmac.compare_digest(payment.notif_token_sha256 or "", digest):
        return None
    return payment  # still untrusted: process_inbox_row confirms through fetch_status before crediting


def apply_status(
    session: Session,
    tenant: TenantRef,
    payment: OnlinePayment,
    status: ProviderStatus,
    *,
    amount: int | None,
    currency: str | None,
    refunded_amount: int | None = None,
    source: EventSource,
    event_id: str | None = None,
    raw: dict[str, Any] | None = None,
) -> None:
    """What a provider says about a payment, through the state machine; a success credits the household."""
    to = OnlineStatus(status.value)
    if to is S.succeeded and (
        (amount is not None and amount != payment.amount)
        or (currency is not None and currency != payment.currency)
    ):
        _flag(
            payment,
            f"montant ou devise différents : {amount} {currency} reçu pour {payment.amount} "
            f"{payment.currency}",
        )
        transition(
            session,
            payment,
            payment.status,
            source=source,
            event_id=event_id,
            raw=raw,
            note="refusé : montant ou devise différents",
        )
        record_event(
            session,
            SYSTEM,
            "payments.online_mismatch",
            target_type="online_payment",
            target_id=payment.public_id,
            outcome="failure",
            received={"amount": amount, "currency": currency},
        )
        return
    if to in (S.refunded, S.partially_refunded) and refunded_amount is not None:
        payment.refunded_amount = refunded_amount
    changed = transition(session, payment, to, source=source, event_id=event_id, raw=raw)
    if changed and to is S.succeeded:
        credit(session, tenant, payment)


def credit(session: Session, tenant: TenantRef, payment: OnlinePayment) -> Payment:
    """Record the money on the household's account (once) and tell the member."""
    principal = session.get(Member, payment.member_id)
    assert principal is not None
    received = record_payment(
        session,
        tenant,
        SYSTEM,
        principal,
        amount=payment.amount,
        method="card" if payment.provider == "stripe" else "mobile_money",
        external_ref=f"online:{payment.public_id}",
    )
    first = payment.contribution_payment_id is None
    payment.contribution_payment_id = received.id
    session.flush()
    if first:
        from notifications.services import notify

        notify(
            session,
            tenant,
            SYSTEM,
            event="payment.received",
            member=principal,
            context={"amount": payment.amount, "receipt_number": received.receipt_number},
        )
    return received


# --- polling and expiry ------------------------------------------------------------------------------------


def poll_pending(session: Session, tenant: TenantRef, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Ask providers about payments pending for more than a minute; expire those past their time."""
    now = now or utcnow()
    limit = now - dt.timedelta(minutes=1)
    expiry = dt.timedelta(minutes=expiry_minutes())
    counts = {"polled": 0, "expired": 0}
    pending = session.scalars(
        select(OnlinePayment)
        .where(OnlinePayment.status == S.pending, OnlinePayment.created_at < limit)
        .order_by(OnlinePayment.id)
        .with_for_update(skip_locked=True)
    ).all()
    for payment in pending:
        try:
            result = registry.provider_for(tenant, payment.provider).fetch_status(payment.provider_ref or "")
        except (ProviderError, KeyError):
            result = None
        if result is not None and result.status is not ProviderStatus.pending:
            counts["polled"] += 1
            apply_status(
                session,
                tenant,
                payment,
                result.status,
                amount=result.amount,
                currency=result.currency,
                refunded_amount=result.refunded_amount,
                source=EventSource.poll,
                raw=result.raw,
            )
        elif payment.created_at < now - expiry:
            counts["expired"] += 1
            transition(session, payment, S.expired, source=EventSource.system, note="délai dépassé")
    return counts


def get_online(session: Session, public_id: str) -> OnlinePayment | None:
    return session.scalar(select(OnlinePayment).where(OnlinePayment.public_id == public_id))
