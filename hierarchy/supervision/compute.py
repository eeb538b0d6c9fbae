"""The base measures of one tenant, per association and month, computed by set-based SQL *inside* the
tenant's context (its role and search path): nothing here writes, and nothing reads another schema.

Complaints and care are read only when their tables exist in the tenant's schema (their issues add them).
Months are first days of month; a month's stocks are taken at its end, or now for the current month.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from hierarchy.supervision.catalogue import MEASURES

Key = tuple[int, dt.date, str, str]  # node id, month, measure, breakdown


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.month - 1 + months, 12)
    return dt.date(day.year + year, month + 1, 1)


def month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    months, current = [], month_start(first)
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    return months


AGE_BAND_SQL = """CASE WHEN age < 5 THEN 'a0-4' WHEN age < 18 THEN 'a5-17' WHEN age < 40 THEN 'a18-39'
                       WHEN age < 60 THEN 'a40-59' ELSE 'a60+' END"""

MEMBERS_SQL = f"""
WITH lefts AS (
  SELECT m.id, COALESCE((SELECT max(e.effective_on) FROM member_status_events e
                         WHERE e.member_id = m.id AND e.to_status = m.status),
                        (m.status_changed_at AT TIME ZONE 'UTC')::date) AS left_on
  FROM members m WHERE m.status IN ('left', 'deceased')
), base AS (
  SELECT m.association_id, m.principal_id IS NULL AS adh, m.sex, m.birth_year,
         date_trunc('month', m.enrolled_on)::date AS em, date_trunc('month', l.left_on)::date AS lm,
         count(*) AS n
  FROM members m LEFT JOIN lefts l ON l.id = m.id
  WHERE m.status <> 'pending' AND m.enrolled_on < CAST(:after AS date)
  GROUP BY 1, 2, 3, 4, 5, 6
), months AS (
  SELECT generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 month')::date AS mo
)
SELECT mo.mo, b.association_id, b.adh, b.sex, {AGE_BAND_SQL} AS band,
       sum(b.n) FILTER (WHERE b.lm IS NULL OR b.lm > mo.mo) AS active,
       sum(b.n) FILTER (WHERE b.em = mo.mo) AS new,
       sum(b.n) FILTER (WHERE b.lm = mo.mo) AS gone
FROM base b JOIN months mo ON b.em <= mo.mo AND (b.lm IS NULL OR b.lm >= mo.mo)
CROSS JOIN LATERAL (SELECT extract(year FROM mo.mo)::int - b.birth_year AS age) a
GROUP BY 1, 2, 3, 4, 5
"""

DUES_SQL = """
SELECT date_trunc('month', d.period_start)::date AS mo, m.association_id,
       sum(d.member_amount)::bigint AS expected, sum(d.subsidy_amount)::bigint AS subsidy,
       sum(COALESCE(a.collected, 0))::bigint AS collected
FROM dues d
JOIN members m ON m.id = d.member_id
LEFT JOIN LATERAL (
  SELECT sum(al.amount) AS collected FROM allocations al
  JOIN contribution_payments p ON p.id = al.payment_id
  WHERE al.due_id = d.id AND al.reversed_at IS NULL AND p.status = 'valid'
) a ON TRUE
WHERE d.status <> 'cancelled'
  AND d.period_start >= CAST(:first AS date) AND d.period_start < CAST(:after AS date)
GROUP BY 1, 2
"""

#: Arrears at a month's end = households' part of the dues fallen due by then − what was allocated to them
#: by then; both sides grouped by the month from which they count, summed cumulatively in Python.
ARREARS_DUE_SQL = """
SELECT m.association_id, date_trunc('month', d.due_date)::date AS mo, sum(d.member_amount)::bigint AS amount
FROM dues d JOIN members m ON m.id = d.member_id
WHERE d.status <> 'cancelled' AND d.due_date < CAST(:today AS date)
GROUP BY 1, 2
"""
ARREARS_PAID_SQL = """
SELECT m.association_id,
       greatest(date_trunc('month', al.created_at AT TIME ZONE 'UTC'), date_trunc('month', d.due_date))::date
         AS mo,
       sum(al.amount)::bigint AS amount
