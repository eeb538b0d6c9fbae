"""Forecast and balance of contributions, and the funders' receivables.

- ``forecast``: what the subscriptions will call month by month over 1, 3, 6 or 12 months — priced by the
  same SQL as dues generation (so a forecast month is exactly what generation will create for it, with
  today's households), split between households and funders, per association in the actor's reach.
- ``balance``: for the dues of a period, expected (the households' part), collected (live allocations of
  valid payments), collection rate and arrears (what is still owed on dues past their due date), per
  association and rolled up per ligue.
- Receivables: what each funder owes per month (``dues.refresh_subsidy_receivables`` computes them) and where
  the claim stands; ``mark_receivable`` records a claim or a receipt.

Sums are computed in SQL and returned as plain values; nothing here writes but ``mark_receivable``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text
from sqlalchemy.orm import Session, scoped_session

from app import clock
from app.audit.services import record_event
from app.contributions.dues import WORK_MEM, funder_shares, priced_periods
from app.contributions.models import ReceivableStatus, SubsidyReceivable
from app.errors import FieldError, Forbidden, NotFound
from app.members.services import associations_in_reach, tenant_federation
from app.security.actor import Actor
from hierarchy.models import Node
from tenants.context import TenantRef

AnySession = Session | scoped_session[Session]
HORIZONS = (1, 3, 6, 12)
READ, RECORD = "contributions.read", "contributions.record"


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month ``months`` after ``day``'s month."""
    year, month = divmod(day.month - 1 + months, 12)
    return dt.date(day.year + year, month + 1, 1)


@dataclass(frozen=True)
class Amounts:
    """Dues (or forecast dues): gross amount, the funders' share, the households' part, how many."""

    amount: int = 0
    subsidy: int = 0
    member: int = 0
    dues: int = 0

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(
            self.amount + other.amount,
            self.subsidy + other.subsidy,
            self.member + other.member,
            self.dues + other.dues,
        )


def _sum(items: Iterable[Amounts]) -> Amounts:
    total = Amounts()
    for item in items:
        total = total + item
    return total


@dataclass(frozen=True)
class ForecastLine:
    node: Node
    months: list[Amounts]

    @property
    def total(self) -> Amounts:
        return _sum(self.months)


@dataclass(frozen=True)
class Forecast:
    start: dt.date
    months: list[dt.date]
    associations: list[ForecastLine]
    leagues: list[ForecastLine]
    totals: list[Amounts]  # per month, every association in reach
    funders: dict[str, list[int]] = field(default_factory=dict)  # funder → share per month

    @property
    def total(self) -> Amounts:
        return _sum(self.totals)


def _reach(session: AnySession, tenant: TenantRef, actor: Actor, permission: str = READ) -> list[Node]:
    nodes = associations_in_reach(session, actor, tenant, permission)  # type: ignore[arg-type]
    if not nodes:
        raise Forbidden(_l("Vous n'avez pas le droit d'effectuer cette action ici."))
    return nodes


def _leagues(associations: Sequence[Node]) -> list[Node]:
    """The ligues above these associations, by name."""
    found = {n.parent.id: n.parent for n in associations if n.parent is not None}
    return sorted(found.values(), key=lambda n: n.name)


