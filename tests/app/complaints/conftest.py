"""A mutual of its own for complaint tests (fédération → ligue → associations A and B), with staff at each
level and a member in each association, all committed: the escalation task runs in its own context."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.database import local_today
from app.extensions import db
from app.members import services as members
from app.members.services import ConsentInput
from app.security.actor import Actor, actor_for
from app.security.models import Account
from app.security.services import ensure_account
from hierarchy import services as hierarchy
from hierarchy.services import NodeDetails
from tenants.context import TenantRef, tenant_scope
from tests.fixtures.app import PASSWORD, SYSTEM, unique
from tests.fixtures.members import person


@dataclass(frozen=True)
class Mutual:
    tenant: TenantRef
    federation_id: int
    league_id: int
    association_a: int
    association_b: int
    #: e-mail → account id: agent of A, agent of B, ligue officer, fédération manager, a reader of A.
    accounts: dict[str, int]
    member_a: int  # member ids
    member_b: int
    member_a2: int

    def email(self, role: str) -> str:
        return next(e for e in self.accounts if e.startswith(role))


@pytest.fixture
def mutual(app: Flask, world: object, create_mutual: Callable[..., TenantRef]) -> Mutual:
    slug = f"rec{uuid.uuid4().hex[:6]}"
    tenant = create_mutual(slug)
    with app.app_context():
        session = db.session
        from tenants.models import Tenant

        federation = session.get(Tenant, tenant.id).federation  # type: ignore[union-attr]
        league = hierarchy.create_child(
            session,
            SYSTEM,
            parent=federation,
            code=unique("LIG-"),
            details=NodeDetails(name="Ligue de Thiès"),
        )
        a = hierarchy.create_child(
            session, SYSTEM, parent=league, code=unique("ASS-"), details=NodeDetails(name="Association A")
        )
        b = hierarchy.create_child(
            session, SYSTEM, parent=league, code=unique("ASS-"), details=NodeDetails(name="Association B")
        )
        roles = (
            ("agent-a", a.id, "association_agent"),
            ("agent-b", b.id, "association_agent"),
            ("ligue", league.id, "association_agent"),
            ("federation", federation.id, "mutual_manager"),
            ("reader-a", a.id, "supervisor"),
        )
        accounts = {}
        for role, node_id, profile in roles:
            email = f"{role}-{slug}@test.sn"
            account = ensure_account(
                session, SYSTEM, email=email, full_name=f"{role} {slug}", password=PASSWORD,
                grants=((node_id, profile),),
            )  # fmt: skip
            accounts[email] = account.id
        session.commit()
        ids = (federation.id, league.id, a.id, b.id)
        with tenant_scope(session, tenant):
            enrolled = [
                members.enrol(
                    session, tenant, SYSTEM, person=person(trade="boutiquier"), association_id=association,
                    sector="commerce",
                    consent=ConsentInput(given_on=local_today()), allow_duplicates=True,
                ).id
                for association in (a.id, b.id, a.id)
            ]  # fmt: skip
            session.commit()
    return Mutual(tenant, *ids, accounts, *enrolled)


def actor_of(account_id: int) -> Actor:
    """The account's actor (read outside any tenant scope, as the web layer does)."""
    account = db.session.get(Account, account_id)
    assert account is not None
    return actor_for(account)


@pytest.fixture
def actors(session: Session, mutual: Mutual) -> dict[str, Actor]:
    """Each role's actor (grants, profiles and nodes are readable inside a tenant's scope too)."""
    roles = ("agent-a", "agent-b", "ligue", "federation", "reader-a")
    return {role: actor_of(mutual.accounts[mutual.email(role)]) for role in roles}


@pytest.fixture
def scoped(session: Session, mutual: Mutual) -> Iterator[Session]:
    """The test's session inside the mutual's scope."""
    with tenant_scope(session, mutual.tenant):
        yield session


def at(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


__all__ = ["Mutual", "actor_of", "at", "select"]
