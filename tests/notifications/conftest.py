"""Notifications tests: a member of alpha inside alpha's scope, and settings switched per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session

from app.extensions import db
from app.members import services as members
from app.members.models import Member
from app.members.services import ConsentInput
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM, node
from tests.fixtures.members import person


@pytest.fixture
def alpha_session(app, world) -> Iterator[Session]:
    """The app's session inside alpha's scope; uncommitted work is rolled back."""
    with app.app_context(), tenant_scope(db.session, world.alpha):
        yield db.session
        db.session.rollback()


@pytest.fixture
def make_member(alpha_session: Session, world) -> Callable[..., Member]:
    def make(**overrides: str) -> Member:
        return members.enrol(
            alpha_session, world.alpha, SYSTEM, person=person(**overrides), association_id=node("ASS-A").id,
            sector="artisanat", consent=ConsentInput(given_on=__import__("app.clock").clock.today()),
            allow_duplicates=True,
        )  # fmt: skip

    return make


@pytest.fixture
def settings(app) -> Iterator[Callable[..., None]]:
    """Set notification settings in the app's config for one test, restored after."""
    saved: dict[str, object] = {}

    def set_(**values: object) -> None:
        for key, value in values.items():
            saved.setdefault(key, app.config.get(key))
            app.config[key] = value

    yield set_
    for key, value in saved.items():
        if value is None:
            app.config.pop(key, None)
        else:
            app.config[key] = value
