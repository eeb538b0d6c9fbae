"""API clients: create (secret shown once), revoke, list; service accounts for them. All audited as security
events. Flush, never commit: the caller (CLI) commits."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.api.models import API_SCOPES, ApiClient, ApiToken, digest
from app.audit.services import record_event
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.security.actor import Actor
from app.security.models import Account, AccountStatus, Grant, Profile
from hierarchy.models import Node

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class IssuedClient:
    client: ApiClient
    secret: str  # shown once; only its SHA-256 is stored


def _find_account(session: Session, email: str) -> Account | None:
    return session.scalar(select(Account).where(func.lower(Account.email) == email.strip().lower()))


def parse_scope(raw: str | Iterable[str] | None) -> str:
    """Space-separated permission codes among ``API_SCOPES`` (all of them when empty)."""
    codes = raw.split() if isinstance(raw, str) else list(raw or ())
    unknown = sorted(set(codes) - set(API_SCOPES))
    if unknown:
        raise FieldError(
            "scope",
            _l(
                "Portée inconnue : %(codes)s (possibles : %(known)s).",
                codes=", ".join(unknown),
                known=", ".join(API_SCOPES),
            ),
        )
    return " ".join(c for c in API_SCOPES if c in codes) if codes else " ".join(API_SCOPES)


def create_client(
    session: Session, actor: Actor, *, name: str, account_email: str, scope: str = ""
) -> IssuedClient:
    """A client acting with the grants of an existing active staff account — never a platform
    administrator's: give a service account ordinary grants (a ministry supervisor reads everywhere)."""
    name = (name or "").strip().lower()
    if not _NAME.fullmatch(name):
        raise FieldError("name", _l("Nom attendu : 2 à 80 caractères parmi a-z, 0-9, « . », « _ » et « - »."))
    if session.scalar(select(ApiClient.id).where(ApiClient.name == name, ApiClient.revoked_at.is_(None))):
        raise FieldError("name", _l("Un client actif porte déjà ce nom."))
    account = _find_account(session, account_email)
    if account is None:
        raise FieldError("account", _l("Aucun compte avec cette adresse e-mail."))
    if account.status is not AccountStatus.active:
        raise FieldError("account", _l("Ce compte n'est pas actif."))
    if account.is_platform_admin:
        raise FieldError(
            "account",
            _l(
                "Un client d'API n'agit pas avec un compte d'administrateur plateforme : "
                "donnez des profils à un compte de service."
            ),
        )
    secret = secrets.token_urlsafe(32)
    client = ApiClient(
        client_id=f"mbolo-{secrets.token_urlsafe(18)}",
        client_secret_hash=digest(secret),
        name=name,
        account=account,
        scope=parse_scope(scope),
        created_by_id=actor.account_id,
        created_by_label=actor.label,
    )
    session.add(client)
    session.flush()
    record_event(
        session,
        actor,
        "security.api_client_created",
        target_type="api_client",
        target_id=client.client_id,
        after={"name": client.name, "account": account.login_label, "scope": client.scope},
    )
    return IssuedClient(client=client, secret=secret)


def create_service_account(
    session: Session, actor: Actor, *, email: str, full_name: str, grants: Iterable[tuple[str, str]]
) -> Account:
    """An account that only API clients use: no password (nobody signs in with it), active, with the given
    (node code, profile code) grants — the client's reach. Platform-level, like ``mbolo admin invite``."""
    email = (email or "").strip().lower()
    if not _EMAIL.fullmatch(email):
        raise FieldError("account", _l("Adresse e-mail invalide."))
    if _find_account(session, email) is not None:
        raise FieldError("account", _l("Un compte existe déjà avec cette adresse e-mail."))
    pairs = list(grants)
    if not pairs:
        raise FieldError("grant", _l("Donnez au moins un profil sur un nœud (NŒUD=PROFIL)."))
    account = Account(
        email=email, full_name=full_name or email, status=AccountStatus.active, created_by_id=actor.account_id
    )
    session.add(account)
    session.flush()
    record_event(
        session,
        actor,
        "security.account_created",
        target_type="account",
        target_id=account.public_id,
        email=email,
        service_account=True,
    )
    for node_code, profile_code in pairs:
        node = session.scalar(select(Node).where(Node.code == node_code.strip().upper()))
        profile = session.scalar(select(Profile).where(Profile.code == profile_code.strip()))
        if node is None:
            raise FieldError("grant", _l("Nœud inconnu : %(code)s.", code=node_code))
        if profile is None:
            raise FieldError("grant", _l("Profil inconnu : %(code)s.", code=profile_code))
        account.grants.append(Grant(node=node, profile=profile, created_by_id=actor.account_id))
        session.flush()
        record_event(
            session,
            actor,
            "security.grant_added",
            target_type="account",
            target_id=account.public_id,
            after={"node": node.code, "profile": profile.code},
        )
    return account


def get_client(session: Session, client_id: str) -> ApiClient:
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == (client_id or "").strip()))
    if client is None:
        raise NotFound(_l("Client d'API introuvable."))
    return client


def revoke_client(session: Session, actor: Actor, client_id: str) -> ApiClient:
    """Revoke the client and every token it holds, at once (tokens are checked against both)."""
    client = get_client(session, client_id)
    if client.revoked_at is not None:
        return client
    now = utcnow()
    client.revoked_at = now
    session.execute(
        update(ApiToken)
        .where(ApiToken.api_client_id == client.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.flush()
    record_event(
        session,
        actor,
        "security.api_client_revoked",
        target_type="api_client",
        target_id=client.client_id,
        before={"name": client.name, "account": client.account.login_label},
    )
    return client


def list_clients(session: Session, *, include_revoked: bool = False) -> list[ApiClient]:
    query = select(ApiClient).order_by(ApiClient.name, ApiClient.id)
    if not include_revoked:
        query = query.where(ApiClient.revoked_at.is_(None))
    return list(session.scalars(query))
