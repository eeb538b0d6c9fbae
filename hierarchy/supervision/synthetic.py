"""A year of synthetic activity for one tenant, written set-based in SQL (generate_series): households with
spouses and children spread over associations, enrolments through the months, one household in 25 leaving,
monthly dues, 80 % of them paid on time with their allocations, the State's receivables. Used by
``bench/supervision.py`` and the supervision tests; must run inside the tenant's context."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.coverage.models import Basis, Periodicity, Product, ProductVersion

ADHERENTS = """
INSERT INTO members (public_id, number, principal_id, relationship, last_name, first_names, sex, birth_year,
                     association_id, enrolled_on, status, status_changed_at, name_key, name_trigrams,
                     created_at, updated_at)
SELECT md5(:prefix || 'a' || i), :prefix || '-' || lpad(i::text, 7, '0') || '-00-X', NULL, 'principal',
       'DIOP',
       'Awa ' || i, CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END, 1950 + i % 56,
       (CAST(:associations AS int[]))[1 + i % cardinality(CAST(:associations AS int[]))],
       CAST(:start AS date) + (i * 7) % :days, CASE WHEN i % 25 = 0 THEN 'left' ELSE 'active' END, now(),
       'diop awa ' || i, ARRAY[]::varchar[], now(), now()
FROM generate_series(1, :n) AS i
"""
DEPENDANTS = """
INSERT INTO members (public_id, number, principal_id, relationship, last_name, first_names, sex, birth_year,
                     association_id, enrolled_on, status, status_changed_at, name_key, name_trigrams,
                     created_at, updated_at)
SELECT md5(r.rel || p.public_id), replace(p.number, '-00-', r.rank), p.id, r.rel, p.last_name,
       r.rel || ' ' || p.id,
       CASE WHEN r.rel = 'spouse' THEN 'F' ELSE CASE WHEN p.id % 2 = 0 THEN 'M' ELSE 'F' END END,
       CASE WHEN r.rel = 'child' THEN 2008 + p.id % 18 ELSE 1955 + p.id % 50 END, p.association_id,
       p.enrolled_on, p.status, now(), 'diop ' || r.rel || ' ' || p.id, ARRAY[]::varchar[], now(), now()
FROM members p CROSS JOIN (VALUES ('spouse', '-01-'), ('child', '-02-')) AS r(rel, rank)
WHERE p.principal_id IS NULL AND p.number LIKE :prefix || '-%' AND (r.rel = 'child' OR p.id % 2 = 0)
"""
LEFT_EVENTS = """
INSERT INTO member_status_events (member_id, from_status, to_status, reason, effective_on, at, actor_label)
SELECT id, 'active', 'left', 'synthetic', least(enrolled_on + 120, CAST(:today AS date)), now(), 'synthetic'
FROM members WHERE status = 'left' AND number LIKE :prefix || '-%'
"""
SUBSCRIPTIONS = """
INSERT INTO subscriptions (public_id, member_id, product_id, start_date, status, created_at, created_by_label)
SELECT md5('s' || m.public_id), m.id, :product, m.enrolled_on, 'active', now(), 'synthetic'
FROM members m WHERE m.principal_id IS NULL AND m.number LIKE :prefix || '-%'
"""
DUES = """
INSERT INTO dues (subscription_id, member_id, version_id, kind, period_start, period_end, due_date, amount,
                  subsidy_amount, member_amount, paid_amount, status, created_at)
SELECT s.id, s.member_id, :version, 'contribution', p.mo, (p.mo + interval '1 month - 1 day')::date,
       p.mo + 14, 3000, 1000, 2000, 0, 'open', now()
FROM subscriptions s
CROSS JOIN LATERAL (SELECT g::date AS mo FROM generate_series(date_trunc('month', s.start_date),
                                                              CAST(:last AS date), interval '1 month') g) p
WHERE s.product_id = :product
"""
PAYMENTS = """
INSERT INTO contribution_payments (public_id, member_id, amount, method, receipt_number, received_on,
                                   association_id, agent_label, status, unallocated, created_at)
SELECT md5('p' || d.id), d.member_id, d.member_amount, 'cash', :prefix || '-S-' || d.id,
       d.due_date - d.id % 10,
       m.association_id, 'synthetic', 'valid', 0, (d.due_date - d.id % 10)::timestamp AT TIME ZONE 'UTC'
FROM dues d JOIN members m ON m.id = d.member_id
WHERE d.version_id = :version AND d.id % 10 < 8 AND d.due_date - d.id % 10 < CAST(:today AS date)
"""
ALLOCATIONS = """
INSERT INTO allocations (payment_id, due_id, amount, created_at)
SELECT p.id, substr(p.receipt_number, length(:prefix) + 4)::int, p.amount, p.created_at
FROM contribution_payments p WHERE p.receipt_number LIKE :prefix || '-S-%'
"""
PAID = """
UPDATE dues d SET paid_amount = d.member_amount, status = 'paid'
FROM allocations a WHERE a.due_id = d.id AND d.version_id = :version
"""
RECEIVABLES = """
INSERT INTO subsidy_receivables (funder, period_start, amount, status, received_amount, updated_at)
SELECT 'État', period_start, sum(subsidy_amount),
       CASE WHEN period_start < CAST(:received_before AS date) THEN 'received' ELSE 'expected' END,
       CASE WHEN period_start < CAST(:received_before AS date) THEN sum(subsidy_amount) ELSE 0 END, now()
FROM dues WHERE version_id = :version GROUP BY period_start
ON CONFLICT DO NOTHING
"""


def populate(
    session: Session,
    *,
    associations: list[int],
    households: int,
    start: dt.date,
    months: int,
    today: dt.date,
    prefix: str = "SYN",
) -> dict[str, int]:
    """Write the activity (in the tenant's context); returns row counts. ``prefix`` keeps runs apart."""
    product = Product(code=f"{prefix}-P"[:20], name="Famille", valid_from=start)
    session.add(product)
    session.flush()
    version = ProductVersion(
        product_id=product.id,
        number=1,
        effective_from=start,
        basis=Basis.per_household,
        amount=3000,
        periodicity=Periodicity.monthly,
        max_beneficiaries=8,
        child_age_limit=21,
    )
    session.add(version)
    session.flush()
    last = (start.replace(day=1) + dt.timedelta(days=31 * (months - 1))).replace(day=1)
    params = {
        "prefix": prefix,
        "associations": associations,
        "n": households,
        "start": start,
        "days": 28 * months,
        "today": today,
        "product": product.id,
        "version": version.id,
        "last": last,
        "received_before": (last - dt.timedelta(days=58)).replace(day=1),
    }
    counts = {}
    for name, sql in (
        ("adherents", ADHERENTS),
        ("dependants", DEPENDANTS),
        ("left", LEFT_EVENTS),
        ("subscriptions", SUBSCRIPTIONS),
        ("dues", DUES),
        ("payments", PAYMENTS),
        ("allocations", ALLOCATIONS),
        ("paid", PAID),
        ("receivables", RECEIVABLES),
    ):
        counts[name] = session.execute(text(sql), params).rowcount
    return counts
