"""The demo's complaints: every state is there, escalations included, and a second run adds nothing."""

from __future__ import annotations

from sqlalchemy import select

from app.complaints import demo
from app.complaints.models import Complaint
from app.extensions import db
from tenants.context import tenant_scope


def test_demo_complaints_cover_every_state_once(app, mutual):
    with app.app_context():
        assert demo.generate(db.session, mutual.tenant) == demo.COUNT
        assert demo.generate(db.session, mutual.tenant) == 0
        with tenant_scope(db.session, mutual.tenant):
            rows = db.session.scalars(select(Complaint)).all()
    assert len(rows) == demo.COUNT
    assert {c.status.value for c in rows} == {"received", "acknowledged", "in_progress", "answered", "closed"}
    assert {c.channel.value for c in rows} == {"portal", "counter"}
    assert {c.escalation_level for c in rows} == {0, 1, 2}
    assert any(c.rating for c in rows) and any(c.reopened_count for c in rows)
