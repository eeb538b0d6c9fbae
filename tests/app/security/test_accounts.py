"""Accounts: invitations and password links, progressive lockout, session timeouts, preferences."""

import datetime as dt
import re
import time

from sqlalchemy import select, update

from app.extensions import db
from app.security.models import Account, AccountStatus
from app.security.services import lock_duration
from app.security.sessions import SEEN_AT, SIGNED_IN_AT
from tests.fixtures.app import PASSWORD
from tests.fixtures.security import step_up

NEW_PASSWORD = "le baobab de Ndiaye fleurit"


def _status(app, email):
    """(status, whether a password is set)."""
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == email))
        return account.status, account.password_hash is not None


def _link(page):
    found = re.search(r'data-testid="issued-link">\s*http://[^/]+(/[^<\s]+)', page)
    assert found, page[:1000]
    return found.group(1)


def test_an_invited_person_chooses_a_password_through_a_single_use_link(app, client, login, make_staff):
    admin = make_staff(("FED-A", "mutual_manager"))
    agent = login(admin.email)
    data = {"full_name": "Awa Diop", "email": "awa.diop@test.sn", "phone": "", "locale": "fr",
            "node": "ASS-A", "profile": "association_agent"}  # fmt: skip
    token = step_up(agent, agent.post("/admin/comptes/inviter", data=data), admin.next_code())
    page = agent.post("/admin/comptes/inviter", data={**data, "_stepup": token}).get_data(as_text=True)
    link = _link(page)
    assert _status(app, "awa.diop@test.sn") == (AccountStatus.invited, False)
    agent.post("/deconnexion")

    newcomer = app.test_client()
    assert (
        newcomer.post("/connexion", data={"login": "awa.diop@test.sn", "password": "x" * 12}).status_code
        == 401
    )
    assert "Bienvenue, Awa Diop" in newcomer.get(link).get_data(as_text=True)
    weak = newcomer.post(link, data={"password": "azertyuiop", "confirm": "azertyuiop"})
    assert 'id="password-error"' in weak.get_data(as_text=True)
    done = newcomer.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/compte/")
    assert _status(app, "awa.diop@test.sn") == (AccountStatus.active, True)

    reused = app.test_client().get(link)
    assert reused.status_code == 410 and "déjà servi" in reused.get_data(as_text=True)
    signed_in = app.test_client()
    assert (
        signed_in.post("/connexion", data={"login": "awa.diop@test.sn", "password": NEW_PASSWORD}).status_code
        == 302
    )


def test_a_tampered_or_expired_link_is_refused(app, client):
    assert client.get("/invitation/not-a-real-token").status_code == 410
    app.config["MBOLO_INVITATION_HOURS"] = 0  # every link is already too old
    try:
        assert "n'est pas valide" in client.get("/invitation/eyJ.abc.def").get_data(as_text=True)
    finally:
        app.config["MBOLO_INVITATION_HOURS"] = 72


def test_an_administrator_issues_a_password_reset_link(app, login, make_staff):
    admin = make_staff(("FED-A", "mutual_manager"))
    colleague = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    client = login(admin.email)
    page = client.post(f"/admin/comptes/{colleague.public_id}/lien").get_data(as_text=True)
    link = _link(page)
    assert "/mot-de-passe/" in link
    other = app.test_client()
    assert other.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert (
        app.test_client()
        .post("/connexion", data={"login": colleague.email, "password": PASSWORD})
        .status_code
        == 401
    )


def test_lockout_grows_with_failures_and_an_administrator_unlocks(app, login, make_staff):
    assert lock_duration(4) is None and lock_duration(5).total_seconds() == 60
    assert lock_duration(7).total_seconds() == 240 and lock_duration(30).total_seconds() == 3600
    victim = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    attacker = app.test_client()
    for _ in range(5):
        assert (
            attacker.post("/connexion", data={"login": victim.email, "password": "wrong guess"}).status_code
            == 401
        )
    locked = app.test_client().post("/connexion", data={"login": victim.email, "password": PASSWORD})
    assert locked.status_code == 401 and "verrouillé" in locked.get_data(as_text=True)

    admin = make_staff(("FED-A", "mutual_manager"))
    client = login(admin.email)
    assert "Débloquer" in client.get(f"/admin/comptes/{victim.public_id}").get_data(as_text=True)
    assert client.post(f"/admin/comptes/{victim.public_id}/debloquer").status_code == 302
    assert (
        app.test_client().post("/connexion", data={"login": victim.email, "password": PASSWORD}).status_code
        == 302
    )


