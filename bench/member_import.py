"""Measure a register import on the embedded PostgreSQL, in a database of its own: a generated 10,000-row
CSV (Senegalese names, communes, trades, mixed date formats, ayants droit attached to their adhérent), the dry
run, then the job (the Celery task run in-process, through ``TenantTask`` but without a broker). The same file
is imported twice: the second run must create nothing. Prints a table: figure, target, verdict."""

from __future__ import annotations

import csv
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MBOLO_ENV", "test")

from sqlalchemy import func, select  # noqa: E402

from app.extensions import db  # noqa: E402
from app.members import imports  # noqa: E402
from app.members.models import Member, MemberImport  # noqa: E402
from app.members.tasks import run_member_import  # noqa: E402
from app.platform import owner_engine  # noqa: E402
from app.security.actor import Actor  # noqa: E402
from app.worker import TENANT_HEADER  # noqa: E402
from bench._common import fresh_app, print_table  # noqa: E402
from hierarchy import services as hierarchy  # noqa: E402
from hierarchy.services import NodeDetails  # noqa: E402
from migrations.runner import upgrade_all  # noqa: E402
from tenants.context import tenant_scope  # noqa: E402
from tenants.services import create_tenant  # noqa: E402

ROWS, TARGET_S = 10_000, 30.0

FAMILY_NAMES = (
    "Diop", "Ndiaye", "Fall", "Sow", "Diallo", "Ba", "Gueye", "Sy", "Faye", "Cissé", "Mbaye", "Sarr", "Thiam",
    "Niang", "Ka", "Seck", "Kane", "Touré", "Camara", "Sène", "Dieng", "Ndour", "Diouf", "Mbengue", "Wade",
    "Sall", "Lô", "Badji", "Diatta", "Coly", "Tall", "Samb", "Kébé", "Dramé", "Gaye", "Diagne",
)  # fmt: skip
WOMEN = (
    "Awa", "Fatou", "Aminata", "Mariama", "Khady", "Aïssatou", "Ndèye", "Coumba", "Astou", "Rokhaya",
    "Bineta", "Seynabou", "Adama", "Maimouna", "Sokhna", "Yacine", "Dieynaba", "Ramatoulaye", "Penda",
    "Oumou",
)  # fmt: skip
MEN = (
    "Moussa", "Mamadou", "Ousmane", "Ibrahima", "Cheikh", "Abdoulaye", "Modou", "Babacar", "Aliou", "Lamine",
    "Amadou", "Pape", "Serigne", "Malick", "Souleymane", "Alioune", "Idrissa", "Omar", "Saliou", "Boubacar",
)  # fmt: skip
COMMUNES = (
    ("Médina", "Dakar"), ("Grand Yoff", "Dakar"), ("Pikine", "Dakar"), ("Guédiawaye", "Dakar"),
    ("Rufisque", "Dakar"), ("Thiès", "Thiès"), ("Mbour", "Thiès"), ("Tivaouane", "Thiès"),
    ("Kaolack", "Kaolack"), ("Saint-Louis", "Saint-Louis"), ("Touba", "Diourbel"), ("Diourbel", "Diourbel"),
    ("Ziguinchor", "Ziguinchor"), ("Louga", "Louga"), ("Tambacounda", "Tambacounda"), ("Kolda", "Kolda"),
)  # fmt: skip
TRADES = (
    "Couturier", "couturière", "Menuisier", "maçon", "Mécanicien", "Bijoutier", "cordonnier", "Tisserand",
    "Coiffeuse", "Soudeur", "Forgeron", "Électricien", "Potier", "teinturière", "Ébéniste", "autre",
)  # fmt: skip
HEADER = ["N° membre", "Nom", "Prénom(s)", "Sexe", "Date de naissance", "Lieu de naissance", "Téléphone",
          "Commune", "Région", "Métier", "Lien", "N° adhérent principal"]  # fmt: skip


def birth(rng: random.Random, first: int, last: int) -> str:
    """Mixed formats, as registers keep them: dd/mm/yyyy, ISO, the year alone, "vers 1975"."""
    year, month, day = rng.randint(first, last), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice(
        (f"{day:02d}/{month:02d}/{year}", f"{year}-{month:02d}-{day:02d}", str(year), f"vers {year}")
    )


def phone(rng: random.Random) -> str:
    digits = f"{rng.choice((70, 76, 77, 78))}{rng.randint(0, 9_999_999):07d}"
    return rng.choice((f"{digits[:2]} {digits[2:5]} {digits[5:7]} {digits[7:]}", f"+221{digits}", digits))


