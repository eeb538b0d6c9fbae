"""The embedded Sandbox: a simulated mobile-money provider for the demo and the tests. Its "phone" is a page
of the app (``/<slug>/paiements/sandbox/<ref>``); the answer is kept in the sandbox's own ledger
(``sandbox_charges``, read by ``fetch_status``) and notified through a webhook signed with HMAC-SHA256,
handed in-process to the same intake code as real providers. Unlike the real adapters it keeps state in
the tenant's database: it *is* the provider."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from flask import current_app, url_for
from sqlalchemy import select

from app.database import utcnow
from app.extensions import db
from payments.models import SandboxCharge
from payments.providers.base import (
    ProviderError,
    ProviderStatus,
    SignatureInvalid,
    StartRequest,
    StartResult,
    StatusResult,
    WebhookEvent,
)
from tenants.context import TenantRef

SIGNATURE_HEADER = "Sandbox-Signature"


def secret() -> bytes:
    """Per-app: derived from SECRET_KEY, so a sandbox webhook cannot be forged without it."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"mbolo-sandbox-webhook", hashlib.sha256).digest()


def sign(body: bytes) -> str:
    return hmac.new(secret(), body, hashlib.sha256).hexdigest()


class SandboxProvider:
    name = "sandbox"

    def __init__(self, tenant: TenantRef) -> None:
        self.tenant = tenant

    def _charge(self, provider_ref: str) -> SandboxCharge:
        charge = db.session.scalar(select(SandboxCharge).where(SandboxCharge.provider_ref == provider_ref))
        if charge is None:
            raise ProviderError(f"sandbox: unknown charge {provider_ref}")
        return charge

    def start(self, request: StartRequest) -> StartResult:
        ref = f"sbx_{uuid.uuid4().hex[:20]}"
        db.session.add(
            SandboxCharge(
                provider_ref=ref,
                payment_public_id=request.payment_id,
                amount=request.amount,
                currency=request.currency,
                description=request.description[:300],
                return_url=request.return_url,
            )
        )
        db.session.flush()
        url = url_for("payments.sandbox_phone", tenant_slug=self.tenant.slug, provider_ref=ref)
        return StartResult(provider_ref=ref, redirect_url=url, raw={"ref": ref})

    def fetch_status(self, provider_ref: str) -> StatusResult:
        charge = self._charge(provider_ref)
        return StatusResult(
            provider_ref=provider_ref,
            status=ProviderStatus(charge.status),
            amount=charge.amount,
            currency=charge.currency,
            refunded_amount=charge.refunded_amount,
            raw={"ref": provider_ref, "status": charge.status},
        )

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        given = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER.lower(), "")
        if not given or not hmac.compare_digest(given, sign(body)):
            raise SignatureInvalid("sandbox: bad signature")
        try:
            data: dict[str, Any] = json.loads(body)
            return WebhookEvent(
                event_id=str(data["event_id"]),
                provider_ref=str(data["ref"]),
                status=ProviderStatus(data["status"]),
                amount=data.get("amount"),
                currency=data.get("currency"),
                trusted=True,
                raw=data,
            )
        except (ValueError, KeyError, TypeError) as bad:
            raise SignatureInvalid(f"sandbox: unreadable event ({bad})") from bad

    def refund(self, provider_ref: str, amount: int, *, idempotency_key: str) -> StatusResult:
        charge = self._charge(provider_ref)
        if charge.status not in ("succeeded", "partially_refunded"):
            raise ProviderError("sandbox: nothing to refund")
        charge.refunded_amount = min(charge.amount, charge.refunded_amount + amount)
        charge.status = "refunded" if charge.refunded_amount >= charge.amount else "partially_refunded"
        db.session.flush()
        return self.fetch_status(provider_ref)

    # --- the simulated phone -----------------------------------------------------------------------------

    def answer(self, provider_ref: str, approve: bool) -> tuple[bytes, dict[str, str]]:
        """The phone's answer: kept in the ledger, returned as a signed webhook (body, headers)."""
        charge = self._charge(provider_ref)
        if charge.status == "pending":
            charge.status = "succeeded" if approve else "failed"
            charge.answered_at = utcnow()
            db.session.flush()
        body = json.dumps(
            {
                "event_id": f"evt_{uuid.uuid4().hex}",
                "ref": provider_ref,
                "status": charge.status,
                "amount": charge.amount,
                "currency": charge.currency,
            },
            sort_keys=True,
        ).encode()
        return body, {SIGNATURE_HEADER: sign(body)}
