"""Measure the claims side on the embedded PostgreSQL, in a database of its own: one mutual, one product of
ten acts (rates, a yearly ceiling per beneficiary, one per household, a frequency limit, prior approval),
twenty providers under convention, 10,000 households (one in five with a spouse and a child) subscribed since
January 2026, then 2,000 submitted invoices of 25 visits × 2 lines = 100,000 care lines in March 2026 (one
line in seven above the agreed price), all written with set-based SQL. Then:

1. ``check_invoices`` checks and values every line, 1,000 invoices (50,000 lines) per committed batch —
   lines per second;
2. 1,000 eligibility checks at a counter of random beneficiaries (``app.care.eligibility.check_member``,
   stored and audited like a real one; ``rights_on`` if that service is missing) — p95 latency.

Prints a table: figure, target, verdict.

    .venv/bin/python bench/care_claims.py [--invoices N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MBOLO_ENV", "test")

from sqlalchemy import func, select, text  # noqa: E402

from app.care import invoices  # noqa: E402
from app.care.claims_models import CareInvoice, CareLine  # noqa: E402
from app.coverage.models import (  # noqa: E402
    Basis,
    Benefit,
    BenefitCategory,
    Periodicity,
    Product,
    ProductBenefit,
    ProductVersion,  # noqa: E402
)
from app.extensions import db  # noqa: E402
from app.members.models import Member  # noqa: E402
from app.platform import owner_engine  # noqa: E402
from app.security.actor import Actor  # noqa: E402
from bench._common import fresh_app, print_table  # noqa: E402
from hierarchy import services as hierarchy  # noqa: E402
from hierarchy.services import NodeDetails  # noqa: E402
from migrations.runner import upgrade_all  # noqa: E402
from tenants.context import tenant_scope  # noqa: E402
from tenants.services import create_tenant  # noqa: E402

HOUSEHOLDS, INVOICES, VISITS, PER_BATCH = 10_000, 2_000, 25, 1_000
LINES_TARGET, P95_TARGET_MS = 2_000.0, 50.0
TODAY = "2026-04-30"

ACTS = (  # code, category, reference price, rule
    ("CONS", "consultation", 3000, {"rate_percent": 80}),
    ("CONS-SPE", "consultation", 7000, {"rate_percent": 70}),
    ("HOSP", "hospitalisation", 15000, {"rate_percent": 80, "ceiling_per_household_year": 60000}),
    ("LAB-NFS", "laboratory", 4000, {"rate_percent": 70}),
    ("LAB-GE", "laboratory", 1500, {"rate_percent": 100}),
    ("RADIO", "imaging", 10000, {"rate_percent": 70, "prior_approval": True}),
    ("DENT", "dental", 5000, {"rate_percent": 70, "ceiling_per_beneficiary_year": 8000}),
    ("OPT", "optical", 30000, {"rate_percent": 70, "frequency_count": 1, "frequency_months": 24}),
    ("PARA", "medicine", 200, {"rate_percent": 80}),
    ("AMOX", "medicine", 1500, {"rate_percent": 80}),
)

ADHERENTS = """
INSERT INTO members (public_id, number, principal_id, relationship, last_name, first_names, sex, birth_year,
                     association_id, enrolled_on, status, status_changed_at, name_key, name_trigrams,
                     created_at, updated_at)
SELECT md5('a' || i), 'BEN-' || lpad(i::text, 7, '0') || '-00-X', NULL, 'principal', 'DIOP', 'Awa ' || i,
       CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END, 1950 + i % 56, :association, DATE '2025-06-01', 'active',
       now(),
       'diop awa ' || i, ARRAY[]::varchar[], now(), now()
FROM generate_series(1, :n) AS i
"""
DEPENDANTS = """
INSERT INTO members (public_id, number, principal_id, relationship, last_name, first_names, sex, birth_year,
                     association_id, enrolled_on, status, status_changed_at, name_key, name_trigrams,
                     created_at, updated_at)
SELECT md5(r.rel || p.id), replace(p.number, '-00-', r.rank), p.id, r.rel, p.last_name, r.rel || ' ' || p.id,
       'F', CASE WHEN r.rel = 'child' THEN 2008 + p.id % 18 ELSE 1955 + p.id % 50 END, p.association_id,
       p.enrolled_on, 'active', now(), 'diop ' || r.rel || ' ' || p.id, ARRAY[]::varchar[], now(), now()
FROM members p CROSS JOIN (VALUES ('spouse', '-01-'), ('child', '-02-')) AS r(rel, rank)
WHERE p.principal_id IS NULL AND p.id % 5 = 0
"""
SUBSCRIPTIONS = """
INSERT INTO subscriptions (public_id, member_id, product_id, start_date, status, created_at, created_by_label)
SELECT md5('s' || m.id), m.id, :product, DATE '2026-01-01', 'active', now(), 'bench'
FROM members m WHERE m.principal_id IS NULL
"""
PROVIDERS = """
INSERT INTO care_providers (public_id, code, name, kind, region, commune, address, status, payout_method,
                            payout_account, created_at)