FORECAST_SQL = text(
    "WITH"
    + priced_periods(
        subs_columns=", am.association_id",
        subs_joins="JOIN members am ON am.id = s.member_id",
        subs_where="""(s.status = 'active' OR s.end_date >= CAST(:window_from AS date))
    AND s.start_date <= LEAST(CAST(:through AS date), COALESCE(s.end_date, CAST(:through AS date)))
    AND am.association_id = ANY(CAST(:associations AS int[]))""",
        after="(CAST(:window_from AS date) - 1)",
    )
    + """,
shares AS ("""
    + funder_shares("final", "x.subscription_id, x.period_start")
    + """
)
SELECT 'due' AS what, association_id, date_trunc('month', period_start)::date AS month, NULL AS funder,
       sum(amount)::bigint AS amount, sum(subsidy_amount)::bigint AS subsidy, count(*) AS dues
FROM final GROUP BY association_id, 3
UNION ALL
SELECT 'fee', association_id, date_trunc('month', start_date)::date, NULL, sum(joining_fee)::bigint, 0,
       count(*)
FROM subs WHERE joining_fee > 0 AND start_date >= CAST(:window_from AS date) GROUP BY association_id, 3
UNION ALL
SELECT 'funder', NULL, date_trunc('month', period_start)::date, funder, sum(share)::bigint, 0, 0
FROM shares GROUP BY 3, funder"""
)


def forecast(session: AnySession, tenant: TenantRef, actor: Actor, months: int, start: dt.date) -> Forecast:
    """Expected dues per month for ``months`` months from ``start``'s month: the periods of the active
    subscriptions that start in each month (and joining fees of subscriptions starting then), priced with
    the tariff in force on each period's first day and today's households; subsidies go to their funders."""
    if months not in HORIZONS:
        raise FieldError("months", _l("Horizon : 1, 3, 6 ou 12 mois."))
    associations = _reach(session, tenant, actor)
    first = month_start(start)
    month_list = [add_months(first, i) for i in range(months)]
    through = add_months(first, months) - dt.timedelta(days=1)
    by_node: dict[int, list[Amounts]] = {n.id: [Amounts()] * months for n in associations}
    funders: dict[str, list[int]] = {}
    session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))  # sorts and hashes of a whole register
    rows = session.execute(
        FORECAST_SQL,
        {
            "window_from": first,
            "through": through,
            "associations": [n.id for n in associations],
            "lo": 0,
            "hi": 2**31 - 1,
        },  # every household: one pass over the register
    )
    for row in rows:
        index = month_list.index(row.month)
        if row.what == "funder":
            funders.setdefault(row.funder, [0] * months)[index] += int(row.amount)
            continue
        amount, subsidy = int(row.amount), int(row.subsidy)
        line = by_node[row.association_id]
        line[index] = line[index] + Amounts(amount, subsidy, amount - subsidy, int(row.dues))
    lines = [ForecastLine(n, by_node[n.id]) for n in associations]
    leagues = [
        ForecastLine(
            league,
            [
                _sum(line.months[i] for line in lines if line.node.parent_id == league.id)
                for i in range(months)
            ],
        )
        for league in _leagues(associations)
    ]
    totals = [_sum(line.months[i] for line in lines) for i in range(months)]
    return Forecast(first, month_list, lines, leagues, totals, dict(sorted(funders.items())))


# --- balance -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Collection:
    """Dues of a period: gross, subsidies, the households' part (expected), collected, still owed late."""

    dues: int = 0
    amount: int = 0
    subsidy: int = 0
    expected: int = 0
    collected: int = 0
    arrears: int = 0

    def __add__(self, other: Collection) -> Collection:
        return Collection(*(a + b for a, b in zip(self._values(), other._values(), strict=True)))

    def _values(self) -> tuple[int, ...]:
        return (self.dues, self.amount, self.subsidy, self.expected, self.collected, self.arrears)

    @property
    def rate(self) -> float | None:
        """Collected over the households' part (None when nothing is expected)."""
        return self.collected / self.expected if self.expected else None


@dataclass(frozen=True)
class BalanceLine:
    node: Node
    figures: Collection


@dataclass(frozen=True)
class Balance:
    period_start: dt.date
    period_end: dt.date
    as_of: dt.date
    associations: list[BalanceLine]
    leagues: list[BalanceLine]
    total: Collection
    receivables: list[SubsidyReceivable]


