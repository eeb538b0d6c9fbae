"""The tenant registry (``public.tenants``)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import SharedModel, TenantModel, new_public_id, utcnow


class TenantStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"  #: answers with a clear page; data kept
    archived = "archived"  #: closed for good; data kept, schema untouched


class Tenant(SharedModel):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    slug: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(40))
    #: The fédération this mutual hangs under; it owns that node's subtree.
    federation_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_nodes.id"), unique=True)
    status: Mapped[TenantStatus] = mapped_column(
        Enum(TenantStatus, name="tenant_status", native_enum=False, length=20),
        default=TenantStatus.active,
    )
    schema_name: Mapped[str] = mapped_column(String(40), unique=True)
    owner_role: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    federation = relationship("Node", lazy="joined")


class TenantSetting(TenantModel):
    """A configuration value of one mutual (e.g. child age limit), kept in its own schema."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
