"""Tenant slugs: the only source of schema and role names, so they are validated before anything else."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from app.errors import FieldError

SLUG_PATTERN = re.compile(r"[a-z0-9_]{2,30}")

#: First URL segments the platform uses itself; a tenant cannot take them.
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "static",
        "hierarchie",
        "connexion",
        "deconnexion",
        "healthz",
        "readyz",
        "langue",
        "public",
        "pg_catalog",
        "information_schema",
        "compte",
        "portail",
        "vendor",
    }
)


def validate_slug(raw: str) -> str:
    """Return the slug if valid; raise ``FieldError`` with a message for the user otherwise."""
    if not isinstance(raw, str) or not SLUG_PATTERN.fullmatch(raw):
        raise FieldError(
            "slug",
            _l("Identifiant invalide : 2 à 30 caractères parmi a-z, 0-9 et _ (sans espace ni accent)."),
        )
    if raw in RESERVED_SLUGS or raw.startswith("pg_"):
        raise FieldError("slug", _l("Cet identifiant est réservé par la plateforme."))
    return raw


def schema_name(slug: str) -> str:
    return f"t_{validate_slug(slug)}"


def owner_role_name(prefix: str, slug: str) -> str:
    return f"{prefix}_t_{validate_slug(slug)}"
