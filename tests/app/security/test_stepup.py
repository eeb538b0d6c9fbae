"""Step-up approval of critical functions: one approval, one operation, these data, a few minutes."""

import datetime as dt

from sqlalchemy import select, update

from app.extensions import db
from app.security.models import Account, Grant, Profile, StepUpApproval
from tests.fixtures.security import approval_token, step_up

BASE_GRANT = ("ASS-A", "association_agent")  # puts the target in the administrator's reach


def _grants(app, public_id):
    """The target's grants besides the one it was created with."""
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.public_id == public_id))
        return sorted(
            (g.node.code, g.profile.code)
            for g in account.grants
            if (g.node.code, g.profile.code) != BASE_GRANT
        )


def _grant_url(staff):
    return f"/admin/comptes/{staff.public_id}/attributions"


def test_granting_a_profile_asks_for_a_step_up_and_comes_back_to_the_action(app, login, make_staff):
    admin, target = make_staff(("FED-A", "mutual_manager")), make_staff(BASE_GRANT, mfa_enrolled=False)
    client = login(admin.email)
    data = {"node": "LIG-A", "profile": "association_agent"}

    asked = client.post(_grant_url(target), data=data)
    assert _grants(app, target.public_id) == []  # nothing before the confirmation
    confirmation = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert (
        "Attribuer un profil" in confirmation
        and "LIG-A" in confirmation
        and "Agent d&#39;association" in confirmation
    )

    token = step_up(client, asked, admin.next_code())
    continued = client.get(f"/securite/confirmation/{token}").get_data(as_text=True)
    assert (
        'name="node" value="LIG-A"' in continued and 'name="profile" value="association_agent"' in continued
    )

    done = client.post(_grant_url(target), data={**data, "_stepup": token})
    assert done.status_code == 302
    assert _grants(app, target.public_id) == [("LIG-A", "association_agent")]


def test_an_approval_serves_once(app, login, make_staff):
    admin, target = make_staff(("FED-A", "mutual_manager")), make_staff(BASE_GRANT, mfa_enrolled=False)
    client = login(admin.email)
    data = {"node": "ASS-A", "profile": "customer_service"}
    token = step_up(client, client.post(_grant_url(target), data=data), admin.next_code())
    assert client.post(_grant_url(target), data={**data, "_stepup": token}).status_code == 302

    with app.app_context():  # the grant is revoked by someone else; replaying the approval must not re-add it
        db.session.execute(
            Grant.__table__.delete().where(
                Grant.account_id
                == select(Account.id).where(Account.public_id == target.public_id).scalar_subquery(),
                Grant.profile_id
                == select(Profile.id).where(Profile.code == "customer_service").scalar_subquery(),
            )
        )
        db.session.commit()
    replay = client.post(_grant_url(target), data={**data, "_stepup": token})
    assert replay.status_code == 303 and "/securite/confirmation/" in replay.headers["Location"]
    assert _grants(app, target.public_id) == []


def test_an_approval_does_not_cover_changed_data_nor_another_operation(app, login, make_staff):
    admin, target = make_staff(("FED-A", "mutual_manager")), make_staff(BASE_GRANT, mfa_enrolled=False)
    client = login(admin.email)
    approved_data = {"node": "ASS-A", "profile": "customer_service"}
    token = step_up(client, client.post(_grant_url(target), data=approved_data), admin.next_code())

    changed = client.post(
        _grant_url(target), data={"node": "LIG-A", "profile": "customer_service", "_stepup": token}
    )
    assert changed.status_code == 303, "changed data need a new approval"
    assert _grants(app, target.public_id) == []

    with app.app_context():  # the approval was voided: not even the original data pass with it now
        approval = db.session.scalar(select(StepUpApproval).where(StepUpApproval.token == token))
        assert approval.consumed_at is not None and approval.payload is None
    assert client.post(_grant_url(target), data={**approved_data, "_stepup": token}).status_code == 303

    token = step_up(client, client.post(_grant_url(target), data=approved_data), admin.next_code())
    other = client.post(
        "/admin/comptes/inviter",
        data={"full_name": "X", "email": "x@test.sn", "locale": "fr", "node": "ASS-A",
              "profile": "customer_service", "_stepup": token},
    )  # fmt: skip
    assert other.status_code == 303, "an approval of a grant does not approve an invitation"
    assert _grants(app, target.public_id) == []


