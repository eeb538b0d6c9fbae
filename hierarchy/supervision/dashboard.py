"""What the supervision pages show, read from the snapshots only (never from a tenant schema).

Without filters a node's figures are its own snapshot rows; with a sector or region filter they are summed
from the association facts of its subtree that match (the mutual-wide measures — subsidies owed by funders,
providers' invoices — follow the sector filter but cannot be split by region, so a region filter leaves
them out). Ratios are always computed from the summed numerators and denominators.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import format_decimal, format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select, text
from sqlalchemy.orm import Session, scoped_session

from app import clock
from app.errors import FieldError
from app.formatting import money
from app.security.actor import Actor
from hierarchy.models import Node, NodeKind
from hierarchy.supervision import catalogue as cat
from hierarchy.supervision.compute import add_months, month_range, month_start
from hierarchy.supervision.models import Alert, Refresh, Target
from tenants.models import Tenant

AnySession = Session | scoped_session[Session]
READ = "reports.read"
SPANS = {"mois": _l("Mois"), "trimestre": _l("Trimestre (à date)"), "annee": _l("Année (à date)")}
Monthly = dict[int, dict[dt.date, dict[str, int]]]
QUERY_ARGS = ("mois", "periode", "secteur", "region")  # the filters in a dashboard's query string


@dataclass(frozen=True)
class Filters:
    month: dt.date
    span: str = "mois"
    sector: str = ""
    region: str = ""

    @property
    def months(self) -> list[dt.date]:
        if self.span == "trimestre":
            start = self.month.replace(month=3 * ((self.month.month - 1) // 3) + 1)
        elif self.span == "annee":
            start = self.month.replace(month=1)
        else:
            start = self.month
        return month_range(start, self.month)

    @property
    def trend_months(self) -> list[dt.date]:
        return month_range(add_months(self.month, -11), self.month)

    @property
    def filtered(self) -> bool:
        return bool(self.sector or self.region)

    def query(self, **changes: str) -> dict[str, str]:
        values = {
            "mois": self.month.strftime("%Y-%m"),
            "periode": self.span,
            "secteur": self.sector,
            "region": self.region,
            **changes,
        }
        return {k: v for k, v in values.items() if v}


def parse_filters(month: str | None, span: str | None, sector: str | None, region: str | None) -> Filters:
    """Filters from the query string; a bad month is a field error (the page shows the current month)."""
    chosen = month_start(clock.today())
    if month:
        try:
            chosen = dt.date.fromisoformat(f"{month}-01")
        except ValueError:
            raise FieldError("mois", _l("Mois invalide : utilisez le format AAAA-MM.")) from None
    return Filters(
        chosen, span if span in SPANS else "mois", (sector or "").strip()[:40], (region or "").strip()[:80]
    )


# --- reading ----------------------------------------------------------------------------------------------


def monthly(session: AnySession, node_ids: list[int], months: list[dt.date], breakdown: str = "") -> Monthly:
    """node id → month → measure → value, from the snapshots."""
    found: Monthly = defaultdict(lambda: defaultdict(dict))
    if not node_ids or not months:
        return found
    rows = session.execute(
        text(
            "SELECT node_id, month, measure, value FROM supervision_snapshots "
            "WHERE node_id = ANY(CAST(:ids AS int[])) AND month BETWEEN :first AND :last AND breakdown = :b"
        ),
        {"ids": node_ids, "first": months[0], "last": months[-1], "b": breakdown},
    )
    for node_id, month, measure, value in rows:
        found[node_id][month][measure] = value
    return found


FILTERED_SQL = """
SELECT a.id AS anchor, f.month, f.measure, sum(f.value)::bigint AS value
FROM supervision_facts f
JOIN hierarchy_nodes n ON n.id = f.node_id
JOIN tenants t ON t.id = f.tenant_id
JOIN hierarchy_nodes a ON a.id = ANY(CAST(:ids AS int[])) AND n.path LIKE a.path || '%'
WHERE f.month BETWEEN :first AND :last AND f.breakdown = :b
  AND (:sector = '' OR t.sector = :sector)
  AND (:region = '' OR (n.kind = 'association' AND n.region = :region))
