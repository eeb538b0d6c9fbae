"""The demo's supervision: a ministry supervisor who lands on the national dashboard with real figures, the
default alert rules, and a second run that adds nothing."""

from __future__ import annotations

from sqlalchemy import func, select, text

from app.security.models import Account
from hierarchy import services as hierarchy
from hierarchy.supervision import demo
from hierarchy.supervision.models import AlertRule, Refresh
from tests.fixtures.app import PASSWORD, unique


def test_demo_supervisor_rules_and_snapshots(session, world, client):
    code, email = "MIN", f"{unique('demo').lower()}@test.sn"
    root = hierarchy.find_node_by_code(session, code)
    try:
        _check(session, world, client, root, code, email)
    finally:  # the demo's rules sit on the tests' ministry: they must not judge the other tests' mutuals
        session.rollback()
        session.execute(
            text("UPDATE supervision_alert_rules SET active = false WHERE node_id = :n"), {"n": root.id}
        )
        session.commit()


def _check(session, world, client, root, code, email):
    logins = demo.load(session, PASSWORD, ministry_code=code, email=email)
    assert [login.email for login in logins] == [email]
    assert (
        session.scalar(select(func.count()).select_from(AlertRule).where(AlertRule.node_id == root.id)) == 4
    )
    refreshed = session.scalars(select(Refresh.tenant_id)).all()
    assert {world.alpha.id, world.beta.id} <= set(refreshed)
    demo.load(session, PASSWORD, ministry_code=code, email=email)
    assert (
        session.scalar(select(func.count()).select_from(AlertRule).where(AlertRule.node_id == root.id)) == 4
    )
    assert session.scalar(select(func.count()).select_from(Account).where(Account.email == email)) == 1
    session.execute(
        text("UPDATE supervision_alert_rules SET active = false WHERE node_id = :n"), {"n": root.id}
    )
    session.commit()
    client.post("/connexion", data={"login": email, "password": PASSWORD})
    landing = client.get("/supervision/")
    assert landing.status_code == 302 and root.public_id in landing.headers["Location"]
