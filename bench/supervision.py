"""Measure supervision on the embedded PostgreSQL, in a database of its own: 20 mutuals (each under its own
fédération, 2 ligues × 5 associations) × 50,000 members (20,000 households: adhérent, spouse one time in
two, a child) with a year of activity written set-based (monthly dues, 80 % paid with their allocations,
one household in 25 leaving, the State's receivables). Then: refresh all snapshots (first, full), refresh
again (incremental: nothing changed), and open the ministry dashboard as a ministry supervisor (median of
several requests through the Flask test client, from the snapshots). Prints a table: figure, target, verdict.

    .venv/bin/python bench/supervision.py [--tenants N] [--members N] [--reuse]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MBOLO_ENV", "test")

from sqlalchemy import func, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.platform import owner_engine  # noqa: E402
from app.security.actor import Actor  # noqa: E402
from app.security.services import ensure_account  # noqa: E402
from bench._common import fresh_app, print_table  # noqa: E402
from hierarchy import services as hierarchy  # noqa: E402
from hierarchy.services import NodeDetails  # noqa: E402
from hierarchy.supervision import snapshots  # noqa: E402
from hierarchy.supervision.models import Fact, Snapshot  # noqa: E402
from hierarchy.supervision.synthetic import populate  # noqa: E402
from migrations.runner import upgrade_all  # noqa: E402
from tenants.context import tenant_scope  # noqa: E402
from tenants.services import create_tenant  # noqa: E402
from tests.fixtures.database import app_overrides, server_url  # noqa: E402

TENANTS, MEMBERS = 20, 50_000
DATABASE = "mbolo_bench_supervision"
DASHBOARD_TARGET_MS, REFRESH_TARGET_S = 300.0, 600.0
TODAY = dt.date(2026, 11, 23)
START = dt.date(2025, 12, 1)
PASSWORD = "bench-supervision-2026"  # noqa: S105 - a throwaway database
SECTORS = ("artisanat", "commerce", "transport", "peche", "agriculture")
REGIONS = ("Dakar", "Thiès", "Kaolack", "Saint-Louis", "Ziguinchor")


def setup(tenants: int, members: int) -> tuple[object, dict[str, float]]:
    app = fresh_app(DATABASE, MBOLO_TODAY=TODAY)
    engine = owner_engine(app)
    upgrade_all(engine, report=lambda _s: None)
    system = Actor.system("bench")
    households = int(members / 2.5)
    timings = {"setup": 0.0}
    with app.app_context():
        session = db.session
        ministry = hierarchy.create_root(session, system, code="MIN", details=NodeDetails(name="Ministère"))
        ensure_account(
            session,
            system,
            email="ministere@bench.sn",
            full_name="Superviseur national",
            password=PASSWORD,
            grants=((ministry.id, "supervisor"),),
        )
        session.commit()
        for t in range(tenants):
            fed = hierarchy.create_child(
                session,
                system,
                parent=ministry,
                code=f"FED-{t:02d}",
                details=NodeDetails(name=f"Fédération {t:02d}", region="Dakar"),
            )
            associations = []
            for lg in range(2):
                region = REGIONS[(t + lg) % len(REGIONS)]
                league = hierarchy.create_child(
                    session,
                    system,
                    parent=fed,
                    code=f"LIG-{t:02d}-{lg}",
                    details=NodeDetails(name=f"Ligue {t:02d}-{lg}", region=region),
                )
                for a in range(5):
                    associations.append(
                        hierarchy.create_child(
                            session,
                            system,
                            parent=league,
                            code=f"ASS-{t:02d}-{lg}-{a}",
                            details=NodeDetails(name=f"Association {t:02d}-{lg}-{a}", region=region),
                        ).id
                    )
            session.commit()
            tenant = create_tenant(
                engine,
                system,
                slug=f"mutuelle{t:02d}",
                name=f"Mutuelle {t:02d}",
                sector=SECTORS[t % len(SECTORS)],
                federation_code=f"FED-{t:02d}",
            )
            started = time.perf_counter()
            with tenant_scope(session, tenant):
                populate(
                    session,
                    associations=associations,
                    households=households,
                    start=START,
                    months=12,
                    today=TODAY,
                    prefix=f"M{t:02d}",
                )
                session.commit()
                for table in (
                    "members",
                    "dues",
                    "allocations",
                    "contribution_payments",
                    "member_status_events",
                ):
                    session.execute(text(f"ANALYZE {table}"))
                session.commit()
            timings["setup"] += time.perf_counter() - started
            print(f"  tenant {t + 1}/{tenants} written", file=sys.stderr)
    return app, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=TENANTS)
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--reuse", action="store_true", help="keep the data of the previous run (no setup)")
    args = parser.parse_args()
    if args.reuse:
        url = server_url().set(database=DATABASE)
        app, timings = create_app({**app_overrides(url), "MBOLO_TODAY": TODAY}), {"setup": 0.0}
    else:
        app, timings = setup(args.tenants, args.members)
    system = Actor.system("bench")
    # The data was written seconds ago: without the safety margin the second run sees that nothing changed.
    snapshots.WATERMARK_MARGIN = dt.timedelta(0)
    with app.app_context():
        session = db.session
        with_members = 0
        for ref in snapshots.active_tenants(session):
            with tenant_scope(session, ref):
                with_members += session.execute(text("SELECT count(*) FROM members")).scalar_one()
            session.commit()
        started = time.perf_counter()
        first = snapshots.refresh_all(session, system, full=True, today=TODAY)
        timings["full"] = time.perf_counter() - started
        started = time.perf_counter()
        second = snapshots.refresh_all(session, system, today=TODAY)
        timings["incremental"] = time.perf_counter() - started
        facts = session.scalar(select(func.count()).select_from(Fact))
        rows = session.scalar(select(func.count()).select_from(Snapshot))
        ministry = hierarchy.find_node_by_code(session, "MIN")
        ministry_id, ministry_path = ministry.public_id, ministry.id
        national = session.execute(
            text(
                "SELECT value FROM supervision_snapshots WHERE node_id = :n AND month = :m "
                "AND measure = 'beneficiaries_active' AND breakdown = ''"
            ),
            {"n": ministry_path, "m": TODAY.replace(day=1)},
        ).scalar_one()
        session.commit()
    client = app.test_client()
    client.post("/connexion", data={"login": "ministere@bench.sn", "password": PASSWORD})
    durations = []
    for i in range(8):
        started = time.perf_counter()
        response = client.get(f"/supervision/noeuds/{ministry_id}")
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        if i >= 2:  # the first requests warm the templates and the pool
            durations.append(elapsed)
    page_bytes = len(response.data)
    filtered = []
    for _i in range(4):
        started = time.perf_counter()
        assert (
            client.get(f"/supervision/noeuds/{ministry_id}?region=Dakar&periode=trimestre").status_code == 200
        )
        filtered.append((time.perf_counter() - started) * 1000)
    dashboard_ms, filtered_ms = statistics.median(durations), statistics.median(filtered)
    expected_members = args.tenants * int(args.members / 2.5) * 5 // 2
    table = [
        ("tenants × members", f"{args.tenants} × {with_members // max(1, args.tenants):,}", "", None),
        ("members written (all tenants)", f"{with_members:,}", f"~{expected_members:,}", None),
        (
            "setup: a year of activity (SQL)",
            "reused" if args.reuse else f"{timings['setup']:.1f} s",
            "",
            None,
        ),
        (
            "refresh all snapshots (full, 12 months)",
            f"{timings['full']:.1f} s",
            f"< {REFRESH_TARGET_S:.0f} s",
            timings["full"] < REFRESH_TARGET_S,
        ),
        ("  per tenant (median)", f"{statistics.median(r.seconds for r in first):.2f} s", "", None),
        (
            "refresh all again (incremental)",
            f"{timings['incremental']:.1f} s",
            "1 month/tenant",  # nothing changed: only the current month is recomputed
            all(r.months == 1 for r in second),
        ),
        ("facts / snapshot rows", f"{facts:,} / {rows:,}", "", None),
        ("ministry: active beneficiaries", f"{national:,}", "", None),
        (
            "ministry dashboard (median)",
            f"{dashboard_ms:.0f} ms",
            f"< {DASHBOARD_TARGET_MS:.0f} ms",
            dashboard_ms < DASHBOARD_TARGET_MS,
        ),
        ("ministry dashboard, region+quarter", f"{filtered_ms:.0f} ms", "", None),
        ("ministry dashboard page size", f"{page_bytes / 1024:.0f} KiB", "", None),
    ]
    print_table(table)
    owner_engine(app).dispose()
    if not all(ok for *_rest, ok in table if ok is not None):
        sys.exit(1)


if __name__ == "__main__":
    main()