def test_the_lock_lifts_by_itself_after_its_delay(app, make_staff):
    victim = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    client = app.test_client()
    for _ in range(5):
        client.post("/connexion", data={"login": victim.email, "password": "wrong guess"})
    with app.app_context():
        db.session.execute(
            update(Account)
            .where(Account.email == victim.email)
            .values(locked_until=Account.locked_until - dt.timedelta(minutes=2))
        )
        db.session.commit()
    assert client.post("/connexion", data={"login": victim.email, "password": PASSWORD}).status_code == 302


def test_sign_in_is_rate_limited_per_address(app, make_staff):
    from app.extensions import limiter

    app.config["MBOLO_SIGN_IN_RATE"] = "3 per minute"
    limiter.reset()  # counters may outlive a run (Redis in CI)
    try:
        client = app.test_client()
        data = {"login": "nobody@test.sn", "password": "wrong"}
        codes = [
            client.post("/connexion", data=data, environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        elsewhere = client.post("/connexion", data=data, environ_base={"REMOTE_ADDR": "10.9.8.8"})
        assert elsewhere.status_code == 401
    finally:
        app.config["MBOLO_SIGN_IN_RATE"] = "1000 per minute"


def test_idle_and_absolute_timeouts_end_the_session(app, login, make_staff):
    staff = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    client = login(staff.email)
    assert client.get("/compte/").status_code == 200
    with client.session_transaction() as cookie:
        cookie[SEEN_AT] = int(time.time()) - app.config["MBOLO_IDLE_MINUTES"] * 60 - 5
    idle = client.get("/compte/")
    assert idle.status_code == 302 and "/connexion?next=/compte/" in idle.headers["Location"]
    assert client.get("/compte/").status_code == 302  # really signed out

    client = login(staff.email)
    with client.session_transaction() as cookie:
        cookie[SIGNED_IN_AT] = int(time.time()) - int(app.permanent_session_lifetime.total_seconds()) - 5
    assert client.get("/compte/").status_code == 302


def test_sign_out_everywhere_ends_the_other_sessions(app, make_staff):
    staff = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    phone, office = app.test_client(), app.test_client()
    for device in (phone, office):
        assert device.post("/connexion", data={"login": staff.email, "password": PASSWORD}).status_code == 302
    assert office.post("/compte/deconnexion-partout").status_code == 302
    assert phone.get("/compte/").status_code == 302
    assert office.get("/compte/").status_code == 302


def test_screen_preferences_apply_on_every_page(login, make_staff):
    staff = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    client = login(staff.email)
    bad = client.post(
        "/compte/", data={"full_name": "", "locale": "fr", "density": "compact", "text_size": "large"}
    )
    assert 'id="full_name-error"' in bad.get_data(as_text=True)
    saved = client.post(
        "/compte/",
        data={"full_name": "Moussa Fall", "locale": "fr", "density": "compact", "text_size": "large"},
    )
    assert saved.status_code == 302
    page = client.get("/hierarchie/").get_data(as_text=True)
    assert 'class="density-compact text-large"' in page


def test_changing_the_password_keeps_this_session_and_ends_the_others(app, make_staff):
    staff = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    here, there = app.test_client(), app.test_client()
    for device in (here, there):
        device.post("/connexion", data={"login": staff.email, "password": PASSWORD})
    short = here.post(
        "/compte/mot-de-passe", data={"current": PASSWORD, "password": "court", "confirm": "court"}
    )
    assert "10 caractères" in short.get_data(as_text=True)
    changed = here.post(
        "/compte/mot-de-passe", data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert changed.status_code == 302
    assert here.get("/compte/").status_code == 200
    assert there.get("/compte/").status_code == 302


def test_an_agent_without_e_mail_is_invited_by_phone_and_signs_in_with_it(app, login, make_staff):
    admin = make_staff(("FED-A", "mutual_manager"))
    client = login(admin.email)
    data = {"full_name": "Modou Sow", "email": "", "phone": "77 123 45 67", "locale": "fr",
            "node": "ASS-A", "profile": "association_agent"}  # fmt: skip
    bad = client.post("/admin/comptes/inviter", data={**data, "phone": "12"}).get_data(as_text=True)
    assert 'id="phone-error"' in bad and 'value="Modou Sow"' in bad
    token = step_up(client, client.post("/admin/comptes/inviter", data=data), admin.next_code())
    link = _link(
        client.post("/admin/comptes/inviter", data={**data, "_stepup": token}).get_data(as_text=True)
    )
    newcomer = app.test_client()
    assert newcomer.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    for spelling in ("+221 77 123 45 67", "771234567", "77-123-45-67"):
        device = app.test_client()
        assert (
            device.post("/connexion", data={"login": spelling, "password": NEW_PASSWORD}).status_code == 302
        )

    taken = client.post(
        "/admin/comptes/inviter", data={**data, "full_name": "Autre", "phone": "+221771234567"}
    )
    assert "déjà ce numéro" in taken.get_data(as_text=True)
