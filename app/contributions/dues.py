"""Dues (appels de cotisation) for a whole tenant, generated in SQL, and the funders' receivables.

``generate_dues`` prices every period of every subscription up to a date with one set-based
``INSERT … SELECT`` per chunk of households (adhérent id ranges, read by index ranges: a chunk never scans
the whole register): nothing crosses the wire but counts, and the unique key
``(subscription_id, kind, period_start)`` with ``ON CONFLICT DO NOTHING`` makes a second run (or a parallel
one, or a run resumed after a crash) create nothing twice. Each chunk is committed with its audit event, so
an interrupted run keeps what it did and the next one carries on.

Periods are aligned on the subscription's start date (a monthly subscription from 15 March: 15/03–14/04,
15/04–14/05, …; the 31st clamps to the month's last day, always counted from the start date so it never
drifts) with the rhythm of the tariff in force on that date; each period is priced with the version in force
on its own first day. Only periods after the last one already generated are looked at, so a run costs the
same in year five as in month one.

The pricing below must give exactly what ``app.contributions.pricing.price`` gives (a test compares them).
A due the household owes nothing on (fully subsidised, or nobody covered) is created ``paid``: the period
is on record, and nothing waits for a payment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, scoped_session

from app.audit.services import record_event
from app.contributions.pricing import COVERED_STATUSES, NO_RANK, RANK_PATTERN
from app.coverage.models import Periodicity
from app.security.actor import Actor
from tenants.context import TenantRef, tenant_scope

#: Adhérent ids per committed chunk: big enough for set-based speed, small enough to resume cheaply.
CHUNK_SIZE = 100_000
#: Memory for the sorts and hashes of one chunk (a batch job, one connection): keeps them off the disk.
WORK_MEM = "64MB"

_MONTHS = "CASE {0} " + " ".join(f"WHEN '{p.value}' THEN {p.months}" for p in Periodicity) + " END"
_COVERED = ", ".join(f"'{s}'" for s in sorted(COVERED_STATUSES))


def _months_upto(start: str, day: str) -> str:
    """SQL: the largest m with ``start + m months <= day`` (for ``day >= start``). ``date_part`` rather
    than ``EXTRACT``, which computes in numeric: this runs a million times per run."""
    months = (
        f"((date_part('year', {day}) - date_part('year', {start})) * 12"
        f" + date_part('month', {day}) - date_part('month', {start}))::int"
    )
    past = f"({start} + make_interval(months => {months}))::date > {day}"
    return f"({months} - CASE WHEN {past} THEN 1 ELSE 0 END)"


def _yyyymmdd(day: str) -> str:
    year, month, day_ = (f"date_part('{part}', {day})" for part in ("year", "month", "day"))
    return f"({year} * 10000 + {month} * 100 + {day_})::int"


def _born(birth_date: str, birth_year: str) -> str:
    """SQL: the birth date as a YYYYMMDD integer (a year alone counts from the 1st of July)."""
    return f"COALESCE({_yyyymmdd(birth_date)}, {birth_year} * 10000 + 701)"


def _age(born: str, day: str) -> str:
    """SQL: completed years on ``day``, as ``Member.age_on``, from both dates as YYYYMMDD integers: their
    difference divided by 10000 and rounded down (shifted so that integer division, which truncates,
    floors: someone born after ``day`` is -1, as in Python)."""
    return f"(({day} - {born} + 100000000) / 10000 - 10000)"


def _band(version_id: str, dimension: str, value: str) -> str:
    """SQL: the first band of the version holding ``value`` (NULL when none does); ``dimension`` is an SQL
    expression (a quoted literal, or a column)."""
    return (
        f"(SELECT b.amount FROM tariff_bands b WHERE b.version_id = {version_id}"
        f" AND b.dimension = {dimension} AND {value} BETWEEN b.low AND b.high"
        " ORDER BY b.low, b.high, b.id LIMIT 1)"
    )


#: Band lookups are precomputed for values in this range (ages, household sizes): a hash join instead of a
#: subquery per person. Values outside it (never seen in practice) still get the exact subquery.
_LOOKUP_LOW, _LOOKUP_HIGH = -5, 150


def _band_lookup(version_id: str, dimension: str) -> str:
    """SQL: the version's band amounts for every value of the precomputed range, as an array."""
    band = _band(version_id, f"'{dimension}'", "x.value")
    values = f"generate_series({_LOOKUP_LOW}, {_LOOKUP_HIGH}) AS x(value)"
    return f"ARRAY(SELECT {band} FROM {values} ORDER BY x.value)"


