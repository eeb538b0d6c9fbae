"""The API's guard: bearer token → actor → permission → tenant, and JSON errors for everything.

``@api_requires(code)`` marks the view like ``@requires`` (``view.permission``, checked by the URL-map test)
and, in this order: validates the bearer token (401 with ``WWW-Authenticate: Bearer``), builds the client's
actor (``g.mbolo_actor``: request auditing records it), checks the token's scope and the account's permission
(403), then resolves ``<tenant_slug>`` like ``tenants.resolution`` — a mutual the account has no grant over
answers 404 and is recorded as ``security.cross_tenant_attempt`` — and binds the tenant. Domain errors raised
by the services become JSON (``errors.py`` of this package).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError
from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import g, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.api.errors import ApiError, record_denial
from app.api.models import API_SCOPES, ApiToken
from app.api.oauth import REALM, actor_of, require_oauth, touch
from app.errors import Forbidden
from app.extensions import db
from app.security.actor import Actor
from tenants.context import TenantRef, bind_tenant
from tenants.models import Tenant, TenantStatus
from tenants.slugs import SLUG_PATTERN

F = TypeVar("F", bound=Callable[..., Any])
INVALID_TOKEN = "The access token is invalid, expired or revoked"  # noqa: S105 - a message


def api_actor() -> Actor:
    """The calling client as an ``Actor`` (set by ``api_requires``)."""
    return g.mbolo_actor


def _challenge(error: str | None = None, description: str | None = None, **extra: str) -> str:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    parts.extend(f'{key}="{value}"' for key, value in extra.items())
    return "Bearer " + ", ".join(parts)


def authenticate() -> ApiToken:
    """The valid token of this request, else 401 with a Bearer challenge (RFC 6750 §3)."""
    try:
        return require_oauth.acquire_token()
    except MissingAuthorizationError as missing:
        raise ApiError(
            401,
            "unauthorized",
            _l("Jeton d'accès manquant (en-tête Authorization: Bearer …)."),
            headers={"WWW-Authenticate": _challenge()},
        ) from missing
    except InvalidTokenError as invalid:
        raise ApiError(
            401,
            "invalid_token",
            _l("Jeton d'accès invalide, expiré ou révoqué."),
            headers={"WWW-Authenticate": _challenge("invalid_token", INVALID_TOKEN)},
        ) from invalid
    except OAuth2Error as other:  # e.g. "Basic …" instead of "Bearer …"
        raise ApiError(
            401,
            "invalid_request",
            _l("Authentification attendue : Authorization: Bearer <jeton>."),
            headers={"WWW-Authenticate": _challenge("invalid_request")},
        ) from other


def _reaches(actor: Actor, federation_path: str) -> bool:
    """A grant inside the mutual's subtree, or above it."""
    return any(
        path.startswith(federation_path) or federation_path.startswith(path) for path, _ in actor.scopes
    )


def resolve_tenant(slug: str, actor: Actor) -> TenantRef:
    """The mutual of the URL, bound to the session; 404 for unknown ones and for those out of reach."""
    tenant = (
        db.session.scalar(select(Tenant).where(Tenant.slug == slug)) if SLUG_PATTERN.fullmatch(slug) else None
    )
    if tenant is None:
        raise ApiError(404, "not_found", _l("Mutuelle introuvable."))
    if not _reaches(actor, tenant.federation.path):
        from app.security.events import record_failure

        record_failure(
            db.session,
            actor,
            "security.cross_tenant_attempt",
            target_type="path",
            target_id=request.path[:64],
            tenant_slug=tenant.slug,
            method=request.method,
            endpoint=request.endpoint,
        )
        db.session.commit()  # kept although the request is refused (its own event comes after the rollback)
        raise ApiError(404, "not_found", _l("Mutuelle introuvable."))
    if tenant.status is not TenantStatus.active:
        archived = tenant.status is TenantStatus.archived
        raise ApiError(
            410 if archived else 503,
            "tenant_unavailable",
            _l("Cette mutuelle est fermée.") if archived else _l("Cette mutuelle est suspendue."),
        )
    ref = TenantRef.of(tenant)
    g.tenant, g.tenant_record = ref, tenant
    bind_tenant(db.session, ref)
    return ref


def api_requires(permission: str) -> Callable[[F], F]:
    """Mark and guard a tenant API view (``/<tenant_slug>/…``) with one of ``API_SCOPES``."""
    if permission not in API_SCOPES:
        raise ValueError(f"not an API permission: {permission!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(tenant_slug: str, **kwargs: Any) -> Any:
            token = authenticate()
            actor = actor_of(token.client, token.scope, request.remote_addr)
            g.mbolo_actor = actor
            touch(token.client)
            if permission not in (token.scope or "").split():
                record_denial()
                raise ApiError(
                    403,
                    "insufficient_scope",
                    _l("Ce jeton ne porte pas la portée %(scope)s.", scope=permission),
                    headers={"WWW-Authenticate": _challenge("insufficient_scope", scope=permission)},
                )
            if not actor.can(permission):
                raise Forbidden(_l("Le compte de ce client n'a pas la permission %(code)s.", code=permission))
            resolve_tenant(tenant_slug, actor)
            return view(**kwargs)

        guarded.permission = permission  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate
