"""The one interface every payment provider implements. Money is an integer in the currency's minor unit:
XOF has none, so 5000 means 5 000 F CFA. Adapters never touch the database: the payments service persists
what they return and decides what a provider's answer means for a payment."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol


class ProviderStatus(enum.StrEnum):
    """A provider's view of one payment, mapped to ours by the state machine."""

    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    expired = "expired"
    cancelled = "cancelled"
    refunded = "refunded"
    partially_refunded = "partially_refunded"


@dataclass(frozen=True)
class StartRequest:
    payment_id: str  # our public id: also the idempotency key and the provider's client reference
    amount: int
    currency: str  # "XOF"
    description: str
    customer_phone: str | None
    return_url: str  # where the member comes back (never proof of payment)
    cancel_url: str
    webhook_url: str


@dataclass(frozen=True)
class StartResult:
    provider_ref: str  # the provider's id for this payment (checkout session, transaction…)
    redirect_url: str | None = None  # hosted page to send the member to…
    instructions: str | None = None  # …or push/USSD instructions to show
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusResult:
    provider_ref: str
    status: ProviderStatus
    amount: int
    currency: str
    refunded_amount: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEvent:
    """A verified, parsed notification. ``trusted`` is False when the provider does not sign the content
    (Orange Money sends a token only): the service then confirms through ``fetch_status`` before crediting."""

    event_id: str
    provider_ref: str
    status: ProviderStatus
    amount: int | None
    currency: str | None
    trusted: bool
    raw: dict[str, Any] = field(default_factory=dict)


class SignatureInvalid(Exception):
    """The webhook's signature does not verify: nothing may change (HTTP 400, audited)."""


class ProviderError(Exception):
    """The provider refused or could not be reached; ``retryable`` tells the job whether to try again."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class PaymentProvider(Protocol):
    name: str

    def start(self, request: StartRequest) -> StartResult: ...

    def fetch_status(self, provider_ref: str) -> StatusResult: ...

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        """Verify the signature over ``body`` (raise ``SignatureInvalid``) and parse it."""
        ...

    def refund(self, provider_ref: str, amount: int, *, idempotency_key: str) -> StatusResult: ...
