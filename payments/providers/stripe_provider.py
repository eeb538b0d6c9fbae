"""Card payments through Stripe Checkout (hosted page), with the official ``stripe`` library.

A ``StripeClient`` per adapter instance, never the module-global ``stripe.api_key``: each mutual has its own
account, and a global would let one tenant's key serve another's request. XOF is zero-decimal for Stripe, so
our integer amount goes through unchanged. Fulfilment is webhook-driven (``checkout.session.completed``)
with the session retrieval as the authoritative check."""

from __future__ import annotations

from typing import Any

import stripe

from payments.providers.base import (
    ProviderError,
    ProviderStatus,
    SignatureInvalid,
    StartRequest,
    StartResult,
    StatusResult,
    WebhookEvent,
)
from payments.providers.http import DEFAULT_TIMEOUT, header, is_retryable_status

#: Events this adapter understands; the others are acknowledged by the service and ignored.
HANDLED_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
        "charge.refunded",
    }
)


def _as_dict(obj: Any) -> dict[str, Any]:
    """Stripe objects as plain JSON-able dicts, for ``raw`` (which the service persists)."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _provider_error(error: stripe.StripeError) -> ProviderError:
    """Connection problems, rate limits and 5xx may pass on a retry (with the same idempotency key);
    validation, authentication and idempotency conflicts will not."""
    status = error.http_status
    retryable = isinstance(error, stripe.APIConnectionError | stripe.RateLimitError) or (
        status is not None and is_retryable_status(status)
    )
    message = error.user_message or type(error).__name__
    return ProviderError(f"stripe: {message} (HTTP {status})", retryable=retryable)


def session_status(session: dict[str, Any]) -> ProviderStatus:
    if session.get("payment_status") == "paid":
        return ProviderStatus.succeeded
    if session.get("status") == "expired":
        return ProviderStatus.expired
    return ProviderStatus.pending


class StripeProvider:
    """``credentials``: ``secret_key`` (``sk_live_…``, or a restricted key allowed to write Checkout
    Sessions and Refunds) and ``webhook_secret`` (``whsec_…`` of the endpoint registered in the dashboard)."""

    name = "stripe"

    def __init__(
        self,
        credentials: dict[str, str],
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        signature_tolerance: int = stripe.Webhook.DEFAULT_TOLERANCE,
    ) -> None:
        secret_key = credentials.get("secret_key")
        if not secret_key:
            raise ProviderError("stripe: credentials need a secret_key", retryable=False)
        self._webhook_secret = credentials.get("webhook_secret", "")
        self._tolerance = signature_tolerance
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": base_url} if base_url else None,
            # Our job retries with the same idempotency key; the library must not add its own retries
            # behind a web request that is waiting.
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def start(self, request: StartRequest) -> StartResult:
        """Create a Checkout Session. ``start-<payment id>`` as idempotency key: a retry after a timeout gets
        the very same session back rather than a second one."""
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount,  # zero-decimal for XOF: 5000 is 5 000 F CFA
                        "product_data": {"name": request.description[:250] or request.payment_id},
                    },
                }
            ],
            "client_reference_id": request.payment_id,
            "metadata": {"payment_id": request.payment_id},
            # Copied onto the PaymentIntent, so charge/refund events can be traced back too.
            "payment_intent_data": {"metadata": {"payment_id": request.payment_id}},
            "success_url": request.return_url,
            "cancel_url": request.cancel_url,
        }
        try:
            session = self._client.v1.checkout.sessions.create(
                params, options={"idempotency_key": f"start-{request.payment_id}"}
            )
        except stripe.StripeError as error:
            raise _provider_error(error) from error
        if not session.url:
            raise ProviderError("stripe: checkout session has no url", retryable=False)
        return StartResult(provider_ref=session.id, redirect_url=session.url, raw=_as_dict(session))

    def _session(self, provider_ref: str) -> dict[str, Any]:
        try:
            return _as_dict(self._client.v1.checkout.sessions.retrieve(provider_ref))
        except stripe.StripeError as error:
            raise _provider_error(error) from error

    def fetch_status(self, provider_ref: str) -> StatusResult:
        session = self._session(provider_ref)
        return StatusResult(
            provider_ref=provider_ref,
            status=session_status(session),
            amount=int(session.get("amount_total") or 0),
            currency=str(session.get("currency") or "").upper(),
            raw=session,
        )

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        """``construct_event`` checks the HMAC over the raw body and the 5-minute timestamp window."""
        try:
            event = self._client.construct_event(
                body, header(headers, "Stripe-Signature"), self._webhook_secret, tolerance=self._tolerance
            )
        except stripe.SignatureVerificationError as error:
            raise SignatureInvalid(f"stripe: {error.user_message or 'signature does not verify'}") from error
        except ValueError as error:
            raise SignatureInvalid("stripe: webhook body is not JSON") from error
        raw = _as_dict(event)
        obj = raw.get("data", {}).get("object", {})
        kind = event.type
        currency = str(obj["currency"]).upper() if obj.get("currency") else None
        if kind == "charge.refunded":
            # A Charge knows its PaymentIntent, not its Checkout Session: provider_ref is the PaymentIntent id
            # (``StatusResult.raw["payment_intent"]``), ``raw`` keeps the metadata payment id.
            refunded = int(obj.get("amount_refunded") or 0)
            full = refunded >= int(obj.get("amount") or 0)
            return WebhookEvent(
                event_id=event.id,
                provider_ref=str(obj.get("payment_intent") or obj.get("id") or ""),
                status=ProviderStatus.refunded if full else ProviderStatus.partially_refunded,
                amount=refunded,
                currency=currency,
                trusted=True,
                raw=raw,
            )
        if kind == "checkout.session.async_payment_failed":
            status = ProviderStatus.failed
        elif kind == "checkout.session.expired":
            status = ProviderStatus.expired
        else:
            status = session_status(obj) if kind in HANDLED_EVENTS else ProviderStatus.pending
        amount = obj.get("amount_total")
        return WebhookEvent(
            event_id=event.id,
            provider_ref=str(obj.get("id") or ""),
            status=status,
            amount=int(amount) if amount is not None else None,
            currency=currency,
            trusted=True,
            raw=raw,
        )

    def refund(self, provider_ref: str, amount: int, *, idempotency_key: str) -> StatusResult:
        """Refund (part of) the session's PaymentIntent. A refund Stripe accepts but has not yet settled
        (``pending``) is reported as done, with ``raw["refund"]["status"]`` for the service to watch."""
        session = self._session(provider_ref)
        payment_intent = session.get("payment_intent")
        if isinstance(payment_intent, dict):
            payment_intent = payment_intent.get("id")
        if session.get("payment_status") != "paid" or not payment_intent:
            raise ProviderError("stripe: only a paid session can be refunded", retryable=False)
        try:
            refund = self._client.v1.refunds.create(
                {"payment_intent": payment_intent, "amount": amount},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise _provider_error(error) from error
        if refund.status in ("failed", "canceled"):
            raise ProviderError(f"stripe: refund {refund.status}", retryable=False)
        total = int(session.get("amount_total") or 0)
        return StatusResult(
            provider_ref=provider_ref,
            status=ProviderStatus.refunded if amount >= total else ProviderStatus.partially_refunded,
            amount=total,
            currency=str(session.get("currency") or "").upper(),
            refunded_amount=int(refund.amount),
            raw={"session": session, "refund": _as_dict(refund)},
        )