SELECT md5('p' || i), 'PS-' || lpad(i::text, 3, '0'), 'Centre de santé ' || i, 'health_centre', 'Dakar',
       'Pikine',
       '', 'active', 'bank_transfer', 'SN01' || i, now()
FROM generate_series(1, 20) AS i
"""
CONVENTIONS = """
INSERT INTO conventions (public_id, provider_id, reference, version, starts_on, pricing, reference_rate_pct,
                         payment_delay_days, status, created_at)
SELECT md5('c' || p.id), p.id, 'CONV-' || p.code, 1, DATE '2026-01-01', 'negotiated', 100, 30, 'active', now()
FROM care_providers p
"""
PRICES = """
INSERT INTO convention_prices (convention_id, benefit_id, price)
SELECT c.id, b.id, b.reference_price FROM conventions c CROSS JOIN benefits b
"""
INVOICES_SQL = """
INSERT INTO care_invoices (public_id, number, provider_id, period_start, period_end, status, source,
                           amount_asked, amount_accepted, member_share, created_at, created_by_label,
                           submitted_at)
SELECT md5('i' || i), 'FAC-2026-' || lpad(i::text, 6, '0'), (SELECT min(id) FROM care_providers) + i % 20,
       DATE '2026-03-01', DATE '2026-03-31', 'submitted', 'upload', 0, 0, 0, now(), 'bench', now()
FROM generate_series(1, :n) AS i
"""
RECORDS = """
INSERT INTO care_records (public_id, invoice_id, provider_id, member_id, care_date, prescriber,
                          entered_by_label, created_at)
SELECT md5('r' || inv.id || '-' || r), inv.id, inv.provider_id,
       (SELECT min(id) FROM members) + (inv.id * 37 + r * 101) % :members,
       DATE '2026-03-01' + ((inv.id + r) % 28), 'Dr Ndiaye', 'bench', now()
FROM care_invoices inv CROSS JOIN generate_series(1, :visits) AS r
"""
LINES = """
INSERT INTO care_lines (record_id, benefit_id, quantity, unit_price_asked, amount_asked, quantity_accepted,
                        amount_accepted, member_share, outcome, reason_codes, needs_review, review_status)
SELECT rec.id, b.id, q.quantity, q.price, q.quantity * q.price, 0, 0, 0, 'pending', ARRAY[]::varchar[], false,
       'none'
FROM care_records rec CROSS JOIN generate_series(0, 1) AS k
JOIN benefits b ON b.id = (SELECT min(id) FROM benefits) + (rec.id * 3 + k * 7) % 10
CROSS JOIN LATERAL (SELECT CASE WHEN b.category = 'medicine' THEN 1 + rec.id % 20 ELSE 1 END AS quantity,
                           b.reference_price * CASE WHEN rec.id % 7 = 0 THEN 11 ELSE 10 END / 10 AS price)
     AS q
