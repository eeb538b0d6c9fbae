"""Orange Money adapter against a local fake of the OAuth + Web Payment APIs: the token dance, the
reference that carries what the status API needs, untrusted notifications, and the retry decision."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from payments.providers.base import ProviderError, ProviderStatus, SignatureInvalid, StartRequest
from payments.providers.orange_money import OrangeMoneyProvider, notif_token_matches, split_ref
from tests.payments.providers.fakes import FakeOrangeMoney, serve, start_request

CREDENTIALS = {"client_id": "om-client", "client_secret": "om-secret", "merchant_key": "mk-test"}


@pytest.fixture
def fake() -> Iterator[FakeOrangeMoney]:
    with serve(FakeOrangeMoney()) as running:
        yield running


def provider(fake: FakeOrangeMoney, timeout: float = 2.0) -> OrangeMoneyProvider:
    return OrangeMoneyProvider(CREDENTIALS, base_url=fake.url, timeout=timeout)


def request(payment_id: str = "pay_123") -> StartRequest:
    return start_request("orange_money", payment_id)


def test_start_gets_a_token_then_creates_a_web_payment(fake: FakeOrangeMoney) -> None:
    result = provider(fake).start(request())
    token_call = fake.requests[0]
    assert token_call.path == "/oauth/v3/token"
    assert token_call.form() == {"grant_type": ["client_credentials"]}
    assert token_call.headers["Authorization"].startswith("Basic ")
    seen = fake.last("/webpayment")
    assert seen.headers["Authorization"] == "Bearer tok-1"
    assert seen.json() == {
        "merchant_key": "mk-test",
        "currency": "XOF",
        "order_id": "pay_123",  # unique per merchant: Orange's idempotency
        "amount": 5000,
        "return_url": request().return_url,
        "cancel_url": request().cancel_url,
        "notif_url": request().webhook_url,
        "lang": "fr",
        "reference": "Cotisation 2026",
    }
    assert result.redirect_url and result.redirect_url.startswith("https://webpayment.orange-money.test/")
    pay_token, amount, order_id = split_ref(result.provider_ref)
    assert (amount, order_id) == (5000, "pay_123")
    assert result.raw["pay_token"] == pay_token
    assert result.raw["notif_token"] and result.raw["notif_token_sha256"]


def test_token_is_reused(fake: FakeOrangeMoney) -> None:
    om = provider(fake)
    ref = om.start(request()).provider_ref
    om.fetch_status(ref)
    assert fake.tokens_issued == 1


def test_expired_token_is_dropped_and_retryable(fake: FakeOrangeMoney) -> None:
    om = provider(fake)
    ref = om.start(request()).provider_ref
    om._token = "revoked"  # what Orange sees once a token expired early
    with pytest.raises(ProviderError) as caught:
        om.fetch_status(ref)
    assert caught.value.retryable
    assert om.fetch_status(ref).status == ProviderStatus.pending
    assert fake.tokens_issued == 2


@pytest.mark.parametrize(
    ("orange", "ours"),
    [
        ("INITIATED", ProviderStatus.pending),
        ("PENDING", ProviderStatus.pending),
        ("SUCCESS", ProviderStatus.succeeded),
        ("FAILED", ProviderStatus.failed),
        ("EXPIRED", ProviderStatus.expired),
    ],
)
def test_fetch_status_maps_statuses(fake: FakeOrangeMoney, orange: str, ours: ProviderStatus) -> None:
    om = provider(fake)
    ref = om.start(request()).provider_ref
    fake.transactions[split_ref(ref)[0]]["status"] = orange
    status = om.fetch_status(ref)
    assert (status.status, status.amount, status.currency, status.provider_ref) == (ours, 5000, "XOF", ref)
    assert fake.last("/transactionstatus").json() == {
        "order_id": "pay_123",
        "amount": 5000,
        "pay_token": split_ref(ref)[0],
    }


def test_notification_is_untrusted_and_carries_the_token(fake: FakeOrangeMoney) -> None:
    om = provider(fake)
    started = om.start(request())
    body = json.dumps(
        {"status": "SUCCESS", "notif_token": started.raw["notif_token"], "txnid": "MP2611"}
    ).encode()
    event = om.parse_webhook(body, {"Content-Type": "application/json"})
    assert event.trusted is False
    assert event.status == ProviderStatus.succeeded
    assert event.amount is None and event.provider_ref == ""
    assert event.event_id == "om:MP2611:SUCCESS"
    assert event.raw["notif_token_sha256"] == started.raw["notif_token_sha256"]
    assert notif_token_matches(started.raw["notif_token"], event)
    assert not notif_token_matches("another-token", event)
    assert not notif_token_matches("", event)


def test_form_encoded_notification(fake: FakeOrangeMoney) -> None:
    event = provider(fake).parse_webhook(b"status=FAILED&notif_token=abc&txnid=MP1", {})
    assert (event.status, event.raw["notif_token"], event.trusted) == (ProviderStatus.failed, "abc", False)


def test_notification_without_token_is_refused(fake: FakeOrangeMoney) -> None:
    with pytest.raises(SignatureInvalid):
        provider(fake).parse_webhook(b'{"status": "SUCCESS", "txnid": "MP1"}', {})


def test_refund_is_not_supported(fake: FakeOrangeMoney) -> None:
    om = provider(fake)
    ref = om.start(request()).provider_ref
    with pytest.raises(ProviderError, match="cannot be refunded") as caught:
        om.refund(ref, 5000, idempotency_key="refund-1")
    assert not caught.value.retryable


def test_only_xof(fake: FakeOrangeMoney) -> None:
    with pytest.raises(ProviderError):
        provider(fake).start(StartRequest(**{**request().__dict__, "currency": "EUR"}))


def test_sandbox_uses_the_dev_path_and_ouv() -> None:
    om = OrangeMoneyProvider({**CREDENTIALS, "environment": "dev"})
    assert om.currency == "OUV"


def test_missing_credentials() -> None:
    with pytest.raises(ProviderError, match="merchant_key"):
        OrangeMoneyProvider({"client_id": "a", "client_secret": "b"})


def test_malformed_reference_is_refused(fake: FakeOrangeMoney) -> None:
    with pytest.raises(ProviderError):
        provider(fake).fetch_status("not-a-ref")


def test_timeout_is_retryable(fake: FakeOrangeMoney) -> None:
    fake.delay = 1.0
    with pytest.raises(ProviderError) as caught:
        provider(fake, timeout=0.2).start(request())
    assert caught.value.retryable


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (502, True), (400, False), (403, False)])
def test_http_errors(fake: FakeOrangeMoney, status: int, retryable: bool) -> None:
    om = provider(fake)
    ref = om.start(request()).provider_ref
    fake.fail_with = (status, {"code": 1, "message": "boom"})
    with pytest.raises(ProviderError) as caught:
        om.fetch_status(ref)
    assert caught.value.retryable is retryable


def test_bad_client_credentials_are_not_retryable(fake: FakeOrangeMoney) -> None:
    om = OrangeMoneyProvider({**CREDENTIALS, "client_id": "nope"}, base_url=fake.url)
    with pytest.raises(ProviderError) as caught:
        om.start(request())
    assert not caught.value.retryable
    assert "om-secret" not in str(caught.value)