GROUP BY 1, 2, 3
"""


def monthly_filtered(
    session: AnySession, node_ids: list[int], months: list[dt.date], filters: Filters, breakdown: str = ""
) -> Monthly:
    """The same as ``monthly`` but summed from the facts that match the sector and region filters."""
    found: Monthly = defaultdict(lambda: defaultdict(dict))
    if not node_ids or not months:
        return found
    rows = session.execute(
        text(FILTERED_SQL),
        {
            "ids": node_ids,
            "first": months[0],
            "last": months[-1],
            "b": breakdown,
            "sector": filters.sector,
            "region": filters.region,
        },
    )
    for anchor, month, measure, value in rows:
        found[anchor][month][measure] = value
    return found


def read(
    session: AnySession,
    node_ids: list[int],
    months: list[dt.date],
    filters: Filters | None,
    breakdown: str = "",
) -> Monthly:
    if filters is not None and filters.filtered:
        return monthly_filtered(session, node_ids, months, filters, breakdown)
    return monthly(session, node_ids, months, breakdown)


def targets(session: AnySession, node_ids: list[int], year: int) -> dict[int, int]:
    rows = session.execute(
        select(Target.node_id, Target.population).where(Target.node_id.in_(node_ids), Target.year == year)
    )
    return {row[0]: row[1] for row in rows}


def values_of(measures: dict[str, int], target: int | None = None) -> dict[str, Decimal | int | None]:
    return {code: ind.value(measures, target) for code, ind in cat.INDICATORS.items()}


def show(indicator: cat.Indicator, value: Decimal | int | None) -> str:
    """An indicator's value as people read it ("—" when a ratio has nothing to divide by)."""
    if value is None:
        return "—"
    if indicator.unit == cat.XOF:
        return money(int(value))
    if indicator.unit == cat.PERCENT:
        return f"{format_decimal(value, format='#,##0.0')} %"
    if indicator.unit == cat.DAYS:
        return _("%(n)s j", n=format_decimal(value, format="#,##0.0"))
    if indicator.unit == cat.SCORE:
        return f"{format_decimal(value, format='0.0')} / 5"
    if indicator.unit == cat.RATIO:
        return format_decimal(value, format="#,##0.00")
    return format_number(int(value))


# --- SVG (server-rendered, a few hundred bytes each; no script, no inline style) ---------------------------


def sparkline(points: list[Decimal | int | None], width: int = 120, height: int = 28) -> Markup:
    known = [float(p) for p in points if p is not None]
    if len(known) < 2:
        return Markup("")
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = width / max(1, len(points) - 1)
    coords = " ".join(
        f"{i * step:.1f},{height - 2 - (float(p) - low) / span * (height - 4):.1f}"
        for i, p in enumerate(points)
        if p is not None
    )
    return Markup(  # noqa: S704 - built from numbers only
        f'<svg class="chart-spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-hidden="true"><polyline fill="none" stroke="currentColor" stroke-width="1.5" '
        f'points="{coords}"/></svg>'
    )


def bar(
    value: Decimal | int | None, maximum: Decimal | int | None, width: int = 100, height: int = 10
) -> Markup:
    if value is None or not maximum or float(maximum) <= 0:
        return Markup("")
    length = max(1.0, min(1.0, float(value) / float(maximum)) * width) if float(value) > 0 else 0.0
    return Markup(  # noqa: S704 - built from numbers only
        f'<svg class="chart-bar" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-hidden="true">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#e6ece9"/>'
        f'<rect x="0" y="0" width="{length:.1f}" height="{height}" fill="#1f6f54"/></svg>'
    )


