"""Merchant accounts: encrypted at rest (bound to tenant and provider), changed only with a step-up, audited
without their values, read by the registry, re-sealed by key rotation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.errors import FieldError
from app.extensions import db
from app.security import crypto
from payments import credentials
from payments.models import ProviderCredential
from payments.providers import registry
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM
from tests.fixtures.security import step_up

WAVE = {"api_key": "wave_sn_prod_SECRET123", "webhook_secret": "whsec_TOPSECRET456"}


def _audit(session: Session, action: str) -> list[TenantAuditEvent]:
    return list(
        session.scalars(
            select(TenantAuditEvent).where(TenantAuditEvent.action == action).order_by(TenantAuditEvent.id)
        )
    )


def test_credentials_are_encrypted_bound_and_audited_without_values(alpha, world):
    credentials.set_credentials(alpha, world.alpha, SYSTEM, "wave", WAVE)
    alpha.flush()
    row = alpha.scalar(select(ProviderCredential).where(ProviderCredential.provider == "wave"))
    assert row is not None and row.enabled
    for secret in WAVE.values():
        assert secret not in row.ciphertext
    opened = json.loads(crypto.decrypt(row.ciphertext, aad=b"provider:alpha:wave"))
    assert opened == WAVE
    with pytest.raises(crypto.DecryptionError):  # copied to another provider or mutual: useless
        crypto.decrypt(row.ciphertext, aad=b"provider:beta:wave")
    assert credentials.credentials_for(alpha, world.alpha, "wave") == WAVE
    assert "wave" in registry.enabled(world.alpha)

    event = _audit(alpha, "payments.credentials_changed")[-1]
    text = json.dumps(event.details)
    assert "SECRET123" not in text and "TOPSECRET456" not in text
    assert event.details["keys_changed"] == ["api_key", "webhook_secret"]
    alpha.rollback()


def test_blank_keeps_the_stored_value_and_missing_keys_are_refused(alpha, world):
    with pytest.raises(FieldError) as missing:
        credentials.set_credentials(alpha, world.alpha, SYSTEM, "stripe", {"secret_key": "sk_live_x"})
    assert missing.value.field == "webhook_secret"
    credentials.set_credentials(alpha, world.alpha, SYSTEM, "wave", WAVE)
    credentials.set_credentials(alpha, world.alpha, SYSTEM, "wave", {"api_key": "", "webhook_secret": "new"})
    assert credentials.credentials_for(alpha, world.alpha, "wave") == {**WAVE, "webhook_secret": "new"}
    assert _audit(alpha, "payments.credentials_changed")[-1].details["keys_changed"] == ["webhook_secret"]
    credentials.set_credentials(alpha, world.alpha, SYSTEM, "wave", {}, enabled=False)
    assert credentials.credentials_for(alpha, world.alpha, "wave") is None
    assert "wave" not in registry.enabled(world.alpha)
    alpha.rollback()


def test_key_rotation_reseals_the_credentials(alpha, world, app):
    credentials.set_credentials(alpha, world.alpha, SYSTEM, "wave", WAVE)
    old = list(app.config["MBOLO_ENCRYPTION_KEYS"])
    ring = [("k-new", b"n" * 32), *old]
    assert credentials.reencrypt_credentials(alpha, world.alpha, SYSTEM, keys=ring) == 1
    row = alpha.scalar(select(ProviderCredential).where(ProviderCredential.provider == "wave"))
    assert row is not None and crypto.key_id_of(row.ciphertext) == "k-new"
    assert json.loads(crypto.decrypt(row.ciphertext, aad=b"provider:alpha:wave", keys=ring)) == WAVE
    assert credentials.reencrypt_credentials(alpha, world.alpha, SYSTEM, keys=ring) == 0
    alpha.rollback()


def test_changing_an_account_on_the_screen_asks_for_a_step_up(app, world, login, make_staff):
    with app.app_context(), tenant_scope(db.session, world.alpha):  # the database outlives one test
        db.session.execute(delete(ProviderCredential))
        db.session.commit()
    admin = make_staff(("FED-A", "platform_admin"))
    client = login(admin.email)
    url = "/alpha/paiements/reglages/comptes/wave"
    assert client.get(url).status_code == 200
    assert client.post(url, data={"api_key": "only"}).status_code == 422  # checked before the step-up
    data = {**WAVE, "enabled": "y"}
    asked = client.post(url, data=data)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        assert credentials.credentials_for(db.session, world.alpha, "wave") is None  # nothing yet
    token = step_up(client, asked, admin.next_code())
    done = client.post(url, data={**data, "_stepup": token})
    assert done.status_code == 303, done.get_data(as_text=True)[:500]
    with app.app_context(), tenant_scope(db.session, world.alpha):
        assert credentials.credentials_for(db.session, world.alpha, "wave") == WAVE
    page = client.get(url).get_data(as_text=True)
    assert "SECRET123" not in page and "TOPSECRET456" not in page
    assert "Wave" in client.get("/alpha/paiements/reglages/").get_data(as_text=True)


def test_staff_without_the_permission_cannot_change_accounts(world, login):
    client = login("manager.a@test.sn")
    assert client.get("/alpha/paiements/reglages/comptes/wave").status_code == 403