def _band_amount(amounts: str, version_id: str, dimension: str, value: str, flat: str) -> str:
    """SQL: the band amount for ``value`` from the precomputed array ``amounts``, or the flat amount —
    through the exact subquery beyond the precomputed range."""
    exact = _band(version_id, f"'{dimension}'", value)
    return (
        f"CASE WHEN {value} BETWEEN {_LOOKUP_LOW} AND {_LOOKUP_HIGH}"
        f" THEN COALESCE({amounts}[{value} - ({_LOOKUP_LOW}) + 1], {flat})"
        f" ELSE COALESCE({exact}, {flat}) END"
    )


#: Subsidies of a version computed inline (no join) up to this many; more take a subquery.
_INLINE_SUBSIDIES = 3


def _subsidy_total(row: str) -> str:
    """SQL: the sum of a due's raw subsidies (before the cap), from the version's arrays carried by ``row``
    (``sub_percents``, ``sub_amounts``, in subsidy id order)."""
    inline = " + ".join(
        f"COALESCE(CASE WHEN {row}.sub_percents[{i}] IS NOT NULL"
        f" THEN (2 * {row}.amount::bigint * {row}.sub_percents[{i}] + 100) / 200"
        f" ELSE {row}.sub_amounts[{i}] END, 0)"
        for i in range(1, _INLINE_SUBSIDIES + 1)
    )
    exact = (
        f"COALESCE((SELECT sum({_raw_subsidy(f'{row}.amount')}) FROM version_subsidies s"
        f" WHERE s.version_id = {row}.version_id), 0)"
    )
    return f"CASE WHEN cardinality({row}.sub_percents) > {_INLINE_SUBSIDIES} THEN {exact} ELSE {inline} END"


def _raw_subsidy(amount: str) -> str:
    """SQL (over ``version_subsidies s``): a percentage rounded half up, or the fixed amount."""
    return (
        f"CASE WHEN s.percent IS NOT NULL THEN (2 * {amount}::bigint * s.percent + 100) / 200"
        " ELSE COALESCE(s.amount, 0) END"
    )


def _version_in_force(alias: str, product: str, day: str) -> str:
    """SQL join condition: ``alias`` (of ``versions``) is the product's tariff in force on ``day``."""
    return (
        f"{alias}.product_id = {product} AND {alias}.effective_from <= {day}"
        f" AND ({alias}.next_from IS NULL OR {day} < {alias}.next_from)"
    )


