import base64

import pytest

from app.config import ConfigurationError, load_config
from app.security.permissions import MEMBER, PERMISSIONS, PUBLIC, SIGNED_IN


def test_every_endpoint_declares_its_permission(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        permission = getattr(view, "permission", None)
        if rule.endpoint == "static":
            continue  # Flask's own static files: public by nature
        if permission not in {PUBLIC, SIGNED_IN, MEMBER} and permission not in PERMISSIONS:
            undeclared.append(rule.rule)
    assert undeclared == []


def test_production_refuses_to_start_with_a_default_or_short_secret():
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_config({"MBOLO_ENV": "production"})
    with pytest.raises(ConfigurationError):
        load_config({"MBOLO_ENV": "production", "SECRET_KEY": "dev-only-not-secret"})
    secret = {"MBOLO_ENV": "production", "SECRET_KEY": "x" * 40}
    with pytest.raises(ConfigurationError, match="MBOLO_AUDIT_KEY"):
        load_config(secret)
    with pytest.raises(ConfigurationError, match="MBOLO_ENCRYPTION_KEYS"):
        load_config({**secret, "MBOLO_AUDIT_KEY": "a" * 40})
    with pytest.raises(ConfigurationError, match="MBOLO_ENCRYPTION_KEYS"):
        load_config({**secret, "MBOLO_AUDIT_KEY": "a" * 40, "MBOLO_ENCRYPTION_KEYS": "k1=tooshort"})
    key = base64.urlsafe_b64encode(bytes(range(32))).decode()
    keyring = f"k2={key},k1={key}"
    config = load_config({**secret, "MBOLO_AUDIT_KEY": "a" * 40, "MBOLO_ENCRYPTION_KEYS": keyring})
    assert config["SESSION_COOKIE_SECURE"] is True
    assert [kid for kid, _key in config["MBOLO_ENCRYPTION_KEYS"]] == ["k2", "k1"]


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready"}


def test_wrong_password_is_refused_in_the_users_language_and_keeps_the_email(client, world):
    response = client.post("/connexion", data={"login": "admin@test.sn", "password": "wrong"})
    body = response.get_data(as_text=True)
    assert response.status_code == 401 and "Identifiant ou mot de passe incorrect." in body
    assert 'value="admin@test.sn"' in body
    english = client.post(
        "/connexion",
        data={"login": "admin@test.sn", "password": "wrong"},
        headers={"Accept-Language": "en-GB,en;q=0.9"},
    )
    assert "Sign in" in english.get_data(as_text=True)


def test_language_choice_is_remembered(client, world):
    client.post("/langue", data={"locale": "en", "next": "/connexion"})
    assert "Sign in" in client.get("/connexion").get_data(as_text=True)
    client.post("/langue", data={"locale": "fr", "next": "/connexion"})
    assert "Se connecter" in client.get("/connexion").get_data(as_text=True)


def test_pages_load_htmx_from_the_app_itself(client):
    page = client.get("/connexion").get_data(as_text=True)
    assert 'src="/static/vendor/htmx.min.js"' in page and "http" not in page.split("<body")[0]
    assert client.get("/static/vendor/htmx.min.js").status_code == 200


def test_sign_in_and_sign_out_are_audited(app, login):
    from sqlalchemy import select

    from app.audit.models import AuditEvent
    from app.extensions import db

    client = login("manager.a@test.sn")
    client.post("/deconnexion")
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("security.sign%"))
            .order_by(AuditEvent.id.desc())
        ).all()
    assert actions[:2] == ["security.signed_out", "security.signed_in"]
    assert client.get("/hierarchie/").status_code == 302  # signed out: back to the sign-in page


def test_provider_staff_land_on_their_mutuals_counter_and_see_no_hierarchy_menu(make_staff, login):
    provider = make_staff(("FED-A", "provider_staff"), mfa_enrolled=False)
    client = login(provider.email)
    landing = client.get("/")
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/alpha/guichet/")
    page = client.get("/alpha/guichet/").get_data(as_text=True)
    assert "/hierarchie" not in page and "/supervision" not in page


def test_supervisors_land_on_the_tree_with_the_supervision_menu(login):
    client = login("sup.a@test.sn")
    landing = client.get("/")
    assert landing.headers["Location"].endswith("/hierarchie/")
    page = client.get(landing.headers["Location"]).get_data(as_text=True)
    assert 'href="/supervision/"' in page
