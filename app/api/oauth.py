"""OAuth 2 client credentials with authlib: the token endpoint (authorization server) and bearer-token
validation (resource protector). Tokens are random (32 bytes), kept as SHA-256, valid one hour.

Everything here reads and writes ``public`` only, before any tenant is bound (tenant roles cannot read these
tables). A client acts as an ``Actor`` built from its account's grants (``actor_for``), narrowed to the
token's scope and labelled ``api:<client name>``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import replace
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from flask import Flask, Response, g, json, request
from sqlalchemy import select, update

from app.api.models import API_SCOPES, AUTH_METHODS, ApiClient, ApiToken, digest
from app.audit.services import record_event
from app.database import utcnow
from app.extensions import db
from app.security.actor import Actor, actor_for

TOKEN_LIFETIME = dt.timedelta(hours=1)
REALM = "mbolo"
#: ``last_used_at`` is written at most this often per client (not on every call).
LAST_USED_GRANULARITY = dt.timedelta(minutes=5)


def actor_of(client: ApiClient, scope: str, ip_address: str | None) -> Actor:
    """The client's account's grants, each narrowed to the permissions of ``scope``."""
    base = actor_for(client.account, ip_address)
    allowed = frozenset(scope_to_list(scope) or ())
    return replace(
        base,
        label=client.label,
        scopes=tuple((path, perms & allowed) for path, perms in base.scopes),
        grants_label=f"{client.account.login_label} [{scope}]: {base.grants_label}",
    )


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)


class MboloAuthorizationServer(AuthorizationServer):
    """authlib's Flask server on our tables: usable clients only, tokens hashed, one hour."""

    def load_config(self, config: Any) -> None:
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: secrets.token_urlsafe(32),
                expires_generator=lambda _client, _grant_type: int(TOKEN_LIFETIME.total_seconds()),
            ),
        )
        self.scopes_supported = list(API_SCOPES)

    def query_client(self, client_id: str) -> ApiClient | None:
        client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
        return client if client is not None and client.is_usable else None

    def save_token(self, token: dict[str, Any], oauth_request: OAuth2Request) -> None:
        client: ApiClient = oauth_request.client  # type: ignore[attr-defined]
        now = utcnow()
        row = ApiToken(
            token_hash=digest(token["access_token"]),
            client=client,
            scope=token.get("scope", ""),
            issued_at=now,
            expires_at=now + dt.timedelta(seconds=int(token["expires_in"])),
        )
        db.session.add(row)
        client.last_used_at = now
        db.session.flush()
        actor = actor_of(client, row.scope, request.remote_addr)
        g.mbolo_actor = actor  # the request's own audit event names the client
        record_event(
            db.session,
            actor,
            "security.api_token_issued",
            target_type="api_client",
            target_id=client.client_id,
            scope=row.scope,
            expires_at=row.expires_at,
        )

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        body = json.dumps(payload) if isinstance(payload, dict) else payload
        return Response(body, status=status_code, headers=headers, mimetype="application/json")


class TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> ApiToken | None:
        return db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token_string)))


authorization = MboloAuthorizationServer()
authorization.register_grant(ClientCredentialsGrant)
require_oauth = ResourceProtector()
require_oauth.register_token_validator(TokenValidator(realm=REALM))


def init_app(app: Flask) -> None:
    authorization.init_app(app)


def touch(client: ApiClient) -> None:
    """Record that the client was used (at most every few minutes; a plain UPDATE, not a tracked change)."""
    now = utcnow()
    if client.last_used_at is None or now - client.last_used_at >= LAST_USED_GRANULARITY:
        db.session.execute(
            update(ApiClient)
            .where(ApiClient.id == client.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