def priced_periods(*, subs_columns: str = "", subs_joins: str = "", subs_where: str, after: str) -> str:
    """The CTEs ending in ``final``: one row per (subscription, period) with its version and amounts.

    Households are read by adhérent id range (``:lo`` … ``:hi``): a chunk's adhérents, their ayants droit
    and their subscriptions come from index range scans, never from a scan of the whole register.
    ``subs_where`` selects the subscriptions (``s``) and must bound ``s.start_date`` by ``until``;
    ``:through`` is the last day a period may start on; ``after`` is an SQL date (or NULL): only periods
    starting after it are priced."""
    rank = f"COALESCE(substring(m.number FROM '{RANK_PATTERN}')::int, {NO_RANK})"
    by_size = _band_amount("vv.size_amounts", "pv.version_id", "household_size", "c.n_covered", "pv.flat")
    return f"""
versions AS MATERIALIZED (
  SELECT v.id AS version_id, v.product_id, v.effective_from,
         lead(v.effective_from) OVER (PARTITION BY v.product_id ORDER BY v.effective_from) AS next_from,
         v.basis, v.amount AS flat, {_MONTHS.format("v.periodicity")} AS months, v.max_beneficiaries,
         v.child_age_limit, v.joining_fee,
         {_band_lookup("v.id", "age")} AS age_amounts,
         {_band_lookup("v.id", "household_size")} AS size_amounts,
         ARRAY(SELECT s.percent FROM version_subsidies s WHERE s.version_id = v.id ORDER BY s.id)
           AS sub_percents,
         ARRAY(SELECT s.amount FROM version_subsidies s WHERE s.version_id = v.id ORDER BY s.id)
           AS sub_amounts
  FROM product_versions v
),
subs AS MATERIALIZED (
  SELECT s.id AS subscription_id, s.member_id, s.product_id, s.start_date,
         LEAST(CAST(:through AS date), COALESCE(s.end_date, CAST(:through AS date))) AS until,
         gv.version_id AS grid_version_id, gv.months AS grid_months, gv.joining_fee,
         {after} AS after_day {subs_columns}
  FROM subscriptions s
  JOIN versions gv ON {_version_in_force("gv", "s.product_id", "s.start_date")}
  {subs_joins}
  WHERE s.member_id BETWEEN :lo AND :hi AND {subs_where}
),
spans AS (
  SELECT subs.*,
         CASE WHEN after_day IS NULL OR after_day < start_date THEN 0
              ELSE {_months_upto("start_date", "after_day")} / grid_months + 1 END AS k_from,
         {_months_upto("start_date", "until")} / grid_months AS k_to
  FROM subs
),
periods AS (
  SELECT sp.*, (sp.start_date + make_interval(months => k.k * sp.grid_months))::date AS period_start,
         ((sp.start_date + make_interval(months => (k.k + 1) * sp.grid_months))::date - 1) AS period_end
  FROM spans sp CROSS JOIN LATERAL generate_series(sp.k_from, sp.k_to) AS k(k)
),
pv AS MATERIALIZED (
  SELECT p.*, {_yyyymmdd("p.period_start")} AS period_day, v.version_id, v.basis, v.flat,
         v.months AS version_months, v.max_beneficiaries, v.child_age_limit, v.sub_percents, v.sub_amounts
  FROM periods p JOIN versions v ON {_version_in_force("v", "p.product_id", "p.period_start")}
),
household AS (
  SELECT m.id AS household_id, m.id AS person_id, TRUE AS is_principal, m.relationship, m.status,
         {_born("m.birth_date", "m.birth_year")} AS born, 0 AS rank
  FROM members m WHERE m.id BETWEEN :lo AND :hi AND m.principal_id IS NULL
  UNION ALL
  SELECT m.principal_id, m.id, FALSE, m.relationship, m.status, {_born("m.birth_date", "m.birth_year")},
         {rank}
  FROM members m WHERE m.principal_id BETWEEN :lo AND :hi
),
people AS (
  SELECT pv.subscription_id, pv.period_start, pv.version_id, pv.basis, pv.flat, pv.max_beneficiaries,
         pv.child_age_limit, h.person_id, h.is_principal, h.relationship, h.status, h.rank,
         {_age("h.born", "pv.period_day")} AS age
  FROM pv JOIN household h ON h.household_id = pv.member_id
  WHERE h.is_principal OR pv.basis <> 'per_adherent'
),
eligible AS (
  SELECT people.*,
         (status IN ({_COVERED}) AND NOT (relationship = 'child' AND child_age_limit IS NOT NULL
                                            AND age >= child_age_limit)) AS covered
  FROM people
),
numbered AS (
  SELECT eligible.*,
         covered AND (max_beneficiaries IS NULL OR row_number() OVER (
           PARTITION BY subscription_id, period_start ORDER BY NOT covered, rank, person_id
         ) <= max_beneficiaries) AS counted
  FROM eligible
),
counted AS (
  SELECT n.subscription_id, n.period_start,
         max(n.age) FILTER (WHERE n.is_principal) AS principal_age,
         count(*) FILTER (WHERE n.counted)::int AS n_covered,
         COALESCE(sum(CASE WHEN n.counted AND n.basis = 'per_beneficiary'
                           THEN {_band_amount("vv.age_amounts", "n.version_id", "age", "n.age", "n.flat")}
                      END), 0) AS person_sum
  FROM numbered n JOIN versions vv ON vv.version_id = n.version_id
  GROUP BY n.subscription_id, n.period_start
),
grossed AS (
  SELECT pv.*,
         (CASE pv.basis
            WHEN 'per_adherent'
              THEN {_band_amount("vv.age_amounts", "pv.version_id", "age", "c.principal_age", "pv.flat")}
            WHEN 'per_beneficiary' THEN c.person_sum
            ELSE {by_size}
          END)::bigint AS raw_amount
  FROM pv
  JOIN counted c ON c.subscription_id = pv.subscription_id AND c.period_start = pv.period_start
  JOIN versions vv ON vv.version_id = pv.version_id
),
amounts AS (
  SELECT grossed.*,
         (CASE WHEN version_months = grid_months THEN raw_amount
               ELSE (2 * raw_amount * grid_months + version_months) / (2 * version_months) END)::int AS amount
  FROM grossed
),
final AS (
  SELECT a.*, LEAST(a.amount, {_subsidy_total("a")})::int AS subsidy_amount
  FROM amounts a
)"""


