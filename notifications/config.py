"""Notification settings: the Flask config first (tests set it there), then the environment.

| variable | default | meaning |
|---|---|---|
| MBOLO_SMS_GATEWAY_URL | unset → the outbox is the channel | JSON POST endpoint of the SMS gateway |
| MBOLO_SMS_GATEWAY_TOKEN | — | sent as ``Authorization: Bearer <token>`` |
| MBOLO_SMS_SENDER | ``MBOLO`` | sender id (alphanumeric, ≤ 11 characters) |
| MBOLO_SMS_RECEIPT_SECRET | — | HMAC-SHA256 secret of delivery receipts (unset: receipts refused) |
| MBOLO_SMS_TIMEOUT | 10 | seconds per gateway call |
| MBOLO_SMTP_HOST | unset → the outbox is the channel | SMTP relay |
| MBOLO_SMTP_PORT | 587 | |
| MBOLO_SMTP_USER / MBOLO_SMTP_PASSWORD | — | login, if the relay needs one |
| MBOLO_SMTP_SECURITY | ``starttls`` | ``starttls``, ``ssl`` (implicit TLS, port 465) or ``none`` |
| MBOLO_SMTP_FROM | ``Mbolo <no-reply@localhost>`` | From: header |
| MBOLO_SMTP_TIMEOUT | 10 | seconds |
| MBOLO_NOTIFY_MAX_ATTEMPTS | 5 | attempts before a message is failed with its last error |
| MBOLO_NOTIFY_BACKOFF_SECONDS | 30 | first retry delay, doubled at each attempt |
| MBOLO_NOTIFY_BACKOFF_MAX_SECONDS | 3600 | longest delay between two attempts |
| MBOLO_REMINDER_DAYS | 3 | days before a due date to remind (tenant setting notifications.reminder_days) |
"""

from __future__ import annotations

import os
from typing import Any

from flask import current_app, has_app_context

DEFAULTS: dict[str, Any] = {
    "MBOLO_SMS_GATEWAY_URL": None,
    "MBOLO_SMS_GATEWAY_TOKEN": None,
    "MBOLO_SMS_SENDER": "MBOLO",
    "MBOLO_SMS_RECEIPT_SECRET": None,
    "MBOLO_SMS_TIMEOUT": 10.0,
    "MBOLO_SMTP_HOST": None,
    "MBOLO_SMTP_PORT": 587,
    "MBOLO_SMTP_USER": None,
    "MBOLO_SMTP_PASSWORD": None,
    "MBOLO_SMTP_SECURITY": "starttls",
    "MBOLO_SMTP_FROM": "Mbolo <no-reply@localhost>",
    "MBOLO_SMTP_TIMEOUT": 10.0,
    "MBOLO_NOTIFY_MAX_ATTEMPTS": 5,
    "MBOLO_NOTIFY_BACKOFF_SECONDS": 30.0,
    "MBOLO_NOTIFY_BACKOFF_MAX_SECONDS": 3600.0,
    "MBOLO_REMINDER_DAYS": 3,
}


def setting(name: str) -> Any:
    """The value of ``name``, converted to the type of its default; empty strings count as unset."""
    value: Any = None
    if has_app_context():
        value = current_app.config.get(name)
    if value in (None, ""):
        value = os.environ.get(name)
    default = DEFAULTS[name]
    if value in (None, ""):
        return default
    if isinstance(default, bool):
        return str(value).lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return str(value)


def backoff_seconds(attempts: int) -> float:
    """Delay before the next attempt after ``attempts`` failed ones: base × 2^(attempts − 1), capped."""
    base, cap = setting("MBOLO_NOTIFY_BACKOFF_SECONDS"), setting("MBOLO_NOTIFY_BACKOFF_MAX_SECONDS")
    return float(min(cap, base * 2 ** max(0, attempts - 1)))
