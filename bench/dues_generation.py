"""Measure dues generation on the embedded PostgreSQL, in a database of its own: one mutual, one monthly
product priced per beneficiary with age bands and a State subsidy, 1,000,000 adhérents (one in five with a
spouse and a child) each subscribed from a day of January 2026. The register is written with set-based SQL
(generate_series), then ``generate_dues`` runs through 31 January (one due per subscription), then again (it
must create nothing), then the funders' receivables are refreshed. Prints a table: figure, target, verdict.

    .venv/bin/python bench/dues_generation.py [--households N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MBOLO_ENV", "test")

from sqlalchemy import func, select, text  # noqa: E402

from app.contributions.dues import generate_dues, refresh_subsidy_receivables  # noqa: E402
from app.contributions.models import Due, SubsidyReceivable  # noqa: E402
from app.coverage.models import (  # noqa: E402
    BandDimension,
    Basis,
    Periodicity,
    Product,
    ProductVersion,
    TariffBand,
    VersionSubsidy,
)
from app.extensions import db  # noqa: E402
from app.platform import owner_engine  # noqa: E402
from app.security.actor import Actor  # noqa: E402
from bench._common import fresh_app, print_table  # noqa: E402
from hierarchy import services as hierarchy  # noqa: E402
from hierarchy.services import NodeDetails  # noqa: E402
from migrations.runner import upgrade_all  # noqa: E402
from tenants.context import tenant_scope  # noqa: E402
from tenants.services import create_tenant  # noqa: E402

HOUSEHOLDS, TARGET_S, SECOND_TARGET_S = 1_000_000, 60.0, 15.0
THROUGH = dt.date(2026, 1, 31)

ADHERENTS = """
INSERT INTO members (public_id, number, principal_id, relationship, last_name, first_names, sex, birth_year,
                     association_id, enrolled_on, status, status_changed_at, name_key, name_trigrams,
                     created_at, updated_at)
SELECT md5('a' || i), 'BEN-' || lpad(i::text, 7, '0') || '-00-X', NULL, 'principal', 'DIOP', 'Awa ' || i,
       CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END, 1950 + i % 56,
       (CAST(:associations AS int[]))[1 + i % cardinality(CAST(:associations AS int[]))],
       DATE '2025-06-01', 'active', now(), 'diop awa ' || i, ARRAY[]::varchar[], now(), now()
FROM generate_series(1, :n) AS i
"""
#: One household in five: a spouse (rank 01) and a child (rank 02, born 2008–2025).
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
SELECT md5('s' || m.id), m.id, :product, DATE '2026-01-01' + (m.id % 28), 'active', now(), 'bench'
FROM members m WHERE m.principal_id IS NULL
"""


def setup(households: int) -> tuple[object, object, dict[str, float]]:
    app = fresh_app("mbolo_bench_dues")
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
        associations = []
        for league_code in ("LIG-DK", "LIG-TH"):
            league = hierarchy.create_child(
                session, system, parent=federation, code=league_code, details=NodeDetails(name=league_code)
            )
            for i in range(5):
                associations.append(
                    hierarchy.create_child(
                        session, system, parent=league, code=f"{league_code}-A{i}",
                        details=NodeDetails(name=f"Association {league_code} {i}"),
                    ).id
                )  # fmt: skip
        session.commit()
        tenant = create_tenant(
            engine, system, slug="artisanat", name="Mutuelle nationale des artisans", sector="artisanat",
            federation_code="FNAS",
        )  # fmt: skip
        with tenant_scope(session, tenant):
            product = Product(code="FAMILLE", name="Famille", valid_from=dt.date(2025, 1, 1))
            session.add(product)
            session.flush()
            session.add(
                ProductVersion(
                    product_id=product.id, number=1, effective_from=dt.date(2025, 1, 1),
                    basis=Basis.per_beneficiary, amount=2000, periodicity=Periodicity.monthly,
                    max_beneficiaries=6, child_age_limit=21,
                    bands=[TariffBand(dimension=BandDimension.age, low=lo, high=hi, amount=a)
                           for lo, hi, a in ((0, 4, 500), (5, 17, 750), (18, 59, 1500))],
                    subsidies=[VersionSubsidy(funder="État", percent=50)],
                )
            )  # fmt: skip
            session.flush()
            started = time.perf_counter()
            session.execute(text(ADHERENTS), {"n": households, "associations": associations})
            session.execute(text(DEPENDANTS))
            session.execute(text(SUBSCRIPTIONS), {"product": product.id})
            session.commit()
            session.execute(text("ANALYZE members"))
            session.execute(text("ANALYZE subscriptions"))
            session.commit()
            timings["setup"] = time.perf_counter() - started
    return app, tenant, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=HOUSEHOLDS)
    households = parser.parse_args().households
    app, tenant, timings = setup(households)
    with app.app_context():
        started = time.perf_counter()
        first = generate_dues(db.session, tenant, through=THROUGH)
        timings["first"] = time.perf_counter() - started
        started = time.perf_counter()
        second = generate_dues(db.session, tenant, through=THROUGH)
        timings["second"] = time.perf_counter() - started
        started = time.perf_counter()
        with tenant_scope(db.session, tenant):
            refresh_subsidy_receivables(db.session, tenant, since=THROUGH.replace(day=1))
            db.session.commit()
            timings["receivables"] = time.perf_counter() - started
            dues, gross, subsidy = db.session.execute(
                select(func.count(), func.sum(Due.amount), func.sum(Due.subsidy_amount))
            ).one()
            receivable = db.session.scalar(select(func.sum(SubsidyReceivable.amount))) or 0
    rows = [
        ("households (adhérents) subscribed", f"{households:,}", "", None),
        ("setup: register + subscriptions (SQL)", f"{timings['setup']:.1f} s", "", None),
        ("1st run: generate_dues through 31/01", f"{timings['first']:.1f} s", f"< {TARGET_S:.0f} s",
         timings["first"] < TARGET_S),
        ("1st run: dues/s", f"{first.created / timings['first']:,.0f}", "", None),
        ("1st run: created / already there", f"{first.created:,} / {first.skipped:,}",
         f"{households:,} / 0", (first.created, first.skipped) == (households, 0)),
        ("2nd run: same date", f"{timings['second']:.1f} s", f"< {SECOND_TARGET_S:.0f} s",
         timings["second"] < SECOND_TARGET_S),
        ("2nd run: created / already there", f"{second.created:,} / {second.skipped:,}",
         f"0 / {households:,}", (second.created, second.skipped) == (0, households)),
        ("dues in the table after both", f"{dues:,}", f"{households:,}", dues == households),
        ("gross / subsidies (F CFA)", f"{gross:,} / {subsidy:,}", "", None),
        ("receivables refresh (1 month)", f"{timings['receivables']:.1f} s", "", None),
        ("receivable = dues' subsidies", f"{receivable:,}", f"{subsidy:,}", receivable == subsidy),
    ]  # fmt: skip
    print_table(rows)
    owner_engine(app).dispose()
    if not all(ok for *_rest, ok in rows if ok is not None):
        sys.exit(1)


if __name__ == "__main__":
    main()