def funder_shares(source: str, key: str) -> str:
    """SQL: one row per (row of ``source``, subsidy) with ``funder`` and its capped ``share``; ``source``
    has ``version_id`` and ``amount``, ``key`` names its columns identifying a due."""
    return f"""
SELECT x.*, GREATEST(0, LEAST(x.raw, x.amount - COALESCE(sum(x.raw) OVER (
         PARTITION BY {key} ORDER BY x.subsidy_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)))::int
       AS share
FROM (SELECT f.*, s.id AS subsidy_id, s.funder, {_raw_subsidy("f.amount")} AS raw
      FROM {source} f JOIN version_subsidies s ON s.version_id = f.version_id) x"""


_GENERATION_WHERE = """(s.status = 'active' OR s.end_date IS NOT NULL)
    AND s.start_date <= LEAST(CAST(:through AS date), COALESCE(s.end_date, CAST(:through AS date)))"""

GENERATE = text(
    "WITH"
    + priced_periods(
        subs_joins="""LEFT JOIN LATERAL (
    SELECT max(d.period_start) AS last_start FROM dues d
    WHERE d.subscription_id = s.id AND d.kind = 'contribution'
  ) last ON TRUE""",
        subs_where=_GENERATION_WHERE,
        after="last.last_start",
    )
    + """,
contributions AS (
  INSERT INTO dues (subscription_id, member_id, version_id, kind, period_start, period_end, due_date, amount,
                    subsidy_amount, member_amount, paid_amount, status, created_at)
  SELECT subscription_id, member_id, version_id, 'contribution', period_start, period_end, period_start,
         amount, subsidy_amount, amount - subsidy_amount, 0,
         CASE WHEN amount - subsidy_amount = 0 THEN 'paid' ELSE 'open' END, now()
  FROM final
  ON CONFLICT (subscription_id, kind, period_start) DO NOTHING
  RETURNING period_start
),
fees AS (
  INSERT INTO dues (subscription_id, member_id, version_id, kind, period_start, period_end, due_date, amount,
                    subsidy_amount, member_amount, paid_amount, status, created_at)
  SELECT subscription_id, member_id, grid_version_id, 'joining_fee', start_date, start_date, start_date,
         joining_fee, 0, joining_fee, 0, 'open', now()
  FROM subs WHERE joining_fee > 0
  ON CONFLICT (subscription_id, kind, period_start) DO NOTHING
  RETURNING period_start
)
SELECT (SELECT count(*) FROM contributions) AS created,
       (SELECT count(*) FROM fees) AS created_fees,
       (SELECT min(period_start) FROM contributions) AS first_period,
       (SELECT COALESCE(sum(k_to + 1), 0) FROM spans) AS expected,
       (SELECT count(*) FROM subs WHERE joining_fee > 0) AS expected_fees,
       (SELECT count(*) FROM subs) AS subscriptions"""
)


@dataclass
class GenerationReport:
    """What one run did: dues created, and dues of the period range that were already there."""

    created: int = 0
    skipped: int = 0
    joining_fees: int = 0  # among ``created``
    subscriptions: int = 0
    chunks: int = 0
    first_period: dt.date | None = None  # earliest period start created (for the receivables' refresh)


