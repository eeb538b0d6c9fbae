"""Wave Senegal through its Checkout API: the member is sent to ``wave_launch_url`` (the Wave app or a QR
code), Wave calls our webhook, and ``GET /v1/checkout/sessions/{id}`` is the authoritative answer.

An API key is bound to one business wallet, which fits Mbolo's one-set-of-credentials-per-mutual model.
Webhooks are signed with the endpoint's signing secret: ``Wave-Signature: t=<unix time>,v1=<hex>[,v1=…]``
where ``v1 = HMAC-SHA256(secret, t + raw body)`` — concatenated without a separator, unlike Stripe."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from payments.providers.base import (
    ProviderError,
    ProviderStatus,
    SignatureInvalid,
    StartRequest,
    StartResult,
    StatusResult,
    WebhookEvent,
)
from payments.providers.http import DEFAULT_TIMEOUT, JsonHttp, header, integral_amount

DEFAULT_BASE_URL = "https://api.wave.com"

#: Seconds a signed webhook stays acceptable, both ways: bounds replays and tolerates clock skew.
SIGNATURE_TOLERANCE = 300


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Wave-Signature`` header for ``body``: used by our tests and the sandbox to produce real ones."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    body: bytes, signature_header: str | None, secret: str, *, tolerance: int = SIGNATURE_TOLERANCE
) -> None:
    """Raise ``SignatureInvalid`` unless one ``v1`` of the header is the HMAC of ``t + body`` and ``t`` is
    recent. Any ``v1`` may match so the signing secret can be rolled without losing events; the
    comparison is constant-time."""
    if not secret:
        raise SignatureInvalid("Wave webhook secret is not configured")
    if not signature_header:
        raise SignatureInvalid("missing Wave-Signature header")
    timestamp: str | None = None
    signatures: list[str] = []
    for part in signature_header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise SignatureInvalid("malformed Wave-Signature header")
    expected = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureInvalid("Wave signature does not match")
    if abs(time.time() - int(timestamp)) > tolerance:
        raise SignatureInvalid("Wave signature timestamp is outside the tolerance")


def session_status(session: dict[str, Any]) -> ProviderStatus:
    """Wave's two fields folded into one of ours: ``payment_status`` says whether money moved,
    ``checkout_status`` whether the session is still usable."""
    payment_status = session.get("payment_status")
    checkout_status = session.get("checkout_status")
    if payment_status == "succeeded":
        return ProviderStatus.succeeded
    if checkout_status == "expired":
        return ProviderStatus.expired
    if payment_status == "cancelled":
        return ProviderStatus.cancelled
    if checkout_status == "complete":
        # Complete without a succeeded payment: the attempt ended in an error.
        return ProviderStatus.failed
    return ProviderStatus.pending


class WaveProvider:
    """``credentials``: ``api_key`` (``wave_sn_prod_…``) and ``webhook_secret`` (the signing secret shown in
    the Wave Business Portal when the webhook is registered)."""

    name = "wave"

    def __init__(
        self,
        credentials: dict[str, str],
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        signature_tolerance: int = SIGNATURE_TOLERANCE,
    ) -> None:
        try:
            self._api_key = credentials["api_key"]
        except KeyError as error:
            raise ProviderError("Wave: credentials need an api_key", retryable=False) from error
        self._webhook_secret = credentials.get("webhook_secret", "")
        self._tolerance = signature_tolerance
        self._http = JsonHttp("wave", base_url or DEFAULT_BASE_URL, timeout=timeout)

    def _headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def _status_result(self, session: dict[str, Any]) -> StatusResult:
        return StatusResult(
            provider_ref=str(session.get("id", "")),
            status=session_status(session),
            amount=integral_amount(session.get("amount", "0"), provider="wave"),
            currency=str(session.get("currency", "")).upper(),
            raw=session,
        )

    def start(self, request: StartRequest) -> StartResult:
        """Create a checkout session. The Idempotency-Key (derived from our payment id) makes a retry after a
        timeout return the same session instead of a second one."""
        session = self._http.request(
            "POST",
            "/v1/checkout/sessions",
            json_body={
                "amount": str(request.amount),
                "currency": request.currency,
                "client_reference": request.payment_id,
                "success_url": request.return_url,
                "error_url": request.cancel_url,
            },
            headers=self._headers(f"start-{request.payment_id}"),
        )
        if not session.get("id") or not session.get("wave_launch_url"):
            raise ProviderError("Wave: checkout session answer lacks id or wave_launch_url", retryable=False)
        return StartResult(provider_ref=session["id"], redirect_url=session["wave_launch_url"], raw=session)

    def fetch_status(self, provider_ref: str) -> StatusResult:
        session = self._http.request("GET", f"/v1/checkout/sessions/{provider_ref}", headers=self._headers())
        return self._status_result(session)

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        """Verify ``Wave-Signature`` over the raw body, then read the session the event carries."""
        verify_signature(
            body, header(headers, "Wave-Signature"), self._webhook_secret, tolerance=self._tolerance
        )
        try:
            event = json.loads(body)
            session = event["data"]
            event_type = event["type"]
        except (ValueError, KeyError, TypeError) as error:
            raise ProviderError("Wave: webhook body is not a checkout event", retryable=False) from error
        if event_type == "checkout.session.payment_failed":
            status = ProviderStatus.failed
        else:
            status = session_status(session)
        amount = session.get("amount")
        return WebhookEvent(
            event_id=str(event.get("id") or f"{session.get('id')}:{event_type}"),
            provider_ref=str(session.get("id", "")),
            status=status,
            amount=integral_amount(amount, provider="wave") if amount is not None else None,
            currency=str(session["currency"]).upper() if session.get("currency") else None,
            trusted=True,
            raw=event,
        )

    def refund(self, provider_ref: str, amount: int, *, idempotency_key: str) -> StatusResult:
        """Wave refunds a checkout session as a whole: a partial amount is refused before calling Wave."""
        current = self.fetch_status(provider_ref)
        if current.status != ProviderStatus.succeeded:
            raise ProviderError(f"Wave: session is {current.status}, only a paid session can be refunded")
        if amount != current.amount:
            raise ProviderError(
                f"Wave refunds whole sessions only ({current.amount}), not {amount}", retryable=False
            )
        answer = self._http.request(
            "POST", f"/v1/checkout/sessions/{provider_ref}/refund", headers=self._headers(idempotency_key)
        )
        return StatusResult(
            provider_ref=provider_ref,
            status=ProviderStatus.refunded,
            amount=current.amount,
            currency=current.currency,
            refunded_amount=current.amount,
            raw={"session": current.raw, "refund": answer},
        )