BALANCE_SQL = text(
    """
SELECT m.association_id, count(*) AS dues, sum(d.amount)::bigint AS amount,
       sum(d.subsidy_amount)::bigint AS subsidy, sum(d.member_amount)::bigint AS expected,
       sum(COALESCE(a.collected, 0))::bigint AS collected,
       sum(CASE WHEN d.due_date < :as_of THEN GREATEST(0, d.member_amount - COALESCE(a.collected, 0))
                ELSE 0 END)::bigint AS arrears
FROM dues d
JOIN members m ON m.id = d.member_id
LEFT JOIN LATERAL (
  SELECT sum(al.amount) AS collected FROM allocations al
  JOIN contribution_payments p ON p.id = al.payment_id
  WHERE al.due_id = d.id AND al.reversed_at IS NULL AND p.status = 'valid'
) a ON TRUE
WHERE d.status <> 'cancelled' AND d.period_start BETWEEN :period_start AND :period_end
  AND m.association_id = ANY(CAST(:associations AS int[]))
GROUP BY m.association_id"""
)


def balance(
    session: AnySession, tenant: TenantRef, actor: Actor, period_start: dt.date, period_end: dt.date
) -> Balance:
    """Expected against collected for the dues whose period starts between the two dates (cancelled dues
    left out), per association in the actor's reach and per ligue; arrears as of the business date. The
    funders' receivables of those months come along when the actor may see the mutual's."""
    if period_end < period_start:
        raise FieldError("period", _l("La fin de la période précède son début."))
    associations = _reach(session, tenant, actor)
    as_of = clock.today()
    found: dict[int, Collection] = {}
    for row in session.execute(
        BALANCE_SQL,
        {"period_start": period_start, "period_end": period_end, "as_of": as_of,
         "associations": [n.id for n in associations]},
    ):  # fmt: skip
        found[row.association_id] = Collection(
            int(row.dues), int(row.amount), int(row.subsidy), int(row.expected), int(row.collected),
            int(row.arrears),
        )  # fmt: skip
    lines = [BalanceLine(n, found.get(n.id, Collection())) for n in associations]
    leagues = [
        BalanceLine(league, sum((x.figures for x in lines if x.node.parent_id == league.id), Collection()))
        for league in _leagues(associations)
    ]
    receivables: list[SubsidyReceivable] = []
    if may_see_receivables(session, tenant, actor, READ):
        receivables = list_receivables(
            session, tenant, actor, since=month_start(period_start), until=period_end
        )
    return Balance(
        period_start, period_end, as_of, lines, leagues, sum((x.figures for x in lines), Collection()),
        receivables,
    )  # fmt: skip


# --- receivables -------------------------------------------------------------------------------------------


def may_see_receivables(session: AnySession, tenant: TenantRef, actor: Actor, permission: str) -> bool:
    """Receivables are the whole mutual's: the permission must hold at the mutual's level (its fédération)."""
    return actor.can(permission, tenant_federation(session, tenant).path)  # type: ignore[arg-type]


def list_receivables(
    session: AnySession,
    tenant: TenantRef,
    actor: Actor,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    status: str | None = None,
) -> list[SubsidyReceivable]:
    """What funders owe per month (newest first), optionally between two dates or in one status."""
    if not may_see_receivables(session, tenant, actor, READ):
        raise Forbidden(_l("Vous n'avez pas le droit d'effectuer cette action ici."))
    query = select(SubsidyReceivable).order_by(
        SubsidyReceivable.period_start.desc(), SubsidyReceivable.funder
    )
    if since is not None:
        query = query.where(SubsidyReceivable.period_start >= since)
    if until is not None:
        query = query.where(SubsidyReceivable.period_start <= until)
    if status:
        query = query.where(SubsidyReceivable.status == ReceivableStatus(status))
    return list(session.scalars(query))