def end_of_month(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def generate_dues(
    connection_or_session: Session | scoped_session[Session] | Connection,
    tenant: TenantRef,
    *,
    through: dt.date,
    chunk_size: int = CHUNK_SIZE,
    actor: Actor | None = None,
) -> GenerationReport:
    """Create the dues of every subscription of ``tenant`` for every period starting on or before
    ``through`` (and the joining fees), chunk by chunk of households (adhérent id ranges), each chunk
    committed with its audit event. Idempotent: a second run creates nothing. Commits itself, by design
    (like an import job)."""
    actor = actor or Actor.system("contributions.generate_dues")
    if isinstance(connection_or_session, Connection):
        with Session(bind=connection_or_session) as own:
            return generate_dues(own, tenant, through=through, chunk_size=chunk_size, actor=actor)
    session: Any = connection_or_session
    report = GenerationReport()
    with tenant_scope(session, tenant):
        low, high = session.execute(text("SELECT min(member_id), max(member_id) FROM subscriptions")).one()
        session.commit()
        if low is None:
            return report
        for lo in range(low, high + 1, chunk_size):
            hi = lo + chunk_size - 1
            session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            row = session.execute(GENERATE, {"lo": lo, "hi": hi, "through": through}).one()
            created = int(row.created) + int(row.created_fees)
            report.chunks += 1
            report.created += created
            report.joining_fees += int(row.created_fees)
            report.skipped += int(row.expected) + int(row.expected_fees) - created
            report.subscriptions += int(row.subscriptions)
            if row.first_period is not None:
                report.first_period = min(row.first_period, report.first_period or row.first_period)
            if created:
                record_event(
                    session, actor, "contributions.dues_generated", target_type="households",
                    target_id=f"{lo}-{hi}",
                    after={"through": through.isoformat(), "contributions": int(row.created),
                           "joining_fees": int(row.created_fees)},
                )  # fmt: skip
            session.commit()
    return report


def generate_household_dues(
    session: Session | scoped_session[Session], principal_id: int, *, through: dt.date, actor: Actor
) -> int:
    """The same generation for one household, inside the caller's transaction and tenant scope (a new
    subscription at the counter: its first dues can be paid at once). Returns how many were created."""
    row = session.execute(GENERATE, {"lo": principal_id, "hi": principal_id, "through": through}).one()
    created = int(row.created) + int(row.created_fees)
    if created:
        record_event(
            session, actor, "contributions.dues_generated", target_type="household", target_id=principal_id,
            after={"through": through.isoformat(), "contributions": int(row.created),
                   "joining_fees": int(row.created_fees)},
        )  # fmt: skip
    return created


# --- subsidy receivables -----------------------------------------------------------------------------------

REFRESH_RECEIVABLES = text(
    """
WITH due_rows AS (
  SELECT d.id, d.version_id, d.amount, date_trunc('month', d.period_start)::date AS month
  FROM dues d
  WHERE d.kind = 'contribution' AND d.status <> 'cancelled' AND d.period_start >= :since
),
shares AS ("""
    + funder_shares("due_rows", "x.id")
    + """
),
computed AS (
  SELECT funder, month, sum(share)::bigint AS amount FROM shares GROUP BY funder, month
),
upserted AS (
  INSERT INTO subsidy_receivables AS r (funder, period_start, amount, status, received_amount, updated_at)
  SELECT funder, month, amount, 'expected', 0, now() FROM computed
  ON CONFLICT (funder, period_start) DO UPDATE SET amount = EXCLUDED.amount, updated_at = now()
  WHERE r.amount <> EXCLUDED.amount
  RETURNING r.funder, r.period_start, r.amount
),
emptied AS (
  UPDATE subsidy_receivables r SET amount = 0, updated_at = now()
  WHERE r.period_start >= :since AND r.amount <> 0
    AND NOT EXISTS (SELECT 1 FROM computed c WHERE c.funder = r.funder AND c.month = r.period_start)
  RETURNING r.funder, r.period_start, r.amount
)
SELECT funder, period_start, amount FROM upserted UNION ALL SELECT funder, period_start, amount FROM emptied
ORDER BY period_start, funder"""
)


def refresh_subsidy_receivables(
    session: Session | scoped_session[Session],
    tenant: TenantRef,
    *,
    since: dt.date | None = None,
    actor: Actor | None = None,
) -> list[tuple[str, dt.date, int]]:
    """Upsert what each funder owes per month, from the dues (each due's version subsidies, as priced);
    a receivable's status, claim and receipt are kept, only its amount follows the dues. ``since``
    (rounded down to its month) limits the months recomputed. Returns the (funder, month, amount) changed.
    Flushes, never commits."""
    actor = actor or Actor.system("contributions.receivables")
    start = (since or dt.date(1900, 1, 1)).replace(day=1)
    with tenant_scope(session, tenant):
        session.flush()
        changed = [
            (row.funder, row.period_start, row.amount)
            for row in session.execute(REFRESH_RECEIVABLES, {"since": start})
        ]
        session.expire_all()  # SubsidyReceivable rows read before now carry the old amounts
        if changed:
            record_event(
                session, actor, "contributions.receivables_refreshed", target_type="subsidy_receivables",
                target_id=start.isoformat(),
                after={"changed": [{"funder": f, "month": m.isoformat(), "amount": a}
                                   for f, m, a in changed]},
            )  # fmt: skip
            session.flush()
    return changed
