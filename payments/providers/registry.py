"""Providers by name for a tenant. The embedded Sandbox is always there and is the default; another provider
is offered only once a mutual has configured its credentials (``MBOLO_PAYMENT_PROVIDERS``:
``{slug: {name: {...credentials}}}`` until the merchant-account screen stores them encrypted).

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
    table = current_app.config.get("MBOLO_PAYMENT_PROVIDERS") or {}
    return dict(table.get(tenant.slug) or {})


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
