"""A mutual's merchant accounts: each provider's credentials as JSON, sealed with AES-GCM in the tenant's
``provider_credentials`` table (AAD ``provider:<tenant>:<provider>``, so a row copied to another mutual or
provider no longer decrypts). Changing them is a critical function (``payments.configure``, step-up); the
audit log records which keys changed, never their values."""

from __future__ import annotations

import json
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.errors import FieldError
from app.security import crypto
from app.security.actor import Actor
from payments.models import ProviderCredential
from tenants.context import TenantRef

#: The keys each adapter cannot work without (optional extras such as ``environment`` are kept too).
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "stripe": ("secret_key", "webhook_secret"),
    "wave": ("api_key", "webhook_secret"),
    "orange_money": ("client_id", "client_secret", "merchant_key"),
}
#: Optional keys an adapter understands (shown on the screen, not required).
OPTIONAL_KEYS: dict[str, tuple[str, ...]] = {
    "stripe": (),
    "wave": (),
    "orange_money": ("environment", "currency", "lang"),
}
KEY_LABELS: dict[str, object] = {
    "secret_key": _l("Clé secrète"),
    "webhook_secret": _l("Secret des notifications (webhook)"),
    "api_key": _l("Clé d'API"),
    "client_id": _l("Identifiant client"),
    "client_secret": _l("Secret client"),
    "merchant_key": _l("Clé marchand"),
    "environment": _l("Environnement (sn ou dev)"),
    "currency": _l("Devise"),
    "lang": _l("Langue"),
}


def _aad(tenant: TenantRef, provider: str) -> bytes:
    return f"provider:{tenant.slug}:{provider}".encode()


def _row(session: Session, provider: str) -> ProviderCredential | None:
    return session.scalar(select(ProviderCredential).where(ProviderCredential.provider == provider))


def _open(tenant: TenantRef, row: ProviderCredential) -> dict[str, Any]:
    return dict(json.loads(crypto.decrypt(row.ciphertext, aad=_aad(tenant, row.provider))))


def set_credentials(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    provider: str,
    values: dict[str, Any],
    enabled: bool = True,
) -> ProviderCredential:
    """Store ``provider``'s credentials; a blank value keeps the stored one (secrets are never shown back,
    so the screen cannot re-send them). Raises ``FieldError`` for a missing required key."""
    if provider not in REQUIRED_KEYS:
        raise FieldError("provider", _l("Moyen de paiement inconnu."))
    allowed = REQUIRED_KEYS[provider] + OPTIONAL_KEYS[provider]
    row = _row(session, provider)
    current = _open(tenant, row) if row is not None else {}
    merged = dict(current)
    changed: list[str] = []
    for key in allowed:
        value = str(values.get(key) or "").strip()
        if value and value != current.get(key):
            merged[key] = value
            changed.append(key)
    for key in REQUIRED_KEYS[provider]:
        if not merged.get(key):
            raise FieldError(key, _l("Obligatoire pour ce moyen de paiement."))
    before = {"enabled": row.enabled} if row is not None else None
    sealed = crypto.encrypt(json.dumps(merged, sort_keys=True).encode(), aad=_aad(tenant, provider))
    if row is None:
        row = ProviderCredential(provider=provider, ciphertext=sealed)
        session.add(row)
    else:
        row.ciphertext = sealed
    row.enabled = enabled
    row.updated_by_label = actor.label[:200]
    session.flush()
    record_event(
        session,
        actor,
        "payments.credentials_changed",
        target_type="payment_provider",
        target_id=provider,
        before=before,
        after={"enabled": enabled},
        keys_changed=sorted(changed),
    )
    return row


def check_credentials(
    session: Session, tenant: TenantRef, provider: str, values: dict[str, Any]
) -> list[str]:
    """Which keys ``values`` would change, after checking nothing required would be missing: the screen
    calls this before the step-up, so errors show next to the fields. No secret leaves this function."""
    if provider not in REQUIRED_KEYS:
        raise FieldError("provider", _l("Moyen de paiement inconnu."))
    row = _row(session, provider)
    current = _open(tenant, row) if row is not None else {}
    typed = {k: str(values.get(k) or "").strip() for k in REQUIRED_KEYS[provider] + OPTIONAL_KEYS[provider]}
    for key in REQUIRED_KEYS[provider]:
        if not (typed[key] or current.get(key)):
            raise FieldError(key, _l("Obligatoire pour ce moyen de paiement."))
    return sorted(k for k, v in typed.items() if v and v != current.get(k))


def stored_keys(session: Session, provider: str) -> tuple[bool, bool]:
    """(configured, enabled) for the screen, without decrypting."""
    row = _row(session, provider)
    return (row is not None, bool(row is not None and row.enabled))


def credentials_for(session: Session, tenant: TenantRef, provider: str) -> dict[str, Any] | None:
    """The decrypted credentials of an enabled provider, or None (not configured, or disabled)."""
    row = _row(session, provider)
    if row is None or not row.enabled:
        return None
    return _open(tenant, row)


def configured(session: Session) -> list[ProviderCredential]:
    """Every stored merchant account (enabled or not), without decrypting anything."""
    return list(session.scalars(select(ProviderCredential).order_by(ProviderCredential.provider)))


def reencrypt_credentials(
    session: Session, tenant: TenantRef, actor: Actor, *, keys: crypto.Keyring | None = None
) -> int:
    """Re-seal the credentials not under the current MBOLO_ENCRYPTION_KEYS key (``mbolo keys rotate``, per
    mutual); how many were."""
    rows = [
        row
        for row in session.scalars(
            select(ProviderCredential).order_by(ProviderCredential.provider).with_for_update()
        )
        if crypto.needs_rotation(row.ciphertext, keys)
    ]
    for row in rows:
        row.ciphertext = crypto.reencrypt(row.ciphertext, aad=_aad(tenant, row.provider), keys=keys)
    session.flush()
    if rows:
        record_event(session, actor, "payments.credentials_resealed", count=len(rows))
    return len(rows)
