"""Mutual alpha's session for the coverage tests: as a fixture, or as a context of its own for tests that
also use the web client (which must not share the test's session)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.orm import Session

from app.extensions import db
from tenants.context import tenant_scope


@pytest.fixture
def alpha(session: Session, world) -> Iterator[Session]:
    with tenant_scope(session, world.alpha):
        yield session
        session.rollback()


@contextmanager
def in_alpha(app, world) -> Iterator[Session]:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        yield db.session
