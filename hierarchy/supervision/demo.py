"""``mbolo demo``: a ministry supervisor, a few alert rules and population targets, then the snapshots of
every demo mutual computed so that the national dashboard shows real figures. Running it twice changes
nothing (the account and rules are looked up first; a refresh replaces what it computes)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.security.actor import Actor
from app.security.services import ensure_account
from hierarchy import services as hierarchy
from hierarchy.supervision import alerts, dashboard, snapshots
from hierarchy.supervision.models import AlertRule

MINISTRY = "MIN-SANTE"
EMAIL = "superviseur.ministere@mbolo.sn"
#: (kind, threshold, applies to) set on the ministry node.
RULES = (
    ("collection_rate_below", Decimal(60), "association"),
    ("expenses_above_revenue", Decimal(100), "federation"),
    ("complaints_overdue_above", Decimal(0), "federation"),
    ("ceiling_near_above", Decimal(5), "federation"),
)
#: Population targets (people a node aims to cover this year).
TARGETS = (("MIN-SANTE", 2_000), ("FED-ART", 1_200), ("FED-COM", 600))


def load(
    session: Session, password: str, *, ministry_code: str = MINISTRY, email: str = EMAIL
) -> list[object]:
    from app.demo import DemoLogin

    actor = Actor.system("demo")
    ministry = hierarchy.find_node_by_code(session, ministry_code)
    if ministry is None:
        return []
    ensure_account(
        session,
        actor,
        email=email,
        full_name="Mariama Ba",
        password=password,
        grants=((ministry.id, "supervisor"),),
    )
    if session.scalar(select(AlertRule.id).where(AlertRule.node_id == ministry.id)) is None:
        for kind, threshold, applies_to in RULES:
            alerts.create_rule(
                session, actor, ministry, kind=kind, threshold=threshold, applies_to=applies_to
            )
    year = clock.today().year
    for code, population in TARGETS:
        node = hierarchy.find_node_by_code(session, code)
        if node is not None and dashboard.targets(session, [node.id], year).get(node.id) is None:
            dashboard.set_target(session, actor, node, year=year, population=population)
    session.commit()
    snapshots.refresh_all(session, actor, full=True)
    return [DemoLogin(email, "Superviseuse nationale (ministère) : tableaux de bord, alertes, rapports")]
