"""Providers by name for a tenant. The embedded Sandbox is always there and is the default; another provider
is offered only once a mutual has configured its credentials: the encrypted ``provider_credentials`` table
(merchant-account screen), then ``MBOLO_PAYMENT_PROVIDERS`` (``{slug: {name: {...credentials}}}``) as a
fallback for tests and development.

Adapters plug in with ``register(name, factory)``, ``factory(tenant, credentials) -> PaymentProvider``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app

from payments.providers.base import PaymentProvider
from tenants.context import TenantRef

Factory = Callable[[TenantRef, dict[str, Any]], PaymentProvider]

DEFAULT = "sandbox"
_factories: dict[str, Factory] = {}
LABELS: dict[str, str] = {"sandbox": "Sandbox (démonstration)"}


def register(name: str, factory: Factory, label: str | None = None) -> None:
    """Make provider ``name`` available to the mutuals that configure it."""
    _factories[name] = factory
    if label:
        LABELS[name] = label


def _configured(tenant: TenantRef) -> dict[str, dict[str, Any]]:
    """The mutual's enabled merchant accounts from the encrypted table (``payments.credentials``) when the
    session is in that tenant's context; ``MBOLO_PAYMENT_PROVIDERS`` fills in what the table lacks (tests)."""
    table = current_app.config.get("MBOLO_PAYMENT_PROVIDERS") or {}
    found = dict(table.get(tenant.slug) or {})
    from app.extensions import db
    from payments.credentials import configured, credentials_for
    from tenants.context import current_tenant_of

    active = current_tenant_of(db.session)
    if active is not None and active.slug == tenant.slug:
        for row in configured(db.session):
            if not row.enabled:
                found.pop(row.provider, None)  # disabled on the screen: off, whatever the config says
                continue
            values = credentials_for(db.session, tenant, row.provider)
            if values is not None:
                found[row.provider] = values
    return found


def enabled(tenant: TenantRef) -> list[str]:
    """The providers a member of ``tenant`` may pay with, the default first."""
    names = [DEFAULT] + [n for n in _configured(tenant) if n in _factories and n != DEFAULT]
    return names


def provider_for(tenant: TenantRef, name: str) -> PaymentProvider:
    """The adapter of ``name`` with the tenant's credentials; KeyError for one it has not enabled."""
    if name not in enabled(tenant):
        raise KeyError(name)
    return _factories[name](tenant, _configured(tenant).get(name) or {})


def _sandbox(tenant: TenantRef, credentials: dict[str, Any]) -> PaymentProvider:
    from payments.providers.sandbox import SandboxProvider

    return SandboxProvider(tenant)


register(DEFAULT, _sandbox, LABELS[DEFAULT])


def _stripe(tenant: TenantRef, credentials: dict[str, Any]) -> PaymentProvider:
    from payments.providers.stripe_provider import StripeProvider

    return StripeProvider(credentials)


def _wave(tenant: TenantRef, credentials: dict[str, Any]) -> PaymentProvider:
    from payments.providers.wave import WaveProvider

    return WaveProvider(credentials)


def _orange_money(tenant: TenantRef, credentials: dict[str, Any]) -> PaymentProvider:
    from payments.providers.orange_money import OrangeMoneyProvider

    return OrangeMoneyProvider(credentials)


register("stripe", _stripe, "Carte bancaire (Stripe)")
register("wave", _wave, "Wave")
register("orange_money", _orange_money, "Orange Money")
