"""Signing in to the portal: member number + one-time SMS code; wrong, expired, replayed and reused codes;
rate limits; answers that do not tell whether a number exists; activation; password; sessions."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select, update

from app.audit.models import TenantAuditEvent
from app.extensions import db, limiter
from notifications.models import OutboxMessage
from portal.models import PortalAccess, SignInCode
from tenants.context import tenant_scope
from tests.portal.conftest import last_code

NEUTRAL = "Si le numéro"


def _ask(client, number, tenant="alpha"):
    return client.post(f"/{tenant}/portail/connexion", data={"number": number})


def _code(client, code, tenant="alpha"):
    return client.post(f"/{tenant}/portail/connexion/code", data={"code": code})


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_member_signs_in_with_the_code_sent_by_sms_and_is_welcomed_once(
    app, world, client, make_household, portal_sign_in
):
    household = make_household()
    asked = _ask(client, household.principal.number.lower().replace("-", " "))
    assert asked.status_code == 303
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert NEUTRAL in page
    code = last_code(app, world, household.principal.id)
    signed = _code(client, code)
    assert signed.status_code == 303 and signed.headers["Location"].endswith("/alpha/portail/")
    home = client.get("/alpha/portail/")
    assert home.status_code == 200
    assert "Bonjour" in home.get_data(as_text=True)

    portal_sign_in(household.principal)  # a second sign-in, another device
    with app.app_context(), tenant_scope(db.session, world.alpha):
        access = db.session.scalar(
            select(PortalAccess).where(PortalAccess.member_id == household.principal.id)
        )
        assert access is not None and access.last_sign_in_at is not None
        welcomes = db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.member_id == household.principal.id, OutboxMessage.event == "portal.welcome")
        )
        assert welcomes >= 1  # written on activation only (one per channel the member allows)
        activations = db.session.scalar(
            select(func.count())
            .select_from(TenantAuditEvent)
            .where(
                TenantAuditEvent.action == "portal.activated",
                TenantAuditEvent.target_id == household.principal.number,
            )
        )
        assert activations == 1
        sms = db.session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.member_id == household.principal.id,
                OutboxMessage.event == "portal.sign_in_code",
            )  # fmt: skip
        )
        assert sms.channel == "sms"


def test_a_wrong_code_is_refused_and_five_tries_use_the_code_up(app, world, client, make_household):
    household = make_household()
    _ask(client, household.principal.number)
    code = last_code(app, world, household.principal.id)
    for _ in range(5):
        refused = _code(client, _wrong(code))
        assert refused.status_code == 401
        assert "code expiré" in refused.get_data(as_text=True)
    assert _code(client, code).status_code == 401  # the right code, too late: no try left
    assert client.get("/alpha/portail/").status_code == 302


def test_an_expired_code_is_refused(app, world, client, make_household):
    household = make_household()
    _ask(client, household.principal.number)
    code = last_code(app, world, household.principal.id)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        db.session.execute(
            update(SignInCode)
            .where(SignInCode.member_id == household.principal.id)
            .values(expires_at=SignInCode.created_at - dt.timedelta(seconds=1))
        )
        db.session.commit()
    assert _code(client, code).status_code == 401


def test_a_code_works_once_and_a_new_code_replaces_the_old(app, world, make_household):
    household = make_household()
    first = app.test_client()
    _ask(first, household.principal.number)
    old = last_code(app, world, household.principal.id)
    _ask(first, household.principal.number)
    new = last_code(app, world, household.principal.id)
    if new == old:  # one chance in a million: ask again
        _ask(first, household.principal.number)
        new = last_code(app, world, household.principal.id)
    assert _code(first, old).status_code == 401
    assert _code(first, new).status_code == 303

    replay = app.test_client()  # someone who saw the SMS, on another phone
    with replay.session_transaction() as state:
        state["mbolo_portal_pending"] = {"t": "alpha", "n": household.principal.number.replace("-", "")}
    assert _code(replay, new).status_code == 401
    assert replay.get("/alpha/portail/").status_code == 302


def test_unknown_numbers_minors_and_members_without_phone_get_the_same_answer(app, world, make_household):
    household = make_household()  # the spouse has no phone of their own: the adhérent's receives it
    answers = {}
    for label, number in (
        ("unknown", "ART-999999-00-X"),
        ("garbage", "hello"),
        ("minor", household.child.number),
        ("spouse", household.spouse.number),
    ):
        client = app.test_client()
        asked = _ask(client, number)
        assert asked.status_code == 303, label
        page = client.get(asked.headers["Location"]).get_data(as_text=True)
        page = re.sub(r'name="csrf_token" value="[^"]*"', "", page)
        answers[label] = page.replace(number.replace("-", "").upper(), "N")
    assert answers["unknown"] == answers["minor"] == answers["spouse"] == answers["garbage"]
    assert last_code(app, world, household.child.id) is None  # minors do not sign in
    assert last_code(app, world, household.spouse.id) is not None  # an adult ayant droit does


def test_code_requests_are_rate_limited_per_number_and_per_address(app, world, make_household):
    household = make_household()
    limiter.reset()
    app.config["MBOLO_PORTAL_NUMBER_RATE"] = "3 per minute"
    try:
        codes = [
            _ask(
                app.test_client(),
                household.principal.number,
            ).status_code
            for _ in range(4)
        ]  # four phones, one number
        assert codes == [303, 303, 303, 429]
        spelled = _ask(app.test_client(), household.principal.number.lower()).status_code
        assert spelled == 429  # any spelling is the same number
    finally:
        app.config.pop("MBOLO_PORTAL_NUMBER_RATE")
        limiter.reset()
    app.config["MBOLO_PORTAL_SIGN_IN_RATE"] = "2 per minute"
    try:
        client = app.test_client()
        codes = [
            client.post(
                "/alpha/portail/connexion",
                data={"number": f"ART-00000{i}-00-X"},
                environ_base={"REMOTE_ADDR": "10.7.7.7"},
            ).status_code  # fmt: skip
            for i in range(3)
        ]
        assert codes == [303, 303, 429]
    finally:
        app.config.pop("MBOLO_PORTAL_SIGN_IN_RATE")
        limiter.reset()


def test_a_password_can_be_chosen_then_used_and_signs_out_the_other_sessions(
    app, world, make_household, portal_sign_in
):
    household = make_household()
    phone = portal_sign_in(household.principal)
    tablet = portal_sign_in(household.principal)
    weak = phone.post(
        "/alpha/portail/mes-donnees/mot-de-passe", data={"password": "1234567890", "confirm": "1234567890"}
    )
    assert weak.status_code == 422 and "trop courant" in weak.get_data(as_text=True)
    secret = "le baobab de ma grand-mère"
    chosen = phone.post(
        "/alpha/portail/mes-donnees/mot-de-passe", data={"password": secret, "confirm": secret}
    )
    assert chosen.status_code == 303
    assert phone.get("/alpha/portail/").status_code == 200  # this session stays
    assert tablet.get("/alpha/portail/").status_code == 302  # the other one ended

    fresh = app.test_client()
    wrong = fresh.post(
        "/alpha/portail/connexion", data={"number": household.principal.number, "password": "nope nope nope"}
    )
    assert wrong.status_code == 401
    right = fresh.post(
        "/alpha/portail/connexion", data={"number": household.principal.number, "password": secret}
    )
    assert right.status_code == 303
    assert fresh.get("/alpha/portail/droits").status_code == 200


def test_sign_out_ends_the_portal_session_and_idle_sessions_expire(
    app, world, make_household, portal_sign_in
):
    household = make_household()
    client = portal_sign_in(household.principal)
    assert client.post("/alpha/portail/deconnexion").status_code == 303
    assert client.get("/alpha/portail/").status_code == 302

    client = portal_sign_in(household.principal)
    with client.session_transaction() as state:
        stamp = dict(state["mbolo_portal"])
        stamp["seen"] -= 31 * 60
        state["mbolo_portal"] = stamp
    assert client.get("/alpha/portail/").status_code == 302


def test_a_portal_session_is_not_a_staff_session(app, world, make_household, portal_sign_in):
    household = make_household()
    client = portal_sign_in(household.principal)
    assert client.get("/alpha/adherents/").status_code in (302, 401)  # staff pages ask for a staff sign-in
    staff_home = client.get("/hierarchie/")
    assert staff_home.status_code == 302 and "/connexion" in staff_home.headers["Location"]


def test_wrong_passwords_lock_the_password_until_a_code_sign_in(
    app, world, make_household, portal_sign_in, monkeypatch
):
    monkeypatch.setitem(app.config, "MBOLO_PORTAL_NUMBER_RATE", "100 per minute")  # the lock, not the limit
    household = make_household()
    client = portal_sign_in(household.principal)
    secret = "le fleuve coule vers la mer"
    client.post("/alpha/portail/mes-donnees/mot-de-passe", data={"password": secret, "confirm": secret})
    number = household.principal.number
    other = app.test_client()
    for _ in range(5):
        other.post("/alpha/portail/connexion", data={"number": number, "password": "pas le bon mot"})
    locked = other.post("/alpha/portail/connexion", data={"number": number, "password": secret})
    assert locked.status_code == 401  # the right password waits for a code sign-in
    portal_sign_in(household.principal)
    assert (
        other.post("/alpha/portail/connexion", data={"number": number, "password": secret}).status_code == 303
    )


def test_members_who_left_and_households_without_phone_get_no_code(app, world, make_household):
    from app.members.models import Member, MemberStatus

    gone, silent = make_household(), make_household()
    with app.app_context(), tenant_scope(db.session, world.alpha):
        db.session.get(Member, gone.principal.id).status = MemberStatus.left
        db.session.get(Member, silent.principal.id).phone = None
        db.session.commit()
    for who in (gone.principal, silent.principal):
        client = app.test_client()
        asked = _ask(client, who.number)
        assert asked.status_code == 303 and NEUTRAL in client.get(asked.headers["Location"]).get_data(
            as_text=True
        )
        assert last_code(app, world, who.id) is None


def test_a_member_who_leaves_is_signed_out_at_the_next_page(app, world, make_household, portal_sign_in):
    from app.members.models import Member, MemberStatus

    household = make_household()
    client = portal_sign_in(household.principal)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        db.session.get(Member, household.principal.id).status = MemberStatus.left
        db.session.commit()
    assert client.get("/alpha/portail/").status_code == 302
