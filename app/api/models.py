"""API clients and their access tokens (``public``): OAuth 2 client credentials, secrets stored hashed.

A client acts with the grants of the staff account it belongs to, narrowed to its scope (permission codes).
Both secrets are 32 random bytes, so a plain SHA-256 is enough to store them (no dictionary to try); the
tables stay out of the tenant roles' reach (the client is resolved before the tenant is bound).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import SharedModel, utcnow
from app.security.models import Account, AccountStatus

#: The permissions an API client may be given (and ask for as OAuth scopes).
API_SCOPES = ("members.read", "members.enrol", "members.manage", "care.check_eligibility", "care.record")
GRANT_TYPE = "client_credentials"
AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiClient(ClientMixin, SharedModel):
    __tablename__ = "api_clients"
    __table_args__ = (
        # One active client per name: the name is what the audit log shows ("api:<name>").
        Index("uq_api_clients_active_name", "name", unique=True, postgresql_where=text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Public, random, sent with every token request.
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(80))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    #: Space-separated permission codes (``API_SCOPES``): the most a token of this client can carry.
    scope: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_by_label: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    account: Mapped[Account] = relationship(foreign_keys=[account_id], lazy="joined")

    @property
    def is_usable(self) -> bool:
        """Not revoked, and its account still active and not a platform administrator's (whose rights
        no scope could narrow: API clients act through ordinary grants)."""
        return (
            self.revoked_at is None
            and self.account.status is AccountStatus.active
            and not self.account.is_platform_admin
        )

    @property
    def label(self) -> str:
        return f"api:{self.name}"

    # --- authlib's ClientMixin -----------------------------------------------------------------------------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """No scope asked: all of the client's. Asked: exactly that, if the client has it all (None makes
        authlib answer ``invalid_scope``)."""
        allowed = scope_to_list(self.scope) or []
        if not scope:
            return list_to_scope(allowed)
        requested = scope_to_list(scope) or []
        if not requested or any(s not in allowed for s in requested):
            return None
        return list_to_scope(sorted(set(requested)))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(digest(client_secret), self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == GRANT_TYPE


class ApiToken(TokenMixin, SharedModel):
    """An access token (bearer): only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"), index=True)
    scope: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    client: Mapped[ApiClient] = relationship(lazy="joined")

    # --- authlib's TokenMixin ------------------------------------------------------------------------------

    def check_client(self, client: ApiClient) -> bool:
        return self.api_client_id == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        """Revoked itself, or its client revoked, or the client's account disabled since."""
        return self.revoked_at is not None or not self.client.is_usable
