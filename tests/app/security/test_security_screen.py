"""Security events, alerts to platform administrators, the audit export, and the headers every page sends."""

import re
from pathlib import Path

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.security.models import SecurityAlert
from tests.fixtures.security import step_up

TEMPLATES = Path(__file__).resolve().parents[3]


def _events(app, action, **where):
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.action == action)
        for column, value in where.items():
            query = query.where(getattr(AuditEvent, column) == value)
        return list(db.session.scalars(query))


def test_failed_sign_ins_are_listed_and_filtered(app, login, make_staff):
    app.test_client().post(
        "/connexion",
        data={"login": "intrus@test.sn", "password": "nope"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    admin = make_staff(platform_admin=True)
    client = login(admin.email)
    page = client.get("/admin/securite/?kind=security.sign_in_failed&ip=10.1.2.3").get_data(as_text=True)
    assert "intrus@test.sn" in page
    assert "intrus@test.sn" not in client.get(
        "/admin/securite/?kind=security.sign_in_failed&ip=10.1.2.4"
    ).get_data(as_text=True)
    assert 'id="since-error"' in client.get("/admin/securite/?since=hier").get_data(as_text=True)


def test_an_alert_is_raised_past_the_threshold_and_acknowledged(app, login, make_staff):
    app.config["MBOLO_SECURITY_ALERT_THRESHOLD"] = 3
    try:
        attacker = app.test_client()
        for attempt in range(3):
            attacker.post(
                "/connexion", data={"login": f"guess{attempt}@test.sn", "password": "x"},
                environ_base={"REMOTE_ADDR": "10.66.6.6"},
            )  # fmt: skip
    finally:
        app.config["MBOLO_SECURITY_ALERT_THRESHOLD"] = 20
    with app.app_context():
        alert = db.session.scalar(select(SecurityAlert).where(SecurityAlert.source == "ip:10.66.6.6"))
        assert alert is not None and alert.event_count == 3
    admin = make_staff(platform_admin=True)
    client = login(admin.email)
    assert "alerte" in client.get("/hierarchie/").get_data(as_text=True)  # banner on every page
    assert "ip:10.66.6.6" in client.get("/admin/securite/").get_data(as_text=True)
    refused = client.post(f"/admin/securite/alertes/{alert.id}", data={"comment": ""})
    assert refused.status_code == 302
    client.post(f"/admin/securite/alertes/{alert.id}", data={"comment": "Adresse bloquée sur le pare-feu"})
    with app.app_context():
        assert db.session.get(SecurityAlert, alert.id).acknowledged_at is not None


def test_denials_and_cross_tenant_attempts_are_security_events(app, login):
    client = login("manager.b@test.sn")
    assert client.get("/alpha/").status_code == 403
    assert client.get("/admin/securite/").status_code == 403
    assert _events(app, "security.cross_tenant_attempt", actor_label="manager.b@test.sn", tenant_slug="alpha")
    assert _events(
        app, "security.permission_denied", actor_label="manager.b@test.sn", target_id="/admin/securite/"
    )


def test_the_audit_export_is_a_critical_function(app, login, make_staff):
    admin = make_staff(platform_admin=True)
    client = login(admin.email)
    filters = {"kind": "", "who": "", "ip": "", "since": "", "until": ""}
    asked = client.post("/admin/securite/export", data=filters)
    token = step_up(client, asked, admin.next_code())
    export = client.post("/admin/securite/export", data={**filters, "_stepup": token})
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert export.get_data(as_text=True).startswith("id,at,actor,action")
    assert _events(app, "security.audit_exported", actor_label=admin.email)


def test_pages_send_strict_security_headers(client):
    headers = client.get("/connexion").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    cookie = client.post(
        "/connexion", data={"login": "admin@test.sn", "password": "correct horse battery staple"}
    ).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_no_template_carries_inline_script_or_event_handlers():
    offenders = []
    for template in TEMPLATES.glob("*/**/templates/**/*.html"):
        if ".venv" in template.parts:
            continue
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text):
            offenders.append(str(template))
    assert offenders == []


def test_forms_without_a_csrf_token_are_refused(app, make_staff):
    staff = make_staff(("ASS-A", "association_agent"), mfa_enrolled=False)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        assert (
            client.post(
                "/connexion", data={"login": staff.email, "password": "correct horse battery staple"}
            ).status_code
            == 400
        )
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
