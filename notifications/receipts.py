"""Delivery receipts of the HTTP SMS gateway, signed with the shared secret ``MBOLO_SMS_RECEIPT_SECRET``.

The gateway POSTs JSON ``{"id": <its message id>, "status": "delivered" | "failed" | …, "error": "…"}``
with the header ``X-Mbolo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``. A receipt
older or newer than five minutes is refused (a replayed receipt cannot be used later), as is any receipt
when no secret is configured. ``sign`` builds the header (for gateways, or a relay in front of one)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from notifications.config import setting

HEADER = "X-Mbolo-Signature"
TOLERANCE_SECONDS = 300


class ReceiptRefused(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify(body: bytes, headers: Mapping[str, str], *, now: float | None = None) -> dict[str, Any]:
    """The receipt's fields for ``services.record_receipt`` once its signature and age are checked."""
    secret = setting("MBOLO_SMS_RECEIPT_SECRET")
    if not secret:
        raise ReceiptRefused("receipts are not enabled (no MBOLO_SMS_RECEIPT_SECRET)", 403)
    parts = dict(part.split("=", 1) for part in (headers.get(HEADER) or "").split(",") if "=" in part)
    try:
        stamp = int(parts.get("t", ""))
    except ValueError:
        raise ReceiptRefused("missing or malformed signature", 401) from None
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise ReceiptRefused("bad signature", 401)
    if abs((time.time() if now is None else now) - stamp) > TOLERANCE_SECONDS:
        raise ReceiptRefused("receipt too old", 401)
    try:
        data = json.loads(body)
    except ValueError:
        raise ReceiptRefused("body is not JSON") from None
    if not isinstance(data, dict) or not data.get("id") or not data.get("status"):
        raise ReceiptRefused("id and status are required")
    error = data.get("error")
    return {
        "provider_message_id": str(data["id"])[:120],
        "status": str(data["status"])[:40],
        "error": str(error)[:500] if error else None,
    }
