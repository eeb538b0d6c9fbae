"""Grants apply to their node's subtree only; profiles are edited by administrators, within limits."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.security import profiles
from app.security.accounts import check_grant_allowed
from app.security.actor import actor_for
from app.security.models import Account, Profile
from app.security.permissions import BUILT_IN_PROFILES, PERMISSIONS, Permission
from hierarchy import services as hierarchy
from hierarchy.services import NodeDetails
from tests.fixtures.app import SYSTEM, node, unique
from tests.fixtures.security import step_up


@pytest.fixture
def league_b(session):
    created = hierarchy.create_child(
        session, SYSTEM, parent=node("FED-A"), code=unique("LIG-B"), details=NodeDetails(name="Ligue B")
    )
    session.commit()
    return created


def _actor(session, email):
    return actor_for(session.scalar(select(Account).where(Account.email == email)))


def test_a_grant_at_league_a_gives_nothing_at_league_b(app, session, login, make_staff, league_b):
    staff = make_staff(("LIG-A", "mutual_manager"), mfa_enrolled=False)
    actor = _actor(session, staff.email)
    assert actor.can("hierarchy.manage", node("ASS-A").path)
    assert not actor.can("hierarchy.manage", league_b.path)
    assert not actor.can("hierarchy.read", node("FED-A").path)  # not upwards either

    client = login(staff.email)
    assert client.get(f"/hierarchie/noeuds/{node('ASS-A').public_id}/modifier").status_code == 200
    assert client.get(f"/hierarchie/noeuds/{league_b.public_id}/modifier").status_code == 403


def test_nobody_hands_out_more_than_they_hold_nor_to_themselves(session, make_staff):
    manager = make_staff(("FED-A", "mutual_manager"), mfa_enrolled=False)
    actor = _actor(session, manager.email)
    own = session.scalar(select(Account).where(Account.email == manager.email))
    admin_profile = profiles.get_profile(session, "platform_admin")
    agent_profile = profiles.get_profile(session, "association_agent")
    check_grant_allowed(actor, None, node("ASS-A"), agent_profile)  # fine
    with pytest.raises(Exception, match="droits que vous n'avez pas"):
        check_grant_allowed(actor, None, node("ASS-A"), admin_profile)
    with pytest.raises(Exception, match="sur ce nœud"):
        check_grant_allowed(actor, None, node("FED-B"), agent_profile)
    with pytest.raises(Exception, match="vous-même"):
        check_grant_allowed(actor, own, node("ASS-A"), agent_profile)


def test_a_refused_grant_shows_the_reason_next_to_the_field(login, make_staff):
    manager = make_staff(("FED-A", "mutual_manager"))
    target = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    client = login(manager.email)
    page = client.post(
        f"/admin/comptes/{target.public_id}/attributions", data={"node": "ASS-A", "profile": "platform_admin"}
    )
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="profile-error"' in body and "tenants.create" in body


def test_editing_a_profile_changes_what_its_holders_may_do_at_once(app, login, make_staff):
    admin = make_staff(platform_admin=True)
    holder = make_staff(("ASS-A", "customer_service"), mfa_enrolled=False)
    holder_client = app.test_client()
    holder_client.post("/connexion", data={"login": holder.email, "password": "correct horse battery staple"})
    assert holder_client.get("/hierarchie/").status_code == 200

    client = login(admin.email)
    with app.app_context():
        current = sorted(profiles.get_profile(db.session, "customer_service").permissions)
    data = {
        "name": "Agent service client",
        "description": "",
        "permissions": [p for p in current if p != "hierarchy.read"],
    }
    token = step_up(client, client.post("/admin/profils/customer_service", data=data), admin.next_code())
    assert client.post("/admin/profils/customer_service", data={**data, "_stepup": token}).status_code == 302
    try:
        assert holder_client.get("/hierarchie/").status_code == 403
    finally:
        with app.app_context():
            profile = profiles.get_profile(db.session, "customer_service")
            profiles.update_profile(
                db.session, SYSTEM, profile, name=profile.name, description="", permissions=current
            )
            db.session.commit()


def test_profiles_are_created_and_deleted_but_built_in_ones_stay(app, login, make_staff):
    admin = make_staff(platform_admin=True)
    client = login(admin.email)
    bad = client.post(
        "/admin/profils/nouveau",
        data={"code": "Caissier!", "name": "Caissier", "permissions": ["payments.read"]},
    )
    assert 'id="code-error"' in bad.get_data(as_text=True)
    data = {
        "code": "caissier",
        "name": "Caissier",
        "description": "Guichet",
        "permissions": ["payments.read", "contributions.record"],
    }
    token = step_up(client, client.post("/admin/profils/nouveau", data=data), admin.next_code())
    assert client.post("/admin/profils/nouveau", data={**data, "_stepup": token}).status_code == 302
    with app.app_context():
        assert profiles.get_profile(db.session, "caissier").permissions == {
            "payments.read",
            "contributions.record",
        }

    token = step_up(client, client.post("/admin/profils/caissier/supprimer"), admin.next_code())
    assert client.post("/admin/profils/caissier/supprimer", data={"_stepup": token}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Profile).where(Profile.code == "caissier")) is None
        with pytest.raises(Exception, match="prédéfini"):
            profiles.delete_profile(db.session, SYSTEM, profiles.get_profile(db.session, "supervisor"))


def test_seven_profiles_are_seeded(session):
    codes = {p.code for p in profiles.list_profiles(session)}
    assert set(BUILT_IN_PROFILES) <= codes
    assert {"platform_admin", "supervisor", "mutual_manager", "association_agent", "medical_adviser",
            "accountant", "customer_service"} <= codes  # fmt: skip
    supervisor = profiles.get_profile(session, "supervisor").permissions
    # Supervisors change no mutual's data; handling the alerts of their subtree is their own job.
    assert "reports.read" in supervisor and not any(
        p.endswith((".manage", ".record", ".enrol")) for p in supervisor - {"alerts.manage"}
    )


def test_a_new_permission_reaches_the_built_in_profiles_once_without_undoing_edits(session, monkeypatch):
    supervisor = profiles.get_profile(session, "supervisor")
    supervisor.permission_rows = [
        p for p in supervisor.permission_rows if p.code != "reports.read"
    ]  # an edit
    session.flush()
    monkeypatch.setitem(PERMISSIONS, "reports.schedule", Permission("reports.schedule", "Planifier"))
    name, defaults = BUILT_IN_PROFILES["supervisor"]
    monkeypatch.setitem(BUILT_IN_PROFILES, "supervisor", (name, defaults | {"reports.schedule"}))

    assert profiles.sync_catalog(session) == ["reports.schedule"]
    supervisor = profiles.get_profile(session, "supervisor")
    assert "reports.schedule" in supervisor.permissions
    assert "reports.read" not in supervisor.permissions  # the administrator's edit stands
    assert "reports.schedule" not in profiles.get_profile(session, "accountant").permissions
    assert profiles.sync_catalog(session) == []  # idempotent
