"""Measure tenant provisioning (registry row + role + schema + tenant migrations to head) on the embedded
PostgreSQL, in a database of its own. Prints a table: figure, target, verdict."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MBOLO_ENV", "test")

from app.extensions import db  # noqa: E402
from app.platform import owner_engine  # noqa: E402
from app.security.actor import Actor  # noqa: E402
from bench._common import fresh_app, print_table  # noqa: E402
from hierarchy import services as hierarchy  # noqa: E402
from hierarchy.services import NodeDetails  # noqa: E402
from migrations.runner import upgrade_all  # noqa: E402
from tenants.services import create_tenant  # noqa: E402

RUNS, TARGET_S = 10, 2.0


def main() -> None:
    app = fresh_app("mbolo_bench")
    engine = owner_engine(app)
    upgrade_all(engine, report=lambda _s: None)
    system = Actor.system("bench")
    timings = []
    with app.app_context():
        ministry = hierarchy.create_root(db.session, system, code="MIN", details=NodeDetails(name="M"))
        codes = []
        for i in range(RUNS):
            fed = hierarchy.create_child(
                db.session, system, parent=ministry, code=f"FED-{i}", details=NodeDetails(name=f"F{i}")
            )
            codes.append(fed.code)
        db.session.commit()
        for i, code in enumerate(codes):
            started = time.perf_counter()
            create_tenant(
                engine, system, slug=f"bench_{i}", name=f"Bench {i}", sector="commerce", federation_code=code
            )
            timings.append(time.perf_counter() - started)
    worst, median = max(timings), statistics.median(timings)
    rows = [
        (
            f"tenant provisioning, median of {RUNS}",
            f"{median:.3f} s",
            f"< {TARGET_S:.0f} s",
            median < TARGET_S,
        ),
        (
            f"tenant provisioning, worst of {RUNS}",
            f"{worst:.3f} s",
            f"< {TARGET_S:.0f} s",
            worst < TARGET_S,
        ),
    ]
    print_table(rows)
    engine.dispose()


if __name__ == "__main__":
    main()
