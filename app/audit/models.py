"""The audit log: an append-only, hash-chained table in ``public`` (platform and security events) and one
in each tenant schema (events about that tenant's data, so they travel with its backups).

The runtime roles may insert and read these rows, never update or delete them (``migrations/runner.py``);
``seq``, ``prev_hash`` and ``hash`` are assigned at flush time by ``app.audit.services`` (see
``app.audit.chain`` for what the hash covers).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.database import SharedModel, TenantModel, utcnow


class AuditColumns:
    """Columns of both tables: who (account, label, profiles@nodes), where (tenant, IP, user agent, request),
    what (action, target, outcome, details with ``before``/``after``) and when."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: Account id (no FK: the log must outlive anything it mentions).
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(200))
    #: The actor's grants as "profile@node, …" at the time of the event.
    actor_grants: Mapped[str] = mapped_column(String(500), default="", server_default="")
    tenant_slug: Mapped[str | None] = mapped_column(String(30), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    #: success, denied (401/403), refused (other refusals) or error.
    outcome: Mapped[str] = mapped_column(String(10), default="success", server_default="success")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    method: Mapped[str | None] = mapped_column(String(10))
    path: Mapped[str | None] = mapped_column(String(300))


class AuditEvent(AuditColumns, SharedModel):
    """The platform's chain. Rows written before the chain existed get their place from
    ``app.audit.services.seal_unchained`` (run by ``mbolo db upgrade``), hence the nullable chain columns."""

    __tablename__ = "audit_events"

    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class TenantAuditEvent(AuditColumns, TenantModel):
    """One tenant's chain, in its schema (owned by the database owner, not by the tenant's role)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


AuditRecord = AuditEvent | TenantAuditEvent
