"""Members in mutual alpha (fédération FED-A → ligue LIG-A → association ASS-A)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from app.database import local_today
from app.extensions import db
from app.members import services
from app.members.models import Member
from app.members.services import ConsentInput, DependantInput, PersonInput
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM, node


@pytest.fixture
def alpha(session: Session, world) -> Iterator[Session]:
    """The session inside mutual alpha's scope."""
    with tenant_scope(session, world.alpha):
        yield session


def person(**overrides: str) -> PersonInput:
    """A distinct person each call (random names), unless names are given."""
    token = uuid.uuid4().hex[:8]
    values = {
        "last_name": f"Diop{token}", "first_names": f"Awa{token}", "sex": "F", "birth": "12/03/1985",
        "phone": "", "trade": "tailleur",
    }  # fmt: skip
    return PersonInput(**{**values, **overrides})


@pytest.fixture
def enrol(alpha: Session, world) -> Callable[..., Member]:
    def make(
        *, dependants: tuple[DependantInput, ...] = (), consent: bool = True, **overrides: str
    ) -> Member:
        member = services.enrol(
            alpha, world.alpha, SYSTEM, person=person(**overrides), association_id=node("ASS-A").id,
            sector="artisanat", dependants=dependants, allow_duplicates=True,  # random names may look alike
            consent=ConsentInput(given_on=local_today()) if consent else None,
        )  # fmt: skip
        alpha.commit()
        return member

    return make


@dataclass(frozen=True)
class Enrolled:
    id: int
    public_id: str
    number: str


@pytest.fixture
def enrolled(app, world) -> Callable[..., Enrolled]:
    """Enrol through the service in a context of its own (for tests that then use the web client, which
    must not share the test's session)."""

    def make(*, consent: bool = True, **overrides: str) -> Enrolled:
        with app.app_context(), tenant_scope(db.session, world.alpha):
            member = services.enrol(
                db.session, world.alpha, SYSTEM, person=person(**overrides), association_id=node("ASS-A").id,
                sector="artisanat", consent=ConsentInput(given_on=local_today()) if consent else None,
                allow_duplicates=True,
            )  # fmt: skip
            db.session.commit()
            return Enrolled(member.id, member.public_id, member.number)

    return make
