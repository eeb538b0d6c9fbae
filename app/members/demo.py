"""Generated members for the demo: realistic Senegalese names, communes and trades, deterministic (a seed per
association), created through the enrolment service so they obey every rule."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.members import services
from app.members.models import Member
from app.members.rules import trades_for
from app.security.actor import Actor
from tenants.context import TenantRef, tenant_scope

FAMILY_NAMES = (
    "Ba", "Badji", "Camara", "Cissé", "Coly", "Diagne", "Diallo", "Diatta", "Diouf", "Diop", "Dieng", "Fall",
    "Faye", "Gaye", "Gning", "Gueye", "Kâ", "Kane", "Konaté", "Mané", "Mbaye", "Mbengue", "Ndao", "Ndiaye",
    "Ndour", "Niang", "Niasse", "Sall", "Sané", "Sarr", "Seck", "Sène", "Sow", "Sy", "Sylla", "Thiam",
    "Thiaw", "Touré", "Wade", "Wone",
)  # fmt: skip
WOMEN = (
    "Adama", "Aïssatou", "Aminata", "Astou", "Awa", "Binta", "Coumba", "Dieynaba", "Fatou", "Fatoumata",
    "Khady", "Khadija", "Mame Diarra", "Mariama", "Maïmouna", "Ndèye", "Ndèye Fatou", "Oumou", "Rokhaya",
    "Seynabou", "Sokhna", "Yacine", "Yaye Fatou",
)  # fmt: skip
MEN = (
    "Abdou", "Abdoulaye", "Alioune", "Amadou", "Assane", "Babacar", "Bamba", "Cheikh", "El Hadji", "Ibrahima",
    "Idrissa", "Lamine", "Mamadou", "Mame Cheikh", "Modou", "Moussa", "Omar", "Ousmane", "Pape", "Saliou",
    "Serigne", "Souleymane", "Youssou",
)  # fmt: skip
COMMUNES = {
    "Dakar": (
        "Médina",
        "Grand Dakar",
        "Parcelles Assainies",
        "Pikine Est",
        "Guédiawaye",
        "Rufisque Est",
        "HLM",
    ),
    "Thiès": ("Thiès Nord", "Thiès Est", "Tivaouane", "Mbour", "Joal-Fadiouth", "Pout"),
    "Kaolack": ("Kaolack", "Kahone", "Ndoffane"),
}


def _person(
    rng: random.Random, today: dt.date, *, sex: str, age: tuple[int, int], family: str
) -> services.PersonInput:
    year = today.year - rng.randint(*age)
    exact = rng.random() < 0.7  # many older members only know the year
    birth = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{year}" if exact else f"vers {year}"
    return services.PersonInput(
        last_name=family, first_names=rng.choice(WOMEN if sex == "F" else MEN), sex=sex, birth=birth
    )


def generate(
    session: Session,
    tenant: TenantRef,
    *,
    sector: str,
    associations: list[tuple[int, str]],
    per_association: int,
) -> int:
    """Enrol ``per_association`` households in each association that has none yet; return how many."""
    actor, today, created = Actor.system("demo"), dt.date(2026, 11, 1), 0
    with tenant_scope(session, tenant):
        for association_id, region in associations:
            existing = session.scalar(select(func.count()).where(Member.association_id == association_id))
            if existing:
                continue
            rng = random.Random(f"{tenant.slug}:{association_id}")  # noqa: S311 - demo data, not secrets
            trades = [t for t in trades_for(sector) if t != "autre"]
            communes = COMMUNES.get(region, COMMUNES["Dakar"])
            for _ in range(per_association):
                family, sex = rng.choice(FAMILY_NAMES), rng.choice("FM")
                head = _person(rng, today, sex=sex, age=(22, 70), family=family)
                phone = f"7{rng.choice('0678')}{rng.randint(0, 9_999_999):07d}"
                head = services.PersonInput(
                    **{**head.__dict__, "phone": phone, "trade": rng.choice(trades), "region": region,
                       "commune": rng.choice(communes), "birth_place": rng.choice(communes)},
                )  # fmt: skip
                dependants = []
                if rng.random() < 0.75:
                    spouses = 2 if sex == "M" and rng.random() < 0.15 else 1
                    for _s in range(spouses):
                        dependants.append(
                            services.DependantInput(
                                _person(
                                    rng,
                                    today,
                                    sex="F" if sex == "M" else "M",
                                    age=(20, 60),
                                    family=rng.choice(FAMILY_NAMES),
                                ),
                                "spouse",
                            )  # fmt: skip
                        )
                for _c in range(rng.choice((0, 1, 2, 2, 3, 4))):
                    dependants.append(
                        services.DependantInput(
                            _person(rng, today, sex=rng.choice("FM"), age=(1, 17), family=family), "child"
                        )
                    )
                consent = services.ConsentInput(given_on=today) if rng.random() < 0.9 else None
                member = services.enrol(
                    session, tenant, actor, person=head, association_id=association_id, sector=sector,
                    dependants=dependants, consent=consent, allow_duplicates=True,
                    enrolled_on=today - dt.timedelta(days=rng.randint(0, 900)), today=today,
                )  # fmt: skip
                created += 1 + len(member.dependants)
            session.commit()
    return created