"""


def setup(invoice_count: int) -> tuple[object, object, dict[str, float]]:
    app = fresh_app("mbolo_bench_care", MBOLO_TODAY=TODAY)
    engine = owner_engine(app)
    upgrade_all(engine, report=lambda _s: None)
    system = Actor.system("bench")
    timings: dict[str, float] = {}
    with app.app_context():
        session = db.session
        ministry = hierarchy.create_root(session, system, code="MIN", details=NodeDetails(name="Ministère"))
        federation = hierarchy.create_child(
            session, system, parent=ministry, code="FNAS", details=NodeDetails(name="Fédération artisans")
        )
        league = hierarchy.create_child(
            session, system, parent=federation, code="LIG", details=NodeDetails(name="L")
        )
        association = hierarchy.create_child(
            session, system, parent=league, code="ASS", details=NodeDetails(name="Association")
        )
        session.commit()
        tenant = create_tenant(
            engine,
            system,
            slug="artisanat",
            name="Mutuelle nationale des artisans",
            sector="artisanat",
            federation_code="FNAS",
        )
        with tenant_scope(session, tenant):
            started = time.perf_counter()
            product = Product(code="FAMILLE", name="Famille", valid_from=dt.date(2025, 1, 1))
            session.add(product)
            session.flush()
            session.add(
                ProductVersion(
                    product_id=product.id,
                    number=1,
                    effective_from=dt.date(2025, 1, 1),
                    basis=Basis.per_household,
                    amount=3000,
                    periodicity=Periodicity.monthly,
                    waiting_days=0,
                    grace_days=30,
                )
            )
            for code, category, price, rule in ACTS:
                benefit = Benefit(
                    code=code, name=code, category=BenefitCategory(category), reference_price=price
                )
                session.add(benefit)
                session.flush()
                session.add(ProductBenefit(product_id=product.id, benefit_id=benefit.id, **rule))
            session.flush()
            session.execute(text(ADHERENTS), {"n": HOUSEHOLDS, "association": association.id})
            session.execute(text(DEPENDANTS))
            session.execute(text(SUBSCRIPTIONS), {"product": product.id})
            session.execute(text(PROVIDERS))
            session.execute(text(CONVENTIONS))
            session.execute(text(PRICES))
            members = session.scalar(select(func.count(Member.id)))
            session.execute(text(INVOICES_SQL), {"n": invoice_count})
            session.execute(text(RECORDS), {"members": members, "visits": VISITS})
            session.execute(text(LINES))
            session.commit()
            for table in ("members", "subscriptions", "care_invoices", "care_records", "care_lines"):
                session.execute(text(f"ANALYZE {table}"))
            session.commit()
            timings["setup"] = time.perf_counter() - started
    return app, tenant, timings


def check_all(app: object, tenant: object) -> tuple[float, int, invoices.CheckReport]:
    total = invoices.CheckReport()
    with app.app_context(), tenant_scope(db.session, tenant):  # type: ignore[attr-defined]
        ids = list(db.session.scalars(select(CareInvoice.id).order_by(CareInvoice.id)))
        db.session.commit()
        started = time.perf_counter()
        for start in range(0, len(ids), PER_BATCH):
            report = invoices.check_invoices(db.session, tenant, ids[start : start + PER_BATCH])  # type: ignore[arg-type]
            db.session.commit()
            for key in ("lines", "accepted", "reduced", "rejected", "review", "alerts", "amount_accepted"):
                setattr(total, key, getattr(total, key) + getattr(report, key))
        elapsed = time.perf_counter() - started
        lines = db.session.scalar(select(func.count(CareLine.id)).where(CareLine.outcome != "pending")) or 0
        db.session.commit()
    return elapsed, lines, total


def eligibility_p95(
    app: object, tenant: object, calls: int = 1000, *, service: bool = True
) -> tuple[float, float, str]:
    from app.coverage import rights

    try:
        from app.care import eligibility
        from app.care.models import CheckChannel
    except ImportError:  # pragma: no cover - the providers' service
        eligibility = None  # type: ignore[assignment]
    if not service:
        eligibility = None  # type: ignore[assignment]
    actor = Actor.system("bench")
    durations = []
    with app.app_context(), tenant_scope(db.session, tenant):  # type: ignore[attr-defined]
        ids = list(db.session.scalars(select(Member.id)))
        db.session.commit()
        chosen = random.Random(7).sample(ids, calls)  # noqa: S311 - a sample, not a secret
        for member_id in chosen:
            started = time.perf_counter()
            member = db.session.get(Member, member_id)
            if eligibility is not None:
                eligibility.check_member(db.session, tenant, actor, member, channel=CheckChannel.api)  # type: ignore[arg-type]
            else:
                rights.rights_on(db.session, tenant, member)  # type: ignore[arg-type]
            db.session.commit()
            durations.append((time.perf_counter() - started) * 1000)
            db.session.expunge_all()  # each counter check is a request of its own: nothing kept between them
    durations.sort()
    p95 = durations[int(len(durations) * 0.95) - 1]
    return p95, statistics.median(durations), "eligibility.check_member" if eligibility else "rights_on"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=INVOICES)
    count = parser.parse_args().invoices
    app, tenant, timings = setup(count)
    expected = count * VISITS * 2
    elapsed, lines, report = check_all(app, tenant)
    rate = lines / elapsed if elapsed else 0.0
    p95, median, how = eligibility_p95(app, tenant)
    read_p95, read_median, _how = eligibility_p95(app, tenant, service=False)
    rows = [
        ("setup: register, providers, invoices (SQL)", f"{timings['setup']:.1f} s", "", None),
        ("care lines checked and valued", f"{lines:,}", f"{expected:,}", lines == expected),
        ("check + valuation time", f"{elapsed:.1f} s", "", None),
        ("lines per second", f"{rate:,.0f}", f">= {LINES_TARGET:,.0f}", rate >= LINES_TARGET),
        (
            "accepted / reduced / rejected",
            f"{report.accepted:,} / {report.reduced:,} / {report.rejected:,}",
            "",
            None,
        ),
        ("lines to review / ceiling alerts", f"{report.review:,} / {report.alerts:,}", "", None),
        ("mutual's share (F CFA)", f"{report.amount_accepted:,}", "", None),
        (
            f"eligibility p95 over 1,000 ({how})",
            f"{p95:.1f} ms",
            f"< {P95_TARGET_MS:.0f} ms",
            p95 < P95_TARGET_MS,
        ),
        ("eligibility median", f"{median:.1f} ms", "", None),
        ("rights_on alone (reads only) p95 / median", f"{read_p95:.1f} / {read_median:.1f} ms", "", None),
    ]
    print_table(rows)
    owner_engine(app).dispose()
    if not all(ok for *_rest, ok in rows if ok is not None):
        sys.exit(1)


if __name__ == "__main__":
    main()
