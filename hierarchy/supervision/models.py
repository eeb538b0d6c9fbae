"""Supervision tables (``public``): base facts per tenant, node and month; their roll-up per node; the
refresh watermark per tenant; population targets; alert rules and alerts."""

from __future__ import annotations

import datetime as dt
import decimal

from sqlalchemy import BigInteger, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import SharedModel, new_public_id, utcnow


class Fact(SharedModel):
    """One additive base measure of one association (or of the whole mutual, at its fédération) for one
    month, as computed inside the tenant. ``breakdown`` is '' (total), 'F'/'M' or an age band 'a0-4'…"""

    __tablename__ = "supervision_facts"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_nodes.id"), primary_key=True)
    month: Mapped[dt.date] = mapped_column(primary_key=True)
    measure: Mapped[str] = mapped_column(String(40), primary_key=True)
    breakdown: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    value: Mapped[int] = mapped_column(BigInteger)


class Snapshot(SharedModel):
    """A measure summed over a node's subtree for one month (what the dashboards read)."""

    __tablename__ = "supervision_snapshots"

    node_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_nodes.id"), primary_key=True)
    month: Mapped[dt.date] = mapped_column(primary_key=True)
    measure: Mapped[str] = mapped_column(String(40), primary_key=True)
    breakdown: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    value: Mapped[int] = mapped_column(BigInteger)


class Refresh(SharedModel):
    """Where a tenant's snapshots stand: changes after ``watermark`` are not in them yet."""

    __tablename__ = "supervision_refreshes"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    watermark: Mapped[dt.datetime | None]
    first_month: Mapped[dt.date | None]
    last_month: Mapped[dt.date | None]
    months: Mapped[int] = mapped_column(default=0)
    facts: Mapped[int] = mapped_column(default=0)
    duration_ms: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[dt.datetime | None]


class Target(SharedModel):
    """The population a node aims to cover in a year (coverage = active beneficiaries / population)."""

    __tablename__ = "supervision_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_nodes.id"))
    year: Mapped[int]
    population: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_label: Mapped[str] = mapped_column(String(200))


class AlertRule(SharedModel):
    __tablename__ = "supervision_alert_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    node_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_nodes.id"))
    kind: Mapped[str] = mapped_column(String(40))
    threshold: Mapped[decimal.Decimal] = mapped_column(Numeric(14, 2))
    #: "self" (the rule's node) or a node kind below it ("association", "league", "federation").
    applies_to: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_label: Mapped[str] = mapped_column(String(200))

    node = relationship("Node", lazy="joined")


class Alert(SharedModel):
    __tablename__ = "supervision_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    rule_id: Mapped[int] = mapped_column(ForeignKey("supervision_alert_rules.id"))
    node_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_nodes.id"))
    month: Mapped[dt.date]
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[decimal.Decimal] = mapped_column(Numeric(14, 2))
    threshold: Mapped[decimal.Decimal] = mapped_column(Numeric(14, 2))
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="open")
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    acknowledged_by_label: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(String(1000))

    node = relationship("Node", lazy="joined")
    rule = relationship(AlertRule, lazy="joined")
