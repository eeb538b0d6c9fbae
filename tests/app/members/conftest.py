"""Members in mutual alpha (fédération FED-A → ligue LIG-A → association ASS-A)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session

from app.database import local_today
from app.members import services
from app.members.models import Member
from app.members.services import ConsentInput, DependantInput
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM, node
from tests.fixtures.members import person  # noqa: F401 - tests import it from here too


@pytest.fixture
def alpha(session: Session, world) -> Iterator[Session]:
    """The session inside mutual alpha's scope."""
    with tenant_scope(session, world.alpha):
        yield session


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
