"""Fixtures of the supervision tests: a mutual of its own (fédération → 2 ligues → 2 associations each) with a
year of synthetic activity, so the figures do not depend on what other tests put in alpha or beta."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from app import clock
from hierarchy import services as hierarchy
from hierarchy.services import NodeDetails
from hierarchy.supervision.synthetic import populate
from tenants.context import TenantRef, tenant_scope
from tests.fixtures.app import SYSTEM, node, unique


@dataclass(frozen=True)
class Mutual:
    tenant: TenantRef
    federation: int
    leagues: dict[str, int]
    associations: dict[str, int]  # code → id
    federation_code: str
    today: dt.date


@pytest.fixture(name="supervised_mutual")
def supervised_mutual_fixture(
    session: Session, create_mutual: Callable[..., TenantRef]
) -> Callable[..., Mutual]:
    def make(households: int = 120, sector: str = "artisanat") -> Mutual:
        tenant = create_mutual(unique("sup").lower()[:12], sector=sector)
        federation = hierarchy.find_node_by_code(
            session,
            session.execute(
                __import__("sqlalchemy").text(
                    "SELECT n.code FROM tenants t JOIN hierarchy_nodes n ON n.id = t.federation_id "
                    "WHERE t.id = :id"
                ),
                {"id": tenant.id},
            ).scalar_one(),
        )
        leagues, associations = {}, {}
        for league_name, region in (("L1", "Dakar"), ("L2", "Thiès")):
            league = hierarchy.create_child(
                session,
                SYSTEM,
                parent=federation,
                code=unique(f"{league_name}-"),
                details=NodeDetails(name=f"Ligue {league_name}", region=region),
            )
            leagues[league_name] = league.id
            for i in (1, 2):
                association = hierarchy.create_child(
                    session,
                    SYSTEM,
                    parent=league,
                    code=unique(f"A{league_name}{i}-"),
                    details=NodeDetails(name=f"Association {league_name}-{i}", region=region),
                )
                associations[f"{league_name}-{i}"] = association.id
        session.commit()
        today = clock.today()
        start = (today.replace(day=1) - dt.timedelta(days=330)).replace(day=1)
        with tenant_scope(session, tenant):
            populate(
                session,
                associations=list(associations.values()),
                households=households,
                start=start,
                months=12,
                today=today,
                prefix=tenant.slug.upper()[:8],
            )
            session.commit()
        return Mutual(tenant, federation.id, leagues, associations, federation.code, today)

    return make


__all__ = ["Mutual", "node", "supervised_mutual_fixture"]
