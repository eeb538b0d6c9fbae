"""API clients and tokens: issuance, refusals, expiry, revocation, scope, the command line."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from app.api import services
from app.api.models import API_SCOPES, ApiClient, ApiToken
from app.audit.models import AuditEvent
from app.cli import main
from app.errors import FieldError
from app.extensions import db
from app.security.models import Account, AccountStatus
from tests.fixtures.app import SYSTEM

TOKEN_URL = "/api/v1/oauth/token"
GRANT = {"grant_type": "client_credentials"}


def _last_event(app, action: str) -> AuditEvent | None:
    with app.app_context():
        return db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc()).limit(1)
        )


def test_a_client_created_on_the_command_line_gets_a_one_hour_token(app, client, monkeypatch, world):
    monkeypatch.setattr("app.cli._app", lambda: app)
    result = CliRunner().invoke(
        main, ["api", "client", "create", "--name", "sigicmu-test", "--account", "manager.a@test.sn"]
    )
    assert result.exit_code == 0, result.output
    client_id = re.search(r"client_id:\s+(\S+)", result.output).group(1)
    secret = re.search(r"client_secret:\s+(\S+)", result.output).group(1)
    created = _last_event(app, "security.api_client_created")
    assert created.target_id == client_id and created.actor_label == "cli"

    basic = client.post(TOKEN_URL, data=GRANT, auth=(client_id, secret))
    assert basic.status_code == 200, basic.get_data(as_text=True)
    body = basic.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == " ".join(API_SCOPES)  # no --scope: every API scope (the grants still apply)
    assert basic.headers["Cache-Control"] == "no-store"
    posted = client.post(TOKEN_URL, data={**GRANT, "client_id": client_id, "client_secret": secret})
    assert posted.status_code == 200 and posted.json["access_token"] != body["access_token"]

    with app.app_context():
        stored = db.session.scalars(
            select(ApiToken).join(ApiClient).where(ApiClient.client_id == client_id)
        ).all()
        row = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
        assert row.client_secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert row.last_used_at is not None
    hashes = {t.token_hash for t in stored}
    assert hashlib.sha256(body["access_token"].encode()).hexdigest() in hashes
    assert body["access_token"] not in hashes
    issued = _last_event(app, "security.api_token_issued")
    assert issued.actor_label == "api:sigicmu-test" and issued.target_id == client_id

    listed = CliRunner().invoke(main, ["api", "client", "list"])
    assert client_id in listed.output and "manager.a@test.sn" in listed.output


def test_a_wrong_secret_or_an_unknown_client_is_refused_and_recorded(app, client, make_client):
    credentials = make_client()
    wrong = client.post(TOKEN_URL, data=GRANT, auth=(credentials.client_id, "not-the-secret"))
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    refused = _last_event(app, "security.api_token_refused")
    assert refused.target_id == credentials.client_id and refused.outcome == "success"
    assert refused.details["error"] == "invalid_client"

    unknown = client.post(TOKEN_URL, data=GRANT, auth=("mbolo-nobody", "x"))
    assert unknown.status_code == 401 and unknown.json["error"] == "invalid_client"
    posted = client.post(TOKEN_URL, data={**GRANT, "client_id": credentials.client_id, "client_secret": "x"})
    assert posted.status_code == 401 and posted.json["error"] == "invalid_client"
    other_grant = client.post(TOKEN_URL, data={"grant_type": "password"}, auth=(credentials.client_id, "x"))
    assert other_grant.status_code == 400 and other_grant.json["error"] == "unsupported_grant_type"


def test_a_token_carries_at_most_the_clients_scope(client, make_client):
    reader = make_client(scope="members.read")
    asked = client.post(TOKEN_URL, data={**GRANT, "scope": "members.read"}, headers=reader.basic)
    assert asked.status_code == 200 and asked.json["scope"] == "members.read"
    beyond = client.post(TOKEN_URL, data={**GRANT, "scope": "members.enrol"}, headers=reader.basic)
    assert beyond.status_code == 400 and beyond.json["error"] == "invalid_scope"
    unknown = client.post(TOKEN_URL, data={**GRANT, "scope": "tenants.create"}, headers=reader.basic)
    assert unknown.status_code == 400 and unknown.json["error"] == "invalid_scope"


def test_calls_without_a_valid_token_get_a_bearer_challenge(app, client, api):
    missing = client.get("/api/v1/alpha/members")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="mbolo"'
    assert missing.json["error"] == "unauthorized"
    garbage = client.get("/api/v1/alpha/members", headers={"Authorization": "Bearer nope"})
    assert garbage.status_code == 401 and 'error="invalid_token"' in garbage.headers["WWW-Authenticate"]
    basic = client.get("/api/v1/alpha/members", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401 and basic.headers["WWW-Authenticate"].startswith("Bearer")

    call = api()
    assert call("GET", "/api/v1/alpha/members").status_code == 200
    digest = hashlib.sha256(call.token.encode()).hexdigest()
    with app.app_context():
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == digest)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        db.session.commit()
    expired = call("GET", "/api/v1/alpha/members")
    assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


def test_revoking_a_client_ends_its_tokens_at_once(app, client, make_client, get_token, monkeypatch):
    credentials = make_client()
    bearer = {"Authorization": f"Bearer {get_token(credentials)}"}
    assert client.get("/api/v1/alpha/members", headers=bearer).status_code == 200
    monkeypatch.setattr("app.cli._app", lambda: app)
    result = CliRunner().invoke(main, ["api", "client", "revoke", credentials.client_id])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/alpha/members", headers=bearer).status_code == 401
    again = client.post(TOKEN_URL, data=GRANT, headers=credentials.basic)
    assert again.status_code == 401 and again.json["error"] == "invalid_client"
    assert _last_event(app, "security.api_client_revoked").target_id == credentials.client_id
    assert credentials.client_id not in CliRunner().invoke(main, ["api", "client", "list"]).output


def test_a_disabled_account_stops_its_clients(app, client, make_client, get_token):
    with app.app_context():
        services.create_service_account(
            db.session,
            SYSTEM,
            email="svc.disabled@test.sn",
            full_name="Service",
            grants=[("FED-A", "supervisor")],
        )
        db.session.commit()
    credentials = make_client("svc.disabled@test.sn")
    bearer = {"Authorization": f"Bearer {get_token(credentials)}"}
    assert client.get("/api/v1/alpha/members", headers=bearer).status_code == 200
    with app.app_context():
        db.session.execute(
            update(Account)
            .where(Account.email == "svc.disabled@test.sn")
            .values(status=AccountStatus.disabled)
        )
        db.session.commit()
    assert client.get("/api/v1/alpha/members", headers=bearer).status_code == 401
    assert client.post(TOKEN_URL, data=GRANT, headers=credentials.basic).status_code == 401


def test_clients_never_act_as_platform_administrators_nor_unknown_accounts(session, world):
    with pytest.raises(FieldError, match="administrateur plateforme"):
        services.create_client(session, SYSTEM, name="too-strong", account_email="admin@test.sn")
    with pytest.raises(FieldError) as unknown:
        services.create_client(session, SYSTEM, name="nobody", account_email="nobody@test.sn")
    assert unknown.value.field == "account"
    with pytest.raises(FieldError) as scope:
        services.create_client(
            session, SYSTEM, name="scoped", account_email="sup.a@test.sn", scope="tenants.read"
        )
    assert scope.value.field == "scope"


def test_a_service_account_with_its_client_from_the_command_line(app, client, monkeypatch, world):
    monkeypatch.setattr("app.cli._app", lambda: app)
    result = CliRunner().invoke(
        main,
        ["api", "client", "create", "--name", "ipres-test", "--account", "svc.ipres@test.sn", "--new-account",
         "--grant", "MIN=supervisor", "--scope", "members.read"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "scope:         members.read" in result.output
    client_id = re.search(r"client_id:\s+(\S+)", result.output).group(1)
    secret = re.search(r"client_secret:\s+(\S+)", result.output).group(1)
    token = client.post(TOKEN_URL, data=GRANT, auth=(client_id, secret)).json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    # A ministry supervisor reads every mutual.
    assert client.get("/api/v1/alpha/members", headers=bearer).status_code == 200
    assert client.get("/api/v1/beta/members", headers=bearer).status_code == 200
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == "svc.ipres@test.sn"))
        assert account.password_hash is None and [g.profile.code for g in account.grants] == ["supervisor"]
    assert (
        client.post(
            "/connexion", data={"login": "svc.ipres@test.sn", "password": "whatever-it-is"}
        ).status_code
        == 401
    )

    duplicate = CliRunner().invoke(
        main, ["api", "client", "create", "--name", "ipres-test", "--account", "manager.a@test.sn"]
    )
    assert duplicate.exit_code != 0 and "name" in duplicate.output
    bad_grant = CliRunner().invoke(
        main, ["api", "client", "create", "--name", "x-test", "--account", "a@test.sn", "--grant", "MIN"]
    )
    assert bad_grant.exit_code != 0


def test_the_token_endpoint_is_rate_limited_per_address(app, client, make_client, monkeypatch):
    credentials = make_client()
    monkeypatch.setitem(app.config, "MBOLO_API_TOKEN_RATE", "2 per minute")  # this test only
    statuses = [
        client.post(
            TOKEN_URL, data=GRANT, headers=credentials.basic, environ_base={"REMOTE_ADDR": "10.9.8.7"}
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert _last_event(app, "security.rate_limited").ip_address == "10.9.8.7"


def test_the_api_needs_no_csrf_token(app, client, make_client):
    credentials = make_client()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(TOKEN_URL, data=GRANT, headers=credentials.basic)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 200
