"""The ``/api/v1`` blueprint: the token endpoint, the OpenAPI document, and (``members.py``) the members API.

CSRF does not apply: the API authenticates by bearer token only, never by the session cookie, so a forged
cross-site request carries no credential. Every answer is JSON and ``Cache-Control: no-store``.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Blueprint, Response, current_app, jsonify, request, url_for

from app.api import errors, oauth, openapi
from app.extensions import csrf, db, limiter
from app.security.actor import Actor
from app.security.permissions import public

bp = Blueprint("api", __name__)
csrf.exempt(bp)
errors.install(bp)
bp.record_once(lambda state: oauth.init_app(state.app))

#: Per client address, on the token endpoint; ``MBOLO_API_TOKEN_RATE`` overrides it.
DEFAULT_TOKEN_RATE = "30 per minute;300 per hour"  # noqa: S105 - a rate, not a secret


def _token_rate() -> str:
    return current_app.config.get("MBOLO_API_TOKEN_RATE") or DEFAULT_TOKEN_RATE


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # tokens and personal data
    return response


@bp.post("/oauth/token")
@limiter.limit(_token_rate, methods=["POST"])
@public
def token() -> Response:
    """OAuth 2 token endpoint, client credentials grant (client_secret_basic or client_secret_post)."""
    response = oauth.authorization.create_token_response()
    if response.status_code >= 400:
        _record_refusal(response)
    return response


def _record_refusal(response: Response) -> None:
    """A refused token request is a security event, kept although the request is rolled back."""
    from app.security.events import record_failure

    attempted = extract_basic_authorization(request.headers)[0] or request.form.get("client_id") or ""
    body = response.get_json(silent=True) or {}
    db.session.rollback()
    record_failure(
        db.session,
        Actor(account_id=None, label=f"api:{attempted[:60] or '?'}", ip_address=request.remote_addr),
        "security.api_token_refused",
        target_type="api_client",
        target_id=attempted[:64] or None,
        error=body.get("error"),
    )
    db.session.commit()


@bp.get("/openapi.json")
@public
def openapi_document() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(
        openapi.document(
            server_url=request.url_root.rstrip("/") or "/", token_url=url_for("api.token", _external=True)
        )
    )


from app.api import members  # noqa: E402, F401 - attaches the members endpoints to ``bp``
