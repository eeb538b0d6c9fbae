"""API clients made through the real service, tokens from the real token endpoint."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.api import services
from app.extensions import db
from tests.fixtures.app import SYSTEM


@dataclass(frozen=True)
class Credentials:
    name: str
    client_id: str
    secret: str

    @property
    def basic(self) -> dict[str, str]:
        raw = base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}


def person_body(**overrides: object) -> dict[str, object]:
    """A distinct adhérent each call (random names), enrolled at ASS-A with consent. Random names may still
    look alike to the duplicate check: tests that are not about duplicates confirm it is someone else."""
    token = uuid.uuid4().hex[:8]
    body: dict[str, object] = {
        "association": "ASS-A", "last_name": f"Ndiaye{token}", "first_names": f"Moussa{token}", "sex": "M",
        "birth": "1984-05-02", "trade": "tailleur", "consent": {"given_on": "2026-01-15"},
        "confirm_not_duplicate": True,
    }  # fmt: skip
    return {**body, **overrides}


@pytest.fixture
def make_client(app: Flask, world: object) -> Callable[..., Credentials]:
    def make(email: str = "manager.a@test.sn", scope: str = "") -> Credentials:
        name = f"test-{uuid.uuid4().hex[:8]}"
        with app.app_context():
            issued = services.create_client(db.session, SYSTEM, name=name, account_email=email, scope=scope)
            db.session.commit()
            return Credentials(name=name, client_id=issued.client.client_id, secret=issued.secret)

    return make


@pytest.fixture
def get_token(client: FlaskClient) -> Callable[..., str]:
    def token(credentials: Credentials, scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        response = client.post("/api/v1/oauth/token", data=data, headers=credentials.basic)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json["access_token"]

    return token


@pytest.fixture
def api(client: FlaskClient, make_client, get_token) -> Callable[..., Callable[..., object]]:
    """``api(email, scope)`` → a caller ``call(method, path, **kwargs)`` with that client's bearer token."""

    def for_account(email: str = "manager.a@test.sn", scope: str = "", token_scope: str | None = None):
        bearer = get_token(make_client(email, scope), token_scope)

        def call(method: str, path: str, **kwargs: object):
            headers = {"Authorization": f"Bearer {bearer}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
            return client.open(path, method=method, headers=headers, **kwargs)

        call.token = bearer  # type: ignore[attr-defined]
        return call

    return for_account
