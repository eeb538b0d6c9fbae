"""Publish a tenant's indicators into ``public`` and roll them up the hierarchy.

``refresh_tenant`` computes the tenant's base measures inside its context (``compute``), then — outside any
tenant context, as the runtime role — replaces that tenant's facts for the recomputed months and rebuilds
the snapshots of every node of its subtree and of the nodes above it, level by level from the associations
up: a node's snapshot = its own facts + the sum of its children's snapshots. Incremental by default: only
the months that changes recorded since the last refresh can have touched (and always the current month) are
recomputed; ``full=True`` recomputes the whole history kept. Both are idempotent (replace, never add).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session, scoped_session

from app import clock
from app.security.actor import Actor
from hierarchy.models import Node
from hierarchy.supervision import compute as c
from hierarchy.supervision.models import Fact, Refresh
from tenants.context import TenantRef, bind_tenant, current_tenant_of, tenant_scope
from tenants.models import Tenant, TenantStatus

log = logging.getLogger(__name__)
AnySession = Session | scoped_session[Session]
#: Months kept in the snapshots on a first or full run (the dashboards show 12, reports compare a year).
HISTORY_MONTHS = 24
#: Changes committed while a refresh runs may carry earlier timestamps: the next run looks back this far.
WATERMARK_MARGIN = dt.timedelta(minutes=10)
ROLLUP_LOCK = 7_200_801  # pg_advisory_xact_lock key: one roll-up at a time (they share the upper nodes)


@dataclass(frozen=True)
class RefreshReport:
    tenant: str
    first_month: dt.date | None
    last_month: dt.date | None
    facts: int
    nodes: int
    seconds: float

    @property
    def months(self) -> int:
        if self.first_month is None or self.last_month is None:
            return 0
        return len(c.month_range(self.first_month, self.last_month))

    def as_dict(self) -> dict[str, object]:
        return {
            "tenant": self.tenant,
            "months": self.months,
            "facts": self.facts,
            "nodes": self.nodes,
            "first_month": self.first_month and self.first_month.isoformat(),
            "last_month": self.last_month and self.last_month.isoformat(),
            "seconds": round(self.seconds, 3),
        }


@contextmanager
def outside_tenant(session: AnySession) -> Iterator[None]:
    """Run the block with no tenant context (public tables, runtime role), then restore the previous one."""
    raw = session() if isinstance(session, scoped_session) else session
    previous = current_tenant_of(raw)
    bind_tenant(raw, None)
    try:
        yield
    finally:
        bind_tenant(raw, previous)


def refresh_tenant(
    session: AnySession, tenant: TenantRef, *, full: bool = False, today: dt.date | None = None
) -> RefreshReport:
    """Recompute and publish ``tenant``'s indicators (flushes; the caller commits)."""
    started = time.perf_counter()
    today = today or clock.today()
    current = c.month_start(today)
    with outside_tenant(session):
        federation_id = session.scalar(select(Tenant.federation_id).where(Tenant.id == tenant.id))
        state = session.get(Refresh, tenant.id)
        watermark = None if full or state is None else state.watermark
        previous_last = None if state is None else state.last_month
        new_watermark = session.scalar(select(func.now())) - WATERMARK_MARGIN
    with tenant_scope(session, tenant):
        earliest = c.earliest_month(session)
        floor = c.add_months(current, 1 - HISTORY_MONTHS)
        if watermark is None:
            first = max(earliest or current, floor)
        else:
            first = min(current, c.dirty_from(session, watermark) or current, previous_last or current)
            first = max(first, floor)
        facts = c.compute(session, federation_id=federation_id, first=first, last=current, today=today)
    with outside_tenant(session):
        rows = list(facts.rows())
        session.execute(
            delete(Fact).where(Fact.tenant_id == tenant.id, Fact.month >= first, Fact.month <= current)
        )
        if rows:
            session.execute(insert(Fact), [{**row, "tenant_id": tenant.id} for row in rows])
        nodes = rollup(session, federation_id, first, current)
        state = session.get(Refresh, tenant.id) or Refresh(tenant_id=tenant.id)
        state.watermark, state.last_month = new_watermark, current
        state.first_month = first if state.first_month is None else min(state.first_month, first)
        state.months = len(c.month_range(first, current))
        state.facts = len(rows)
        state.duration_ms = int((time.perf_counter() - started) * 1000)
        state.finished_at = dt.datetime.now(dt.UTC)
        session.add(state)
        session.flush()
    return RefreshReport(tenant.slug, first, current, len(rows), nodes, time.perf_counter() - started)


ROLLUP_SQL = text(
    """
INSERT INTO supervision_snapshots (node_id, month, measure, breakdown, value)
SELECT node_id, month, measure, breakdown, sum(value)
FROM (
  SELECT f.node_id, f.month, f.measure, f.breakdown, f.value FROM supervision_facts f
  WHERE f.node_id = ANY(CAST(:nodes AS int[])) AND f.month BETWEEN :first AND :last
  UNION ALL
  SELECT n.parent_id, s.month, s.measure, s.breakdown, s.value
  FROM supervision_snapshots s JOIN hierarchy_nodes n ON n.id = s.node_id
  WHERE n.parent_id = ANY(CAST(:nodes AS int[])) AND s.month BETWEEN :first AND :last
) x
GROUP BY node_id, month, measure, breakdown
HAVING sum(value) <> 0
"""
)


def rollup(session: AnySession, federation_id: int, first: dt.date, last: dt.date) -> int:
    """Rebuild the snapshots of the fédération's subtree and of its ancestors for ``first``…``last``,
    deepest level first. Returns how many nodes were rebuilt."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROLLUP_LOCK})
    federation = session.get(Node, federation_id)
    ancestors = [int(part) for part in federation.path.strip("/").split("/") if part]
    rows = session.execute(
        select(Node.id, Node.path).where((Node.path.startswith(federation.path)) | (Node.id.in_(ancestors)))
    ).all()
    by_depth: dict[int, list[int]] = {}
    for node_id, path in rows:
        by_depth.setdefault(path.count("/"), []).append(node_id)
    for depth in sorted(by_depth, reverse=True):
        ids = by_depth[depth]
        session.execute(
            text(
                "DELETE FROM supervision_snapshots WHERE node_id = ANY(CAST(:nodes AS int[])) "
                "AND month BETWEEN :first AND :last"
            ),
            {"nodes": ids, "first": first, "last": last},
        )
        session.execute(ROLLUP_SQL, {"nodes": ids, "first": first, "last": last})
    return len(rows)


def active_tenants(session: AnySession) -> list[TenantRef]:
    with outside_tenant(session):
        tenants = session.scalars(
            select(Tenant).where(Tenant.status != TenantStatus.archived).order_by(Tenant.slug)
        ).all()
        return [TenantRef.of(t) for t in tenants]


def refresh_all(
    session: AnySession,
    actor: Actor,
    *,
    full: bool = False,
    today: dt.date | None = None,
    commit: bool = True,
) -> list[RefreshReport]:
    """Refresh every tenant in turn (each committed on its own when ``commit``), then evaluate alerts."""
    from hierarchy.supervision import alerts

    reports = []
    for tenant in active_tenants(session):
        report = refresh_tenant(session, tenant, full=full, today=today)
        with outside_tenant(session):
            alerts.evaluate_after_refresh(session, actor, tenant, report.last_month)
        if commit:
            session.commit()
        reports.append(report)
    return reports