FROM allocations al
JOIN contribution_payments p ON p.id = al.payment_id
JOIN dues d ON d.id = al.due_id
JOIN members m ON m.id = d.member_id
WHERE al.reversed_at IS NULL AND p.status = 'valid' AND d.status <> 'cancelled'
  AND d.due_date < CAST(:today AS date)
GROUP BY 1, 2
"""

PAYMENTS_SQL = """
SELECT date_trunc('month', received_on)::date AS mo, association_id, sum(amount)::bigint AS amount
FROM contribution_payments
WHERE status = 'valid' AND received_on >= CAST(:first AS date) AND received_on < CAST(:after AS date)
GROUP BY 1, 2
"""

RECEIVABLES_SQL = """
SELECT date_trunc('month', period_start)::date AS mo, sum(amount)::bigint AS amount,
       sum(received_amount)::bigint AS received
FROM subsidy_receivables
WHERE period_start >= CAST(:first AS date) AND period_start < CAST(:after AS date)
GROUP BY 1
"""

#: ``cutoff``: the end of the month, or now for the current month.
COMPLAINTS_SQL = """
WITH months AS (
  SELECT mo, least((mo + interval '1 month')::timestamp AT TIME ZONE 'UTC', now()) AS cutoff
  FROM (SELECT generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 month')::date AS mo) s
)
SELECT mo.mo, c.association_id,
  count(*) FILTER (WHERE date_trunc('month', c.filed_at AT TIME ZONE 'UTC')::date = mo.mo) AS filed,
  count(*) FILTER (WHERE NOT COALESCE(least(c.answered_at, c.closed_at) < mo.cutoff, FALSE)) AS open,
  count(*) FILTER (WHERE NOT COALESCE(least(c.answered_at, c.closed_at) < mo.cutoff, FALSE)
                     AND ((c.ack_due_at < mo.cutoff AND NOT COALESCE(c.acknowledged_at < mo.cutoff, FALSE))
                          OR c.resolve_due_at < mo.cutoff)) AS overdue,
  count(*) FILTER (WHERE date_trunc('month', least(c.answered_at, c.closed_at) AT TIME ZONE 'UTC')::date
                         = mo.mo) AS resolved,
  count(*) FILTER (WHERE date_trunc('month', least(c.answered_at, c.closed_at) AT TIME ZONE 'UTC')::date
                         = mo.mo AND least(c.answered_at, c.closed_at) <= c.resolve_due_at) AS resolved_sla,
  count(c.rating) FILTER (WHERE date_trunc('month', c.rated_at AT TIME ZONE 'UTC')::date = mo.mo) AS ratings,
  COALESCE(sum(c.rating) FILTER (WHERE date_trunc('month', c.rated_at AT TIME ZONE 'UTC')::date = mo.mo), 0)
    AS rating_sum,
  count(*) FILTER (WHERE c.rating >= 4 AND date_trunc('month', c.rated_at AT TIME ZONE 'UTC')::date = mo.mo)
    AS satisfied
FROM complaints c JOIN months mo ON c.filed_at < mo.cutoff
GROUP BY 1, 2
"""

CARE_SQL = """
SELECT date_trunc('month', r.care_date)::date AS mo, m.association_id, count(DISTINCT r.id) AS records,
       COALESCE(sum(l.amount_asked), 0)::bigint AS asked,
       COALESCE(sum(l.amount_accepted) FILTER (WHERE l.outcome IN ('accepted', 'reduced')), 0)::bigint
         AS accepted
FROM care_records r
JOIN members m ON m.id = r.member_id
LEFT JOIN care_invoices i ON i.id = r.invoice_id
LEFT JOIN care_lines l ON l.record_id = r.id AND COALESCE(i.status, '') <> 'rejected'
WHERE r.care_date >= CAST(:first AS date) AND r.care_date < CAST(:after AS date)
GROUP BY 1, 2
"""

CEILINGS_SQL = """
WITH months AS (
  SELECT mo, least((mo + interval '1 month')::timestamp AT TIME ZONE 'UTC', now()) AS cutoff
  FROM (SELECT generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 month')::date AS mo) s
)
SELECT mo.mo, m.association_id, count(DISTINCT a.member_id) AS members
FROM ceiling_alerts a JOIN members m ON m.id = a.member_id
JOIN months mo ON a.raised_at < mo.cutoff AND (a.acknowledged_at IS NULL OR a.acknowledged_at >= mo.cutoff)
GROUP BY 1, 2
"""

INVOICES_SQL = """
SELECT mo, sum(submitted) AS submitted, sum(asked) AS asked, sum(validated) AS validated,
       sum(accepted) AS accepted, sum(hours) AS hours
FROM (
  SELECT date_trunc('month', submitted_at AT TIME ZONE 'UTC')::date AS mo, count(*) AS submitted,
         COALESCE(sum(amount_asked), 0) AS asked, 0 AS validated, 0 AS accepted, 0 AS hours
  FROM care_invoices WHERE submitted_at IS NOT NULL GROUP BY 1
  UNION ALL
  SELECT date_trunc('month', validated_at AT TIME ZONE 'UTC')::date, 0, 0, count(*),
         COALESCE(sum(amount_accepted), 0),
         COALESCE(sum(round(extract(epoch FROM validated_at - submitted_at) / 3600)), 0)
  FROM care_invoices WHERE validated_at IS NOT NULL AND submitted_at IS NOT NULL GROUP BY 1
) x
WHERE mo >= CAST(:first AS date) AND mo < CAST(:after AS date)
GROUP BY mo
"""

#: The earliest month a change since ``:since`` can have altered (NULL: nothing changed).
DIRTY_PARTS = {
    "members": "SELECT min(enrolled_on) FROM members WHERE created_at > :since",
    "member_status_events": "SELECT min(effective_on) FROM member_status_events WHERE at > :since",
    "dues": "SELECT min(least(period_start, due_date)) FROM dues WHERE created_at > :since",
    "allocations": """SELECT min(least(d.period_start, d.due_date)) FROM allocations al
                      JOIN dues d ON d.id = al.due_id
                      WHERE al.created_at > :since OR al.reversed_at > :since""",
    "contribution_payments": """SELECT min(received_on) FROM contribution_payments
                                WHERE created_at > :since OR cancelled_at > :since""",
    "subsidy_receivables": "SELECT min(period_start) FROM subsidy_receivables WHERE updated_at > :since",
    "complaints": "SELECT min(filed_at)::date FROM complaints WHERE updated_at > :since OR filed_at > :since",
    "care_records": "SELECT min(care_date) FROM care_records WHERE created_at > :since",
    "care_lines": """SELECT min(r.care_date) FROM care_lines l JOIN care_records r ON r.id = l.record_id
                     WHERE l.reviewed_at > :since""",
    "care_invoices": """SELECT min(least(period_start, (submitted_at AT TIME ZONE 'UTC')::date))
                        FROM care_invoices
                        WHERE greatest(submitted_at, checked_at, validated_at, paid_at) > :since""",
    "ceiling_alerts": """SELECT min(raised_at)::date FROM ceiling_alerts
                         WHERE greatest(raised_at, acknowledged_at) > :since""",
}


@dataclass
class TenantFacts:
    """The facts of one tenant for months ``first``…``last`` (rows: node id, month, measure, breakdown)."""

    first: dt.date
    last: dt.date
    values: dict[Key, int]

    def rows(self) -> Iterable[dict[str, object]]:
        for (node_id, month, measure, breakdown), value in self.values.items():
            if value:
                yield {
                    "node_id": node_id,
                    "month": month,
                    "measure": measure,
                    "breakdown": breakdown,
                    "value": int(value),
                }


def existing_tables(session: Session, names: Iterable[str]) -> set[str]:
    """Which of ``names`` exist in the current tenant's schema (the first on the search path)."""
    rows = session.execute(
        text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name = ANY(:names)"
        ),
        {"names": list(names)},
    )
    return {r[0] for r in rows}


def dirty_from(session: Session, since: dt.datetime) -> dt.date | None:
    """The earliest month touched by a change recorded after ``since`` (in the tenant's context)."""
    tables = existing_tables(session, set(DIRTY_PARTS))
    earliest: dt.date | None = None
    for table, sql in DIRTY_PARTS.items():
        if table not in tables:
            continue
        found = session.execute(text(sql), {"since": since}).scalar()
        if isinstance(found, dt.datetime):
            found = found.date()
        if found is not None and (earliest is None or found < earliest):
            earliest = found
    return month_start(earliest) if earliest else None


def earliest_month(session: Session) -> dt.date | None:
    found = session.execute(
        text("SELECT least((SELECT min(enrolled_on) FROM members), (SELECT min(period_start) FROM dues))")
    ).scalar()
    return month_start(found) if found else None


def compute(
    session: Session, *, federation_id: int, first: dt.date, last: dt.date, today: dt.date
) -> TenantFacts:
    """Every base measure of the tenant whose context the session is in, for months ``first``…``last``."""
    first, last = month_start(first), month_start(last)
    values: dict[Key, int] = defaultdict(int)
    params = {"first": first, "last": last, "after": add_months(last, 1), "today": today}
    months = month_range(first, last)

    for r in session.execute(text(MEMBERS_SQL), params):
        groups = ("adherents", "beneficiaries") if r.adh else ("beneficiaries",)
        for group in groups:
            for suffix, count in (("active", r.active), ("new", r.new), ("left", r.gone)):
                if not count:
                    continue
                code = f"{group}_{suffix}"
                for breakdown in ("", r.sex, r.band):
                    values[(r.association_id, r.mo, code, breakdown)] += int(count)

    for r in session.execute(text(DUES_SQL), params):
        values[(r.association_id, r.mo, "dues_expected", "")] += r.expected
        values[(r.association_id, r.mo, "dues_collected", "")] += r.collected
        values[(r.association_id, r.mo, "subsidies_due", "")] += r.subsidy

    _arrears(session, params, months, values)

    for r in session.execute(text(PAYMENTS_SQL), params):
        values[(r.association_id, r.mo, "payments_received", "")] += r.amount
    for r in session.execute(text(RECEIVABLES_SQL), params):
        values[(federation_id, r.mo, "subsidies_receivable", "")] += r.amount
        values[(federation_id, r.mo, "subsidies_received", "")] += r.received

    tables = existing_tables(
        session, {"complaints", "care_records", "care_lines", "care_invoices", "ceiling_alerts"}
    )
    if "complaints" in tables:
        for r in session.execute(text(COMPLAINTS_SQL), params):
            for code, value in (
                ("complaints_filed", r.filed),
                ("complaints_open", r.open),
                ("complaints_overdue", r.overdue),
                ("complaints_resolved", r.resolved),
                ("complaints_resolved_sla", r.resolved_sla),
                ("ratings_count", r.ratings),
                ("ratings_sum", r.rating_sum),
                ("ratings_satisfied", r.satisfied),
            ):
                values[(r.association_id, r.mo, code, "")] += int(value or 0)
    if {"care_records", "care_lines", "care_invoices"} <= tables:
        for r in session.execute(text(CARE_SQL), params):
            values[(r.association_id, r.mo, "care_records", "")] += r.records
            values[(r.association_id, r.mo, "care_amount_asked", "")] += r.asked
            values[(r.association_id, r.mo, "care_amount_accepted", "")] += r.accepted
        for r in session.execute(text(INVOICES_SQL), params):
            for code, value in (
                ("invoices_submitted", r.submitted),
                ("invoices_amount_asked", r.asked),
                ("invoices_validated", r.validated),
                ("invoices_amount_accepted", r.accepted),
                ("invoices_processing_hours", r.hours),
            ):
                values[(federation_id, r.mo, code, "")] += int(value or 0)
    if "ceiling_alerts" in tables:
        for r in session.execute(text(CEILINGS_SQL), params):
            values[(r.association_id, r.mo, "ceiling_alerts_open", "")] += r.members
    assert all(key[2] in MEASURES for key in values)
    return TenantFacts(first, last, dict(values))


def _arrears(
    session: Session, params: dict[str, object], months: list[dt.date], values: dict[Key, int]
) -> None:
    movements: dict[int, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for r in session.execute(text(ARREARS_DUE_SQL), params):
        movements[r.association_id][r.mo] += r.amount
    for r in session.execute(text(ARREARS_PAID_SQL), params):
        movements[r.association_id][r.mo] -= r.amount
    for association_id, by_month in movements.items():
        running, ordered = 0, sorted(by_month.items())
        index = 0
        for month in months:
            while index < len(ordered) and ordered[index][0] <= month:
                running += ordered[index][1]
                index += 1
            if running:
                values[(association_id, month, "arrears", "")] += running