# --- the page ---------------------------------------------------------------------------------------------


@dataclass
class Headline:
    indicator: cat.Indicator
    value: Decimal | int | None
    trend: list[Decimal | int | None]
    svg: Markup


@dataclass
class ChildRow:
    node: Node
    values: dict[str, Decimal | int | None]
    bars: dict[str, Markup]
    spark: Markup
    sector: str | None = None


@dataclass
class Dashboard:
    node: Node
    filters: Filters
    trail: list[Node]
    values: dict[str, Decimal | int | None]
    headline: list[Headline]
    sections: list[tuple[object, list[tuple[cat.Indicator, Decimal | int | None]]]]
    breakdowns: list[tuple[object, dict[str, int]]]
    children: list[ChildRow]
    target: int | None
    alerts: list[Alert]
    sectors: list[str]
    regions: list[str]
    refreshed_at: dt.datetime | None
    comparison: tuple[str, ...] = field(default=cat.COMPARISON)


def roots_in_reach(session: AnySession, actor: Actor) -> list[Node]:
    """The nodes whose subtree the actor supervises (the top of the tree for platform administrators)."""
    paths = actor.root_paths(READ)
    query = select(Node).order_by(Node.path)
    if paths is None:
        return list(session.scalars(query.where(Node.parent_id.is_(None))))
    tops = [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]
    return list(session.scalars(query.where(Node.path.in_(tops))))


def trail_of(session: AnySession, actor: Actor, node: Node) -> list[Node]:
    """The node's ancestors the actor may open (for the breadcrumb), top first."""
    ids = [int(p) for p in node.path.strip("/").split("/") if p][:-1]
    if not ids:
        return []
    nodes = {n.id: n for n in session.scalars(select(Node).where(Node.id.in_(ids)))}
    return [nodes[i] for i in ids if i in nodes and actor.can(READ, nodes[i].path)]


def build(session: AnySession, actor: Actor, node: Node, filters: Filters) -> Dashboard:
    """Everything the dashboard of ``node`` shows (the actor must hold reports.read on it)."""
    actor.require(READ, node.path)
    children = list(session.scalars(select(Node).where(Node.parent_id == node.id).order_by(Node.name)))
    sectors_by_federation = dict(session.execute(select(Tenant.federation_id, Tenant.sector)).all())
    if filters.sector and node.kind == NodeKind.ministry:
        children = [ch for ch in children if sectors_by_federation.get(ch.id) == filters.sector]
    trend = filters.trend_months
    months = sorted(set(trend) | set(filters.months))
    ids = [node.id] + [ch.id for ch in children]
    data = read(session, ids, months, filters)
    year = filters.month.year
    target_of = targets(session, ids, year)

    own = data.get(node.id, {})
    total = cat.aggregate(own, filters.months)
    values = values_of(total, target_of.get(node.id))
    by_month = [cat.aggregate(own, [m]) for m in trend]  # once, not once per headline indicator
    headline = []
    for code in cat.HEADLINE:
        indicator = cat.INDICATORS[code]
        points = [indicator.value(measures, target_of.get(node.id)) for measures in by_month]
        headline.append(Headline(indicator, values[code], points, sparkline(points)))
    sections = [
        (label, [(i, values[i.code]) for i in cat.INDICATORS.values() if i.section == key])
        for key, label in cat.SECTIONS.items()
    ]
    breakdowns = _breakdowns(session, node, filters)

    rows = []
    for child in children:
        child_months = data.get(child.id, {})
        child_values = values_of(cat.aggregate(child_months, filters.months), target_of.get(child.id))
        spark_points = [cat.aggregate(child_months, [m]).get("beneficiaries_active") for m in trend]
        rows.append(
            ChildRow(
                child, child_values, {}, sparkline(spark_points, 80, 20), sectors_by_federation.get(child.id)
            )
        )
    for code in cat.COMPARISON:
        top = max((r.values[code] for r in rows if r.values[code] is not None), default=None)
        for r in rows:
            r.bars[code] = bar(r.values[code], top, 60, 8)

    alerts = list(
        session.scalars(
            select(Alert)
            .join(Node, Node.id == Alert.node_id)
            .where(Node.path.startswith(node.path), Alert.status == "open")
            .order_by(Alert.raised_at.desc())
            .limit(20)
        )
    )
    sectors = sorted({s for s in sectors_by_federation.values() if s})
    regions = sorted(
        r
        for r in session.scalars(
            select(Node.region).distinct().where(Node.path.startswith(node.path), Node.region.is_not(None))
        )
        if r
    )
    refreshed_at = session.scalar(select(Refresh.finished_at).order_by(Refresh.finished_at.desc()).limit(1))
    return Dashboard(
        node,
        filters,
        trail_of(session, actor, node),
        values,
        headline,
        sections,
        breakdowns,
        rows,
        target_of.get(node.id),
        alerts,
        sectors,
        regions,
        refreshed_at,
    )