def test_an_expired_approval_asks_again_and_keeps_what_was_typed(app, login, make_staff):
    admin, target = make_staff(("FED-A", "mutual_manager")), make_staff(BASE_GRANT, mfa_enrolled=False)
    client = login(admin.email)
    data = {"node": "ASS-A", "profile": "customer_service"}
    asked = client.post(_grant_url(target), data=data)
    token = approval_token(asked)
    with app.app_context():
        db.session.execute(
            update(StepUpApproval).where(StepUpApproval.token == token)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )  # fmt: skip
        db.session.commit()

    page = client.get(f"/securite/confirmation/{token}").get_data(as_text=True)
    assert "délai de confirmation est dépassé" in page
    assert 'name="node" value="ASS-A"' in page and 'name="profile" value="customer_service"' in page
    refused = client.post(f"/securite/confirmation/{token}", data={"code": admin.next_code()})
    assert "data-autosubmit" not in refused.get_data(as_text=True)

    again = client.post(_grant_url(target), data=data)  # "Recommencer" posts the kept input back
    token = step_up(client, again, admin.next_code())
    assert client.post(_grant_url(target), data={**data, "_stepup": token}).status_code == 302
    assert _grants(app, target.public_id) == [("ASS-A", "customer_service")]


def test_an_approval_expiring_between_the_code_and_the_action_asks_again(app, login, make_staff):
    admin, target = make_staff(("FED-A", "mutual_manager")), make_staff(BASE_GRANT, mfa_enrolled=False)
    client = login(admin.email)
    data = {"node": "ASS-A", "profile": "customer_service"}
    token = step_up(client, client.post(_grant_url(target), data=data), admin.next_code())
    with app.app_context():
        db.session.execute(
            update(StepUpApproval).where(StepUpApproval.token == token)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )  # fmt: skip
        db.session.commit()
    late = client.post(_grant_url(target), data={**data, "_stepup": token})
    assert late.status_code == 303
    new_token = approval_token(late)
    assert new_token != token
    assert "expiré" in client.get(late.headers["Location"]).get_data(as_text=True)
    assert _grants(app, target.public_id) == []


def test_json_callers_get_rfc_9470_challenge_then_retry_with_the_approval(app, login, make_staff):
    admin, target = make_staff(("FED-A", "mutual_manager")), make_staff(BASE_GRANT, mfa_enrolled=False)
    client = login(admin.email)
    data = {"node": "ASS-A", "profile": "accountant"}
    challenged = client.post(_grant_url(target), data=data, headers={"Accept": "application/json"})
    assert challenged.status_code == 401
    assert challenged.headers["WWW-Authenticate"].startswith(
        'Bearer error="insufficient_user_authentication"'
    )
    token = challenged.json["approval"]

    approved = client.post(
        challenged.json["approve_url"],
        data={"code": admin.next_code()},
        headers={"Accept": "application/json"},
    )
    assert approved.json == {"approved": True, "approval": token, "action_url": _grant_url(target)}
    done = client.post(_grant_url(target), data=data, headers={"Mbolo-Approval": token})
    assert done.status_code == 302
    assert _grants(app, target.public_id) == [("ASS-A", "accountant")]


def test_htmx_callers_are_sent_to_the_confirmation_by_header(login, make_staff):
    admin, target = make_staff(("FED-A", "mutual_manager")), make_staff(BASE_GRANT, mfa_enrolled=False)
    client = login(admin.email)
    response = client.post(
        _grant_url(target), data={"node": "ASS-A", "profile": "accountant"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith("/securite/confirmation/")


def test_an_account_without_a_second_factor_must_enrol_before_a_critical_function(login, make_staff):
    admin, target = (
        make_staff(("FED-A", "mutual_manager"), mfa_enrolled=False),
        make_staff(BASE_GRANT, mfa_enrolled=False),
    )
    client = login(admin.email)
    asked = client.post(_grant_url(target), data={"node": "ASS-A", "profile": "accountant"})
    confirmation = client.get(asked.headers["Location"])
    assert confirmation.status_code == 302
    assert "/compte/double-authentification?next=/securite/confirmation/" in confirmation.headers["Location"]


def test_another_accounts_approval_is_worthless(app, login, make_staff):
    first, second = make_staff(("FED-A", "mutual_manager")), make_staff(("FED-A", "mutual_manager"))
    target = make_staff(BASE_GRANT, mfa_enrolled=False)
    data = {"node": "ASS-A", "profile": "accountant"}
    client = login(first.email)
    token = step_up(client, client.post(_grant_url(target), data=data), first.next_code())
    client.post("/deconnexion")
    other = login(second.email)
    assert other.post(_grant_url(target), data={**data, "_stepup": token}).status_code == 303
    assert _grants(app, target.public_id) == []
