"""Stripe adapter with the real ``stripe`` library pointed at a local fake API; webhooks signed locally with
the library's own ``WebhookSignature.generate_signature_header``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import stripe

from payments.providers.base import ProviderError, ProviderStatus, SignatureInvalid, StartRequest
from payments.providers.stripe_provider import StripeProvider
from tests.payments.providers.fakes import FakeStripe, serve, start_request

WHSEC = "whsec_test_secret"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with serve(FakeStripe()) as running:
        yield running


def provider(fake: FakeStripe, timeout: float = 2.0) -> StripeProvider:
    return StripeProvider(
        {"secret_key": "sk_test_mbolo", "webhook_secret": WHSEC}, base_url=fake.url, timeout=timeout
    )


def request(payment_id: str = "pay_123") -> StartRequest:
    return start_request("stripe", payment_id)


def test_start_creates_a_checkout_session(fake: FakeStripe) -> None:
    result = provider(fake).start(request())
    assert result.provider_ref == "cs_test_1"
    assert result.redirect_url == "https://checkout.stripe.test/c/pay/cs_test_1"
    seen = fake.last("/v1/checkout/sessions")
    assert seen.headers["Idempotency-Key"] == "start-pay_123"
    assert seen.headers["Authorization"] == "Bearer sk_test_mbolo"
    form = seen.form()
    assert form["mode"] == ["payment"]
    assert form["line_items[0][price_data][currency]"] == ["xof"]
    assert form["line_items[0][price_data][unit_amount]"] == ["5000"]  # zero-decimal: not 500000
    assert form["client_reference_id"] == ["pay_123"]
    assert form["metadata[payment_id]"] == ["pay_123"]
    assert form["success_url"] == [request().return_url]
    assert form["cancel_url"] == [request().cancel_url]


@pytest.mark.parametrize(
    ("status", "payment_status", "expected"),
    [
        ("open", "unpaid", ProviderStatus.pending),
        ("complete", "paid", ProviderStatus.succeeded),
        ("expired", "unpaid", ProviderStatus.expired),
        ("complete", "unpaid", ProviderStatus.pending),  # async payment method still settling
    ],
)
def test_fetch_status(fake: FakeStripe, status: str, payment_status: str, expected: ProviderStatus) -> None:
    adapter = provider(fake)
    ref = adapter.start(request()).provider_ref
    fake.sessions[ref].update(status=status, payment_status=payment_status)
    result = adapter.fetch_status(ref)
    assert (result.status, result.amount, result.currency) == (expected, 5000, "XOF")


def signed(payload: dict, timestamp: int | None = None, secret: str = WHSEC) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return body.encode(), {"Stripe-Signature": header}


def session_event(kind: str, **session: object) -> dict:
    return {
        "id": "evt_1",
        "object": "event",
        "type": kind,
        "data": {
            "object": {
                "id": "cs_test_1",
                "object": "checkout.session",
                "amount_total": 5000,
                "currency": "xof",
                "status": "complete",
                "payment_status": "paid",
                "client_reference_id": "pay_123",
                **session,
            }
        },
    }


@pytest.mark.parametrize(
    ("kind", "session", "expected"),
    [
        ("checkout.session.completed", {}, ProviderStatus.succeeded),
        ("checkout.session.completed", {"payment_status": "unpaid"}, ProviderStatus.pending),
        ("checkout.session.async_payment_failed", {"payment_status": "unpaid"}, ProviderStatus.failed),
        (
            "checkout.session.expired",
            {"status": "expired", "payment_status": "unpaid"},
            ProviderStatus.expired,
        ),
    ],
)
def test_webhook_session_events(fake: FakeStripe, kind: str, session: dict, expected: ProviderStatus) -> None:
    body, headers = signed(session_event(kind, **session))
    event = provider(fake).parse_webhook(body, headers)
    assert (event.event_id, event.provider_ref, event.status) == ("evt_1", "cs_test_1", expected)
    assert (event.amount, event.currency, event.trusted) == (5000, "XOF", True)


@pytest.mark.parametrize(
    ("refunded", "expected"), [(5000, ProviderStatus.refunded), (2000, ProviderStatus.partially_refunded)]
)
def test_webhook_charge_refunded(fake: FakeStripe, refunded: int, expected: ProviderStatus) -> None:
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 5000,
        "amount_refunded": refunded,
        "currency": "xof",
        "payment_intent": "pi_1",
        "metadata": {"payment_id": "pay_123"},
    }
    body, headers = signed(
        {"id": "evt_2", "object": "event", "type": "charge.refunded", "data": {"object": charge}}
    )
    event = provider(fake).parse_webhook(body, {k.lower(): v for k, v in headers.items()})
    assert (event.provider_ref, event.status, event.amount) == ("pi_1", expected, refunded)


def test_tampered_body_is_refused(fake: FakeStripe) -> None:
    body, headers = signed(session_event("checkout.session.completed"))
    with pytest.raises(SignatureInvalid):
        provider(fake).parse_webhook(body.replace(b"5000", b"50000"), headers)


def test_old_timestamp_is_refused(fake: FakeStripe) -> None:
    body, headers = signed(session_event("checkout.session.completed"), timestamp=int(time.time()) - 3600)
    with pytest.raises(SignatureInvalid):
        provider(fake).parse_webhook(body, headers)


def test_wrong_secret_and_missing_header_are_refused(fake: FakeStripe) -> None:
    body, headers = signed(session_event("checkout.session.completed"), secret="whsec_other")
    with pytest.raises(SignatureInvalid):
        provider(fake).parse_webhook(body, headers)
    with pytest.raises(SignatureInvalid):
        provider(fake).parse_webhook(body, {})


def test_refund_uses_the_payment_intent_and_idempotency_key(fake: FakeStripe) -> None:
    adapter = provider(fake)
    ref = adapter.start(request()).provider_ref
    fake.sessions[ref].update(status="complete", payment_status="paid", payment_intent="pi_1")
    result = adapter.refund(ref, 2000, idempotency_key="refund-pay_123-1")
    assert (result.status, result.refunded_amount, result.amount) == (
        ProviderStatus.partially_refunded,
        2000,
        5000,
    )
    seen = fake.last("/v1/refunds")
    assert seen.headers["Idempotency-Key"] == "refund-pay_123-1"
    assert seen.form() == {"payment_intent": ["pi_1"], "amount": ["2000"]}


def test_refund_of_unpaid_session_is_refused(fake: FakeStripe) -> None:
    adapter = provider(fake)
    ref = adapter.start(request()).provider_ref
    with pytest.raises(ProviderError) as caught:
        adapter.refund(ref, 5000, idempotency_key="r")
    assert not caught.value.retryable


def test_timeout_is_retryable(fake: FakeStripe) -> None:
    fake.delay = 1.0
    with pytest.raises(ProviderError) as caught:
        provider(fake, timeout=0.2).start(request())
    assert caught.value.retryable
    assert len(fake.requests) == 1  # the library does not retry on its own


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (401, False)]
)
def test_http_errors(fake: FakeStripe, status: int, retryable: bool) -> None:
    fake.fail_with = (status, {"error": {"type": "api_error", "message": "boom"}})
    with pytest.raises(ProviderError) as caught:
        provider(fake).fetch_status("cs_test_1")
    assert caught.value.retryable is retryable


def test_not_found_is_not_retryable(fake: FakeStripe) -> None:
    with pytest.raises(ProviderError) as caught:
        provider(fake).fetch_status("cs_missing")
    assert not caught.value.retryable


def test_global_stripe_key_is_untouched(fake: FakeStripe) -> None:
    provider(fake).start(request())
    assert stripe.api_key is None
