"""Wave adapter against a local fake of the Checkout API: requests, status mapping, signed webhooks, and
the retry decision for timeouts and HTTP errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from payments.providers.base import ProviderError, ProviderStatus, SignatureInvalid, StartRequest
from payments.providers.wave import WaveProvider, sign
from tests.payments.providers.fakes import FakeWave, serve, start_request

SECRET = "wave_sn_WHS_test"


@pytest.fixture
def fake() -> Iterator[FakeWave]:
    with serve(FakeWave()) as running:
        yield running


def provider(fake: FakeWave, timeout: float = 2.0) -> WaveProvider:
    return WaveProvider(
        {"api_key": "wave_sn_prod_test", "webhook_secret": SECRET}, base_url=fake.url, timeout=timeout
    )


def request(payment_id: str = "pay_123") -> StartRequest:
    return start_request("wave", payment_id, phone="+221770000000")


def test_start_creates_a_session_with_an_idempotency_key(fake: FakeWave) -> None:
    result = provider(fake).start(request())
    assert result.provider_ref == "cos-1"
    assert result.redirect_url == "https://pay.wave.com/c/cos-1"
    seen = fake.last("/v1/checkout/sessions")
    assert seen.headers["Idempotency-Key"] == "start-pay_123"
    assert seen.headers["Authorization"] == "Bearer wave_sn_prod_test"
    assert seen.json() == {
        "amount": "5000",
        "currency": "XOF",
        "client_reference": "pay_123",
        "success_url": request().return_url,
        "error_url": request().cancel_url,
    }


@pytest.mark.parametrize(
    ("checkout_status", "payment_status", "expected"),
    [
        ("open", "processing", ProviderStatus.pending),
        ("complete", "succeeded", ProviderStatus.succeeded),
        ("expired", "processing", ProviderStatus.expired),
        ("open", "cancelled", ProviderStatus.cancelled),
        ("complete", "processing", ProviderStatus.failed),
    ],
)
def test_fetch_status_maps_wave_statuses(
    fake: FakeWave, checkout_status: str, payment_status: str, expected: ProviderStatus
) -> None:
    wave = provider(fake)
    ref = wave.start(request()).provider_ref
    fake.sessions[ref].update(checkout_status=checkout_status, payment_status=payment_status)
    status = wave.fetch_status(ref)
    assert (status.status, status.amount, status.currency) == (expected, 5000, "XOF")


def test_non_integral_xof_amount_is_refused(fake: FakeWave) -> None:
    wave = provider(fake)
    ref = wave.start(request()).provider_ref
    fake.sessions[ref]["amount"] = "5000.50"
    with pytest.raises(ProviderError) as caught:
        wave.fetch_status(ref)
    assert not caught.value.retryable


def event_body(payment_status: str = "succeeded", event_type: str = "checkout.session.completed") -> bytes:
    return json.dumps(
        {
            "id": "EV_QvEZuDSQbLdI",
            "type": event_type,
            "data": {
                "id": "cos-18qq25rgr100a",
                "amount": "5000",
                "checkout_status": "complete",
                "client_reference": "pay_123",
                "currency": "XOF",
                "payment_status": payment_status,
                "transaction_id": "TCN4Y4ZC3FM",
            },
        }
    ).encode()


def test_signed_webhook_is_parsed_and_trusted(fake: FakeWave) -> None:
    body = event_body()
    event = provider(fake).parse_webhook(body, {"wave-signature": sign(body, SECRET, int(time.time()))})
    assert event.event_id == "EV_QvEZuDSQbLdI"
    assert event.provider_ref == "cos-18qq25rgr100a"
    assert (event.status, event.amount, event.currency, event.trusted) == (
        ProviderStatus.succeeded,
        5000,
        "XOF",
        True,
    )


def test_payment_failed_event(fake: FakeWave) -> None:
    body = event_body("processing", "checkout.session.payment_failed")
    event = provider(fake).parse_webhook(body, {"Wave-Signature": sign(body, SECRET, int(time.time()))})
    assert event.status == ProviderStatus.failed


def test_any_of_several_signatures_may_match(fake: FakeWave) -> None:
    body = event_body()
    now = int(time.time())
    good = sign(body, SECRET, now).split(",")[1]
    headers = {"Wave-Signature": f"t={now},v1={'0' * 64},{good}"}
    assert provider(fake).parse_webhook(body, headers).trusted


@pytest.mark.parametrize(
    "make_header",
    [
        lambda body, now: sign(body + b" ", SECRET, now),  # signed another body
        lambda body, now: sign(body, "another-secret", now),
        lambda body, now: sign(body, SECRET, now - 3600),  # replayed an hour later
        lambda body, now: sign(body, SECRET, now + 3600),  # from the future
        lambda body, now: f"t={now}",
        lambda body, now: "garbage",
        lambda body, now: "",
    ],
)
def test_bad_signatures_are_refused(fake: FakeWave, make_header) -> None:  # type: ignore[no-untyped-def]
    body = event_body()
    with pytest.raises(SignatureInvalid):
        provider(fake).parse_webhook(body, {"Wave-Signature": make_header(body, int(time.time()))})


def test_tampered_body_is_refused(fake: FakeWave) -> None:
    body = event_body()
    header = sign(body, SECRET, int(time.time()))
    with pytest.raises(SignatureInvalid):
        provider(fake).parse_webhook(body.replace(b'"5000"', b'"50000"'), {"Wave-Signature": header})


def test_missing_header_is_refused(fake: FakeWave) -> None:
    with pytest.raises(SignatureInvalid):
        provider(fake).parse_webhook(event_body(), {})


def test_refund_whole_session(fake: FakeWave) -> None:
    wave = provider(fake)
    ref = wave.start(request()).provider_ref
    fake.sessions[ref].update(checkout_status="complete", payment_status="succeeded")
    result = wave.refund(ref, 5000, idempotency_key="refund-pay_123-1")
    assert (result.status, result.refunded_amount) == (ProviderStatus.refunded, 5000)
    seen = fake.last("/refund")
    assert seen.method == "POST"
    assert seen.headers["Idempotency-Key"] == "refund-pay_123-1"


def test_partial_refund_is_refused_before_calling_wave(fake: FakeWave) -> None:
    wave = provider(fake)
    ref = wave.start(request()).provider_ref
    fake.sessions[ref].update(checkout_status="complete", payment_status="succeeded")
    with pytest.raises(ProviderError) as caught:
        wave.refund(ref, 1000, idempotency_key="refund-pay_123-1")
    assert not caught.value.retryable
    assert not [seen for seen in fake.requests if seen.path.endswith("/refund")]


def test_timeout_is_retryable(fake: FakeWave) -> None:
    fake.delay = 1.0
    with pytest.raises(ProviderError) as caught:
        provider(fake, timeout=0.2).start(request())
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (404, False)]
)
def test_http_errors(fake: FakeWave, status: int, retryable: bool) -> None:
    fake.fail_with = (status, {"code": "x", "message": "boom"})
    with pytest.raises(ProviderError) as caught:
        provider(fake).fetch_status("cos-1")
    assert caught.value.retryable is retryable
    assert str(status) in str(caught.value)


def test_wrong_api_key_is_not_retryable(fake: FakeWave) -> None:
    wave = WaveProvider({"api_key": "wrong", "webhook_secret": SECRET}, base_url=fake.url)
    with pytest.raises(ProviderError) as caught:
        wave.start(request())
    assert not caught.value.retryable
    assert "wrong" not in str(caught.value)


def test_unreachable_is_retryable() -> None:
    with serve(FakeWave()) as stopped:
        url = stopped.url
    wave = WaveProvider({"api_key": "k"}, base_url=url, timeout=1)
    with pytest.raises(ProviderError) as caught:
        wave.fetch_status("cos-1")
    assert caught.value.retryable
