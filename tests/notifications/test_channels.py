"""The channel adapters over real sockets: the HTTP SMS gateway against a local fake, SMTP against
aiosmtpd."""

from __future__ import annotations

import email
import time

import pytest

from notifications.channels import (
    HttpSmsGateway,
    OutboxChannel,
    Outgoing,
    PermanentError,
    SmtpChannel,
    TransientError,
    channel_for,
)
from tests.notifications.fakes import free_port, gateway, smtp_server

SMS = Outgoing(reference="abc123", recipient="+221771234567", body="Bonjour", receipt_url="https://m.sn/r")


def test_gateway_posts_json_with_token_and_sender_and_returns_its_id():
    with gateway() as fake:
        sent = HttpSmsGateway(fake.url + "/send", token="t0k", sender="MUTUELLE").send(SMS)
    assert (sent.provider, sent.provider_message_id, sent.delivered) == ("http", "gw-1", False)
    seen = fake.last("/send")
    assert seen.method == "POST" and seen.headers["Authorization"] == "Bearer t0k"
    assert seen.headers["Idempotency-Key"] == "abc123"
    assert seen.json() == {
        "from": "MUTUELLE", "to": "+221771234567", "text": "Bonjour", "reference": "abc123",
        "callback_url": "https://m.sn/r",
    }  # fmt: skip


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_gateway_server_errors_and_rate_limits_are_transient(status):
    with (
        gateway(failures=[(status, {"message": "busy"})]) as fake,
        pytest.raises(TransientError, match=str(status)),
    ):
        HttpSmsGateway(fake.url, token=None, sender="M").send(SMS)


def test_gateway_refusals_are_permanent():
    with gateway(failures=[(400, {"message": "invalid number"})]) as fake, pytest.raises(PermanentError):
        HttpSmsGateway(fake.url, token=None, sender="M").send(SMS)


def test_gateway_timeout_and_closed_port_are_transient():
    with gateway() as fake:
        fake.delay = 1.0
        started = time.monotonic()
        with pytest.raises(TransientError, match="timeout"):
            HttpSmsGateway(fake.url, token=None, sender="M", timeout=0.2).send(SMS)
        assert time.monotonic() - started < 1.0
    with pytest.raises(TransientError):
        HttpSmsGateway(f"http://127.0.0.1:{free_port()}", token=None, sender="M", timeout=1).send(SMS)


def _smtp(port: int) -> SmtpChannel:
    return SmtpChannel("127.0.0.1", port, sender="Mbolo <no-reply@mbolo.sn>", security="none", timeout=5)


def test_smtp_sends_a_plain_text_mail():
    with smtp_server() as (mailbox, port):
        sent = _smtp(port).send(
            Outgoing(reference="ref42", recipient="awa@exemple.sn", subject="Paiement reçu", body="Merci.\n")
        )
    assert sent.provider == "smtp" and sent.provider_message_id and "ref42" in sent.provider_message_id
    (envelope,) = mailbox.messages
    assert envelope.rcpt_tos == ["awa@exemple.sn"] and envelope.mail_from == "no-reply@mbolo.sn"
    parsed = email.message_from_bytes(envelope.content)
    assert str(email.header.make_header(email.header.decode_header(parsed["Subject"]))) == "Paiement reçu"
    assert parsed.get_payload(decode=True).decode().strip() == "Merci."


def test_smtp_temporary_reply_is_transient_refused_recipient_is_permanent():
    with smtp_server(busy=1) as (_mailbox, port):
        with pytest.raises(TransientError, match="451"):
            _smtp(port).send(Outgoing(reference="r", recipient="awa@exemple.sn", body="x"))
        with pytest.raises(PermanentError, match="refused"):
            _smtp(port).send(Outgoing(reference="r", recipient="nobody@refused.sn", body="x"))
    with pytest.raises(TransientError):
        _smtp(free_port()).send(Outgoing(reference="r", recipient="awa@exemple.sn", body="x"))


def test_without_configuration_the_outbox_is_the_channel(app, settings):
    with app.app_context():
        settings(MBOLO_SMS_GATEWAY_URL="", MBOLO_SMTP_HOST="")
        assert isinstance(channel_for("sms"), OutboxChannel)
        assert isinstance(channel_for("email"), OutboxChannel)
        settings(MBOLO_SMS_GATEWAY_URL="http://127.0.0.1:9/send", MBOLO_SMTP_HOST="127.0.0.1")
        assert isinstance(channel_for("sms"), HttpSmsGateway) and isinstance(
            channel_for("email"), SmtpChannel
        )