def _breakdowns(session: AnySession, node: Node, filters: Filters) -> list[tuple[object, dict[str, int]]]:
    """Adhérents and beneficiaries by sex and age band, for the period (stocks at its end, flows summed):
    one query for every breakdown."""
    months = filters.months
    if filters.filtered:
        sql = text(
            "SELECT f.breakdown, f.month, f.measure, sum(f.value)::bigint FROM supervision_facts f "
            "JOIN hierarchy_nodes n ON n.id = f.node_id JOIN tenants t ON t.id = f.tenant_id "
            "WHERE n.path LIKE :path || '%' AND f.month BETWEEN :first AND :last AND f.breakdown <> '' "
            "AND (:sector = '' OR t.sector = :sector) "
            "AND (:region = '' OR (n.kind = 'association' AND n.region = :region)) GROUP BY 1, 2, 3"
        )
    else:
        sql = text(
            "SELECT breakdown, month, measure, value FROM supervision_snapshots WHERE node_id = :node "
            "AND month BETWEEN :first AND :last AND breakdown <> ''"
        )
    found: dict[str, dict[dt.date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    rows = session.execute(
        sql,
        {
            "node": node.id,
            "path": node.path,
            "first": months[0],
            "last": months[-1],
            "sector": filters.sector,
            "region": filters.region,
        },
    )
    for breakdown, month, measure, value in rows:
        found[breakdown][month][measure] = value
    per_breakdown = {b: cat.aggregate(found.get(b, {}), months) for b in (*cat.SEXES, *cat.AGE_BANDS)}
    codes = (
        "adherents_active",
        "adherents_new",
        "adherents_left",
        "beneficiaries_active",
        "beneficiaries_new",
        "beneficiaries_left",
    )
    return [
        (cat.INDICATORS[code].label, {b: per_breakdown[b].get(code, 0) for b in per_breakdown})
        for code in codes
    ]


def set_target(session: AnySession, actor: Actor, node: Node, *, year: int, population: int) -> Target:
    """Set the population a node aims to cover in ``year`` (alerts.manage on the node)."""
    from app.audit.services import record_event

    actor.require("alerts.manage", node.path)
    if population is None or population <= 0:
        raise FieldError("population", _l("Indiquez une population strictement positive."))
    if not 2000 <= year <= 2100:
        raise FieldError("year", _l("Année invalide."))
    target = session.scalar(select(Target).where(Target.node_id == node.id, Target.year == year))
    before = None if target is None else {"population": target.population}
    if target is None:
        target = Target(node_id=node.id, year=year, population=population, updated_by_label=actor.label)
        session.add(target)
    target.population, target.updated_by_label = population, actor.label
    session.flush()
    record_event(
        session,
        actor,
        "supervision.target_set",
        target_type="node",
        target_id=node.public_id,
        platform=True,
        before=before,
        after={"year": year, "population": population},
    )
    return target