def get_receivable(
    session: AnySession, tenant: TenantRef, actor: Actor, funder: str, month: dt.date
) -> SubsidyReceivable:
    if not may_see_receivables(session, tenant, actor, READ):
        raise Forbidden(_l("Vous n'avez pas le droit d'effectuer cette action ici."))
    found = session.scalar(
        select(SubsidyReceivable).where(
            SubsidyReceivable.funder == funder, SubsidyReceivable.period_start == month_start(month)
        )
    )
    if found is None:
        raise NotFound(_l("Créance introuvable."))
    return found


#: Where a receivable may go from each status (received is final; a claim may be withdrawn).
TRANSITIONS: dict[ReceivableStatus, frozenset[ReceivableStatus]] = {
    ReceivableStatus.expected: frozenset({ReceivableStatus.claimed, ReceivableStatus.received}),
    ReceivableStatus.claimed: frozenset({ReceivableStatus.received, ReceivableStatus.expected}),
    ReceivableStatus.received: frozenset(),
}


def mark_receivable(
    session: AnySession,
    tenant: TenantRef,
    actor: Actor,
    receivable: SubsidyReceivable,
    status: str | ReceivableStatus,
    received_amount: int | None,
    on: dt.date,
) -> SubsidyReceivable:
    """Record that a funder's receivable was claimed (on ``on``) or received (``received_amount`` on
    ``on``; part of it is possible), or withdraw a claim. Audited with before/after."""
    if not may_see_receivables(session, tenant, actor, RECORD):
        raise Forbidden(_l("Vous n'avez pas le droit d'effectuer cette action ici."))
    try:
        target = ReceivableStatus(str(status))
    except ValueError as bad:
        raise FieldError("status", _l("Statut inconnu.")) from bad
    if target not in TRANSITIONS[receivable.status]:
        raise FieldError("status", _l("Ce changement n'est pas possible depuis l'état actuel de la créance."))
    if on > clock.today():
        raise FieldError("on", _l("La date est dans le futur."))
    before = _state(receivable)
    if target is ReceivableStatus.received:
        if received_amount is None or received_amount <= 0:
            raise FieldError("received_amount", _l("Indiquez le montant reçu."))
        if received_amount > receivable.amount:
            raise FieldError("received_amount", _l("Le montant reçu dépasse la créance."))
        receivable.received_amount, receivable.received_on = received_amount, on
        receivable.claimed_on = receivable.claimed_on or on
    elif target is ReceivableStatus.claimed:
        receivable.claimed_on = on
    else:
        receivable.claimed_on = None
    receivable.status = target
    session.flush()
    record_event(
        session, actor, "contributions.receivable_marked", target_type="subsidy_receivable",
        target_id=f"{receivable.funder}:{receivable.period_start.isoformat()}",
        before=before, after=_state(receivable),
    )  # fmt: skip
    return receivable


def _state(receivable: SubsidyReceivable) -> dict[str, Any]:
    return {
        "status": str(receivable.status), "amount": receivable.amount,
        "claimed_on": receivable.claimed_on, "received_amount": receivable.received_amount,
        "received_on": receivable.received_on,
    }  # fmt: skip


# --- periods as people type them ---------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[TtQq]([1-4])$")


def parse_period(value: str) -> tuple[dt.date, dt.date]:
    """``2026-03`` (a month) or ``2026-T1`` (a quarter) → (first day, last day)."""
    raw = (value or "").strip()
    if month := _MONTH.fullmatch(raw):
        year, number = int(month.group(1)), int(month.group(2))
        if not 1 <= number <= 12:
            raise FieldError("period", _l("Mois inconnu."))
        start = dt.date(year, number, 1)
        return start, add_months(start, 1) - dt.timedelta(days=1)
    if quarter := _QUARTER.fullmatch(raw):
        start = dt.date(int(quarter.group(1)), 3 * int(quarter.group(2)) - 2, 1)
        return start, add_months(start, 3) - dt.timedelta(days=1)
    raise FieldError("period", _l("Période attendue : un mois (2026-03) ou un trimestre (2026-T1)."))
