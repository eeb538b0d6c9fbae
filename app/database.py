"""Model bases, database URLs and the two engines.

``SharedModel`` tables live in ``public``; ``TenantModel`` tables have no schema and resolve through the
per-transaction search_path to the current tenant's schema (see ``tenants/context.py``).

Two identities connect:
- the *owner* (``DATABASE_URL``): runs migrations and provisions tenants (creates roles and schemas);
- the *runtime role* ``<db>_app``: serves requests and tasks. It is NOINHERIT and a member of every tenant
  owner role, so it reaches a tenant's schema only after ``SET LOCAL ROLE`` to that tenant.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid

from sqlalchemy import Enum, MetaData, create_engine
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class SharedModel(DeclarativeBase):
    """Tables of the ``public`` schema: registry, hierarchy, accounts, grants, audit."""

    metadata = MetaData(schema="public", naming_convention=NAMING_CONVENTION)


class TenantModel(DeclarativeBase):
    """Tables of one tenant's schema; usable only inside a tenant scope."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def string_enum(kind: type[enum.StrEnum]) -> Enum:
    """An enum stored as its values in a VARCHAR: adding a value needs no migration (no PostgreSQL type)."""
    return Enum(kind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


def local_today() -> dt.date:
    """Today in Senegal (Africa/Dakar is UTC+0 all year, without daylight saving)."""
    return dt.datetime.now(dt.UTC).date()


def new_public_id() -> str:
    """Opaque identifier for URLs (no guessable sequence)."""
    return uuid.uuid4().hex


_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def safe_identifier(name: str) -> str:
    """Return ``name`` if it is a plain lowercase SQL identifier, else raise (never quote user input)."""
    if not _IDENT.fullmatch(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def normalise_url(raw: str) -> URL:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    url = make_url(raw.replace("postgres://", "postgresql://", 1))
    if url.get_backend_name() != "postgresql":
        raise ValueError("Mbolo runs on PostgreSQL only (DATABASE_URL must be postgresql://…)")
    return url.set(drivername="postgresql+psycopg")


def database_name(url: URL) -> str:
    return safe_identifier(url.database or "postgres")


def role_prefix(url: URL) -> str:
    """Roles are cluster-wide: prefix them with the database name so two databases never collide."""
    return database_name(url)[:24]


def runtime_role(url: URL) -> str:
    return f"{role_prefix(url)}_app"


def tenant_group_role(url: URL) -> str:
    """Group role every tenant owner belongs to: holds the grants on shared tables."""
    return f"{role_prefix(url)}_tenant"


def runtime_url(owner_url: URL, password: str | None) -> URL:
    return owner_url.set(username=runtime_role(owner_url), password=password)


def make_engine(url: URL, **kwargs: object) -> Engine:
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)
