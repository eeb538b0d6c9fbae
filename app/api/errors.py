"""JSON errors of the API: ``{"error": code, "message": text}``, plus ``errors`` ({field: message}) for bad
input and ``candidates`` for possible duplicates. Messages follow Accept-Language (French by default).

Registered on the API blueprint, so they take precedence over the HTML error pages of the web hooks for API
endpoints; refusals are recorded as security events like the web's (``app/web/hooks.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.extensions import db
from app.members.services import DuplicatesFound
from tenants.context import bind_tenant

#: "dependants-0-birth" (the services' form prefixes) → "dependants[0].birth" (the JSON body's shape).
_DEPENDANT_FIELD = re.compile(r"^dependants-(\d+)(?:-(\w+))?$")
_RENAMED = {"consent_date": "consent.given_on"}


class ApiError(Exception):
    """An answer other than success, already decided (status, code, message, headers)."""

    def __init__(
        self,
        status: int,
        error: str,
        message: object,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(str(message))
        self.status, self.error, self.message = status, error, message
        self.headers = dict(headers or {})
        self.extra = extra


def api_field(field: str) -> str:
    if found := _DEPENDANT_FIELD.fullmatch(field):
        index, name = found.groups()
        return f"dependants[{index}]" + (f".{name}" if name else "")
    return _RENAMED.get(field, field)


def error_response(error: ApiError) -> Response:
    response = jsonify(error=error.error, message=str(error.message), **error.extra)
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def record_denial(action: str = "security.permission_denied") -> None:
    """Like the web's: rolled back first, written in ``public`` (beyond the tenant role), committed."""
    from app.security.actor import Actor
    from app.security.events import record_failure

    actor = g.get("mbolo_actor") or Actor(
        account_id=None, label="api:anonyme", ip_address=request.remote_addr
    )
    db.session.rollback()
    bind_tenant(db.session, None)
    record_failure(
        db.session,
        actor,
        action,
        target_type="path",
        target_id=request.path[:64],
        tenant_slug=g.tenant.slug if "tenant" in g else None,
        method=request.method,
        endpoint=request.endpoint,
    )
    db.session.commit()
    bind_tenant(db.session, g.get("tenant"))  # the request's own trail still goes to the tenant's chain


def install(bp: Blueprint) -> None:
    @bp.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error_response(error)

    @bp.errorhandler(FieldError)
    def bad_field(error: FieldError) -> Response:
        message = str(error.message)
        return error_response(ApiError(422, "invalid", message, errors={api_field(error.field): message}))

    @bp.errorhandler(DuplicatesFound)
    def duplicates(error: DuplicatesFound) -> Response:
        candidates = [
            {
                "number": c.member.number,
                "name": c.member.full_name if c.in_reach else None,  # beyond reach: the number only
                "birth_year": c.member.birth_year,
                "status": str(c.member.status),
                "reason": str(c.reason),
            }
            for c in error.candidates
        ]
        return error_response(ApiError(409, "possible_duplicates", error.message, candidates=candidates))

    @bp.errorhandler(NotFound)
    def not_found(error: NotFound) -> Response:
        return error_response(ApiError(404, "not_found", error.message or _l("Introuvable.")))

    @bp.errorhandler(Forbidden)
    def forbidden(error: Forbidden) -> Response:
        record_denial()
        return error_response(ApiError(403, "forbidden", error.message))

    @bp.errorhandler(DomainError)
    def refused(error: DomainError) -> Response:
        return error_response(ApiError(422, "refused", error.message))

    def http_error(error: HTTPException) -> Response:
        code = error.code or 500
        if code == 429:
            record_denial("security.rate_limited")
            message: object = _l("Trop de requêtes. Patientez une minute puis réessayez.")
        elif code >= 500:
            db.session.rollback()
            message = _l("Une erreur est survenue. Réessayez plus tard.")
        else:
            message = error.description or error.name
        response = error_response(ApiError(code, error.name.lower().replace(" ", "_"), message))
        if code == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    # By code: the app's handlers are registered by code too, and a blueprint's handler of the same code wins.
    for code in (400, 401, 403, 404, 405, 410, 413, 415, 429, 500, 503):
        bp.register_error_handler(code, http_error)
    bp.register_error_handler(HTTPException, http_error)
