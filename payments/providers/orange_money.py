"""Orange Money (Sonatel) through Orange's Web Payment API: OAuth2 client-credentials token, then
``POST …/webpayment`` returns a ``payment_url`` where the member types their PIN.

Orange does not sign its notifications: the POST to ``notif_url`` carries ``{status, notif_token, txnid}``
where ``notif_token`` is a per-payment shared secret handed to us at creation. So a notification is only a
hint (``trusted=False``): the payment is confirmed by the transaction-status API, which needs the order id,
the amount and the ``pay_token``. Adapters keep no state, so all three travel in ``provider_ref``
(``"<pay_token>|<amount>|<order_id>"``, see ``make_ref``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from payments.providers.base import (
    ProviderError,
    ProviderStatus,
    SignatureInvalid,
    StartRequest,
    StartResult,
    StatusResult,
    WebhookEvent,
)
from payments.providers.http import DEFAULT_TIMEOUT, JsonHttp, integral_amount

DEFAULT_BASE_URL = "https://api.orange.com"
OAUTH_PATH = "/oauth/v3/token"

#: Orange's transaction statuses, mapped to ours.
STATUSES = {
    "INITIATED": ProviderStatus.pending,
    "PENDING": ProviderStatus.pending,
    "SUCCESS": ProviderStatus.succeeded,
    "FAILED": ProviderStatus.failed,
    "EXPIRED": ProviderStatus.expired,
}


def make_ref(pay_token: str, amount: int, order_id: str) -> str:
    """Everything the status API needs, in one opaque string the service stores as ``provider_ref``.
    ``order_id`` comes last so it may itself contain the separator."""
    return f"{pay_token}|{amount}|{order_id}"


def split_ref(provider_ref: str) -> tuple[str, int, str]:
    pay_token, amount, order_id = (provider_ref.split("|", 2) + ["", ""])[:3]
    if not pay_token or not amount.isdigit() or not order_id:
        raise ProviderError(f"Orange Money: malformed provider reference {provider_ref!r}", retryable=False)
    return pay_token, int(amount), order_id


def notif_token_digest(notif_token: str) -> str:
    """A lookup key for a notification token: the service can store and index this instead of the token."""
    return hashlib.sha256(notif_token.encode()).hexdigest()


def notif_token_matches(expected: str, event: WebhookEvent) -> bool:
    """Whether a notification carries the token Orange gave us for this payment (constant-time). Even when
    it does, the service still confirms through ``fetch_status`` before crediting."""
    received = str(event.raw.get("notif_token", ""))
    return bool(expected) and hmac.compare_digest(expected.encode(), received.encode())


class OrangeMoneyProvider:
    """``credentials``: ``client_id`` and ``client_secret`` (the Orange Developer application),
    ``merchant_key`` (the Web Payment subscription), optional ``environment`` (``"sn"`` in production,
    ``"dev"`` for Orange's sandbox), optional ``currency`` (``"XOF"``; the sandbox only accepts ``"OUV"``)
    and optional ``lang`` (``"fr"``)."""

    name = "orange_money"

    def __init__(
        self,
        credentials: dict[str, str],
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        missing = [key for key in ("client_id", "client_secret", "merchant_key") if not credentials.get(key)]
        if missing:
            raise ProviderError(f"Orange Money: credentials lack {', '.join(missing)}", retryable=False)
        self._client_id = credentials["client_id"]
        self._client_secret = credentials["client_secret"]
        self._merchant_key = credentials["merchant_key"]
        environment = credentials.get("environment", "sn")
        self._path = f"/orange-money-webpay/{environment}/v1"
        self.currency = credentials.get("currency") or ("OUV" if environment == "dev" else "XOF")
        self._lang = credentials.get("lang", "fr")
        self._http = JsonHttp("orange_money", base_url or DEFAULT_BASE_URL, timeout=timeout)
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = threading.Lock()

    def _access_token(self) -> str:
        """A cached OAuth token, renewed a minute before it expires (tokens last about an hour)."""
        with self._lock:
            if self._token and time.monotonic() < self._token_expires:
                return self._token
            answer = self._http.request(
                "POST",
                OAUTH_PATH,
                form={"grant_type": "client_credentials"},
                auth=(self._client_id, self._client_secret),
            )
            token = answer.get("access_token")
            if not token:
                raise ProviderError("Orange Money: token answer lacks access_token", retryable=False)
            lifetime = float(answer.get("expires_in") or 3600)
            self._token = str(token)
            self._token_expires = time.monotonic() + max(lifetime - 60, 0)
            return self._token

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        token = self._access_token()  # a refused token request (bad credentials) is final, not retried
        try:
            return self._http.request(
                "POST", self._path + path, json_body=body, headers={"Authorization": f"Bearer {token}"}
            )
        except ProviderError as error:
            if "HTTP 401" in str(error):
                # The token was revoked or expired early: forget it so the next attempt gets a new one.
                with self._lock:
                    self._token = None
                error.retryable = True
            raise

    def start(self, request: StartRequest) -> StartResult:
        """Create a web payment. Orange has no idempotency header: ``order_id`` (our payment id) is unique per
        merchant, so a retry with the same id is refused by Orange rather than charged twice."""
        if request.currency != "XOF":
            raise ProviderError(f"Orange Money takes XOF only, not {request.currency}", retryable=False)
        answer = self._call(
            "/webpayment",
            {
                "merchant_key": self._merchant_key,
                "currency": self.currency,
                "order_id": request.payment_id,
                "amount": request.amount,
                "return_url": request.return_url,
                "cancel_url": request.cancel_url,
                "notif_url": request.webhook_url,
                "lang": self._lang,
                "reference": request.description[:30],
            },
        )
        pay_token, payment_url, notif_token = (
            answer.get("pay_token"),
            answer.get("payment_url"),
            answer.get("notif_token"),
        )
        if not pay_token or not payment_url or not notif_token:
            raise ProviderError("Orange Money: web payment answer lacks a token or URL", retryable=False)
        return StartResult(
            provider_ref=make_ref(pay_token, request.amount, request.payment_id),
            redirect_url=payment_url,
            raw={**answer, "notif_token_sha256": notif_token_digest(notif_token)},
        )

    def fetch_status(self, provider_ref: str) -> StatusResult:
        """The transaction-status API: the only proof of an Orange Money payment."""
        pay_token, amount, order_id = split_ref(provider_ref)
        answer = self._call(
            "/transactionstatus", {"order_id": order_id, "amount": amount, "pay_token": pay_token}
        )
        status = STATUSES.get(str(answer.get("status", "")).upper())
        if status is None:
            raise ProviderError(f"Orange Money: unknown status {answer.get('status')!r}", retryable=False)
        reported = answer.get("amount")
        return StatusResult(
            provider_ref=provider_ref,
            status=status,
            amount=integral_amount(reported, provider="orange_money") if reported is not None else amount,
            currency="XOF",
            raw=answer,
        )

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        """Read a notification. Nothing here can be verified without the token we stored, so the event is
        untrusted: the service matches ``raw["notif_token"]`` (``notif_token_matches``) and then calls
        ``fetch_status``. ``provider_ref`` is empty because Orange does not send the pay token back."""
        try:
            data = json.loads(body)
        except ValueError:
            data = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        if not isinstance(data, dict) or not data.get("notif_token"):
            raise SignatureInvalid("Orange Money notification without notif_token")
        notif_token = str(data["notif_token"])
        claimed = str(data.get("status", "")).upper()
        txnid = str(data.get("txnid") or "")
        digest = notif_token_digest(notif_token)
        return WebhookEvent(
            event_id=f"om:{txnid or digest[:32]}:{claimed}",
            provider_ref="",
            status=STATUSES.get(claimed, ProviderStatus.pending),
            amount=None,
            currency=None,
            trusted=False,
            raw={**data, "notif_token_sha256": digest},
        )

    def refund(self, provider_ref: str, amount: int, *, idempotency_key: str) -> StatusResult:
        """Orange's Web Payment API has no refund call: refunds are a merchant cash-in made outside Mbolo."""
        raise ProviderError(
            "Orange Money web payments cannot be refunded through the API: refund the member from the "
            "merchant account (Orange Money Pro / cash-in) and record the refund manually",
            retryable=False,
        )