def register(rows: int, seed: int = 2026) -> bytes:
    """About three adhérents out of four; the others are their spouses and children."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    written, household = 0, 0
    while written < rows:
        household += 1
        ref = f"ART-{household:05d}"
        family, commune = rng.choice(FAMILY_NAMES), rng.choice(COMMUNES)
        woman = rng.random() < 0.45
        writer.writerow([
            ref, family, rng.choice(WOMEN if woman else MEN), rng.choice(("F", "Femme")) if woman else
            rng.choice(("M", "Homme", "H")), birth(rng, 1950, 2000), commune[0], phone(rng), *commune,
            rng.choice(TRADES), "", "",
        ])  # fmt: skip
        written += 1
        extra = rng.choices((0, 1, 2), weights=(80, 10, 10))[0]
        for kind in ("conjoint", "enfant")[:extra]:
            if written >= rows:
                break
            spouse_woman = not woman
            name = rng.choice(WOMEN if (spouse_woman or kind == "enfant" and rng.random() < 0.5) else MEN)
            writer.writerow([
                "", family if kind == "enfant" else rng.choice(FAMILY_NAMES), name,
                "F" if name in WOMEN else "M",
                birth(rng, 1955, 2000) if kind == "conjoint" else birth(rng, 2008, 2024), commune[0], "",
                *commune, "", kind, ref,
            ])  # fmt: skip
            written += 1
    return out.getvalue().encode("utf-8")


def one_import(app, tenant, association_id: int, data: bytes) -> dict[str, float]:
    system = Actor.system("bench")
    with app.app_context(), tenant_scope(db.session, tenant):
        record = imports.create_import(db.session, tenant, system, filename="registre.csv", data=data)
        started = time.perf_counter()
        imports.check_import(
            db.session, tenant, system, record, mapping=record.mapping, association_id=association_id
        )
        dry_run = time.perf_counter() - started
        plan = (record.created_count, record.skipped_count, record.rejected_count)
        imports.start_import(db.session, tenant, system, record, enqueue=False)
        public_id = record.public_id
        db.session.commit()
    started = time.perf_counter()
    run_member_import.apply((public_id, None), headers={TENANT_HEADER: tenant.slug}, throw=True)
    elapsed = time.perf_counter() - started
    with app.app_context(), tenant_scope(db.session, tenant):
        done = db.session.scalar(select(MemberImport).where(MemberImport.public_id == public_id))
        members = db.session.scalar(select(func.count()).select_from(Member))
        return {
            "dry_run": dry_run, "import": elapsed, "plan": plan, "status": done.status.value,
            "created": done.created_count, "skipped": done.skipped_count, "rejected": done.rejected_count,
            "members": members,
        }  # fmt: skip


def main() -> None:
    media = tempfile.TemporaryDirectory(prefix="mbolo-bench-")
    app = fresh_app("mbolo_bench_import", MBOLO_DATA_DIR=media.name)
    engine = owner_engine(app)
    upgrade_all(engine, report=lambda _s: None)
    system = Actor.system("bench")
    with app.app_context():
        ministry = hierarchy.create_root(
            db.session, system, code="MIN", details=NodeDetails(name="Ministère")
        )
        federation = hierarchy.create_child(
            db.session, system, parent=ministry, code="FNAS", details=NodeDetails(name="Fédération artisans")
        )
        league = hierarchy.create_child(
            db.session, system, parent=federation, code="LIG-DK", details=NodeDetails(name="Ligue de Dakar")
        )
        association = hierarchy.create_child(
            db.session, system, parent=league, code="ASS-MED", details=NodeDetails(name="Artisans de Médina")
        )
        association_id = association.id
        db.session.commit()
        tenant = create_tenant(
            engine, system, slug="artisanat", name="Mutuelle nationale des artisans", sector="artisanat",
            federation_code="FNAS",
        )  # fmt: skip
    data = register(ROWS)
    first = one_import(app, tenant, association_id, data)
    second = one_import(app, tenant, association_id, data)
    rows = [
        ("rows in the file", f"{ROWS:,}", "", None),
        ("1st import: dry run", f"{first['dry_run']:.2f} s", "", None),
        ("1st import: job", f"{first['import']:.2f} s", f"< {TARGET_S:.0f} s", first["import"] < TARGET_S),
        ("1st import: rows/s", f"{ROWS / first['import']:,.0f}", "", None),
        ("1st import: created / skipped / rejected",
         f"{first['created']} / {first['skipped']} / {first['rejected']}", f"{ROWS} / 0 / 0",
         (first["created"], first["skipped"], first["rejected"]) == (ROWS, 0, 0)),
        ("2nd import (same file): dry run", f"{second['dry_run']:.2f} s", "", None),
        ("2nd import (same file): job", f"{second['import']:.2f} s", f"< {TARGET_S:.0f} s",
         second["import"] < TARGET_S),
        ("2nd import: created / skipped / rejected",
         f"{second['created']} / {second['skipped']} / {second['rejected']}", f"0 / {ROWS} / 0",
         (second["created"], second["skipped"], second["rejected"]) == (0, ROWS, 0)),
        ("members in the register after both", f"{second['members']:,}", f"{ROWS:,}",
         second["members"] == ROWS),
    ]  # fmt: skip
    print_table(rows)
    engine.dispose()
    media.cleanup()
    if not all(ok for *_rest, ok in rows if ok is not None):
        sys.exit(1)


if __name__ == "__main__":
    main()
