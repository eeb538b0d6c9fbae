"""Delivery channels, each an adapter behind one small interface: ``send(Outgoing) -> Sent``.

- ``OutboxChannel`` (embedded default, no configuration): the stored row is the message; it is marked
  delivered to the outbox, where staff read it in the back office.
- ``HttpSmsGateway``: a generic JSON POST to ``MBOLO_SMS_GATEWAY_URL`` (bearer token, sender id, a callback
  URL for delivery receipts). 2xx → sent (a receipt reports delivery later); timeouts, connection errors,
  429 and 5xx → ``TransientError`` (retried with backoff); other 4xx → ``PermanentError``.
- ``SmtpChannel``: smtplib to ``MBOLO_SMTP_HOST`` (STARTTLS, implicit TLS or none). Temporary SMTP replies
  (4xx), timeouts and connection errors are transient; 5xx replies and refused recipients are permanent.
- In-portal messages need no channel: the row is the message, delivered when written.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import httpx

from notifications.config import setting


class DeliveryError(Exception):
    """A channel could not hand the message over. ``str(error)`` is stored as the message's last error."""


class TransientError(DeliveryError):
    """May succeed later: retried with exponential backoff until the maximum number of attempts."""


class PermanentError(DeliveryError):
    """Will never succeed as is (bad number, refused address): failed at once."""


@dataclass(frozen=True)
class Outgoing:
    reference: str  #: the message's public id (the gateway's client reference, the e-mail's Message-ID seed)
    recipient: str
    body: str
    subject: str = ""
    receipt_url: str | None = None


@dataclass(frozen=True)
class Sent:
    provider: str
    provider_message_id: str | None
    delivered: bool  #: True when handing over is delivery (outbox); False when a receipt may follow


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> Sent: ...


class OutboxChannel:
    name = "outbox"

    def send(self, message: Outgoing) -> Sent:
        return Sent(provider="outbox", provider_message_id=None, delivered=True)


class HttpSmsGateway:
    name = "http"

    def __init__(self, url: str, *, token: str | None, sender: str, timeout: float = 10.0) -> None:
        self.url, self.token, self.sender, self.timeout = url, token, sender, timeout

    def send(self, message: Outgoing) -> Sent:
        payload = {
            "from": self.sender,
            "to": message.recipient,
            "text": message.body,
            "reference": message.reference,
        }
        if message.receipt_url:
            payload["callback_url"] = message.receipt_url
        headers = {"Accept": "application/json", "Idempotency-Key": message.reference}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                response = client.post(self.url, json=payload, headers=headers)
        except httpx.TimeoutException as error:
            raise TransientError(f"SMS gateway: timeout ({type(error).__name__})") from error
        except httpx.HTTPError as error:
            raise TransientError(f"SMS gateway: {type(error).__name__}: {error}"[:300]) from error
        if response.status_code >= 500 or response.status_code in (408, 425, 429):
            raise TransientError(f"SMS gateway: HTTP {response.status_code} {response.text[:200]}")
        if response.status_code >= 300:
            raise PermanentError(f"SMS gateway: HTTP {response.status_code} {response.text[:200]}")
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        ident = None
        if isinstance(answer, dict):
            ident = answer.get("id") or answer.get("message_id") or answer.get("messageId")
        return Sent(provider="http", provider_message_id=str(ident)[:120] if ident else None, delivered=False)


class SmtpChannel:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        user: str | None = None,
        password: str | None = None,
        security: str = "starttls",
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.security, self.timeout = user, password, security, timeout

    def send(self, message: Outgoing) -> Sent:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject or message.body.splitlines()[0][:80]
        domain = self.sender.rsplit("@", 1)[-1].strip(" >") or "localhost"
        message_id = make_msgid(idstring=message.reference, domain=domain)
        email["Message-ID"] = message_id
        email.set_content(message.body)
        try:
            if self.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.user:
                    client.login(self.user, self.password or "")
                refused = client.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentError(f"SMTP: recipient refused {error.recipients}"[:300]) from error
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {error.smtp_code}: {error.smtp_error!r}"[:300]
            if 400 <= error.smtp_code < 500:
                raise TransientError(text) from error
            raise PermanentError(text) from error
        except (TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as error:
            raise TransientError(f"SMTP: {type(error).__name__}: {error}"[:300]) from error
        if refused:
            raise PermanentError(f"SMTP: recipient refused {sorted(refused)}"[:300])
        return Sent(provider="smtp", provider_message_id=message_id.strip("<>")[:120], delivered=False)


def sms_channel() -> Channel:
    url = setting("MBOLO_SMS_GATEWAY_URL")
    if not url:
        return OutboxChannel()
    return HttpSmsGateway(
        url,
        token=setting("MBOLO_SMS_GATEWAY_TOKEN"),
        sender=setting("MBOLO_SMS_SENDER"),
        timeout=setting("MBOLO_SMS_TIMEOUT"),
    )


def email_channel() -> Channel:
    host = setting("MBOLO_SMTP_HOST")
    if not host:
        return OutboxChannel()
    return SmtpChannel(
        host,
        setting("MBOLO_SMTP_PORT"),
        sender=setting("MBOLO_SMTP_FROM"),
        user=setting("MBOLO_SMTP_USER"),
        password=setting("MBOLO_SMTP_PASSWORD"),
        security=setting("MBOLO_SMTP_SECURITY"),
        timeout=setting("MBOLO_SMTP_TIMEOUT"),
    )


def channel_for(kind: str) -> Channel:
    if kind == "sms":
        return sms_channel()
    if kind == "email":
        return email_channel()
    raise ValueError(f"no delivery channel for {kind!r}")
