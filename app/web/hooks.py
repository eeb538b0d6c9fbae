"""One transaction per request, committed at the boundary; error pages; the Flask-Login loader."""

from __future__ import annotations

from flask import Flask, Response, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from app.errors import Forbidden, NotFound
from app.extensions import db, login_manager
from tenants.context import bind_tenant
from tenants.errors import TenantUnavailable


def register_hooks(app: Flask) -> None:
    login_manager.login_view = "security.login"
    login_manager.login_message = _l("Connectez-vous pour accéder à cette page.")
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_account(session_id: str) -> object:
        from app.security.services import load_session_account

        return load_session_account(db.session, session_id)

    @app.after_request
    def commit_or_rollback(response: Response) -> Response:
        # Request auditing (app/audit/requests.py) records every state-changing request. It runs here,
        # between the decision and the commit, rather than as a hook of its own: a kept request's event
        # joins this transaction (the change and its trail commit together, or neither does); a refused or
        # failed request's work is rolled back first, then its event is written and committed alone.
        from app.audit.requests import audit_request

        kept = response.status_code < 400 and not g.get("mbolo_rollback")
        if kept:
            audit_request(response, kept=True)
            db.session.commit()
        else:
            db.session.rollback()
            audit_request(response, kept=False)
        return response

    @app.before_request
    def forget_previous_request() -> None:
        # g belongs to the app context, which a script or test may keep across requests: start clean.
        for key in ("mbolo_actor", "mbolo_rollback"):
            g.pop(key, None)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # No inline script anywhere (htmx and our scripts are files); QR codes are data: images.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if app.config["MBOLO_ENV"] == "production":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")  # staff pages hold personal data
        return response

    @app.errorhandler(TenantUnavailable)
    def tenant_unavailable(error: TenantUnavailable) -> tuple[str, int]:
        code = 410 if str(error.tenant.status) == "archived" else 503
        return render_template("errors/tenant_unavailable.html", tenant=error.tenant), code

    @app.errorhandler(NotFound)
    @app.errorhandler(404)
    def not_found(_error: Exception) -> tuple[object, int]:
        if request.path.startswith("/api/"):  # API callers get JSON even where no route matched
            return {"error": "not_found", "message": str(_l("Introuvable."))}, 404
        return render_template("errors/error.html", code=404, message=_l("Page introuvable.")), 404

    @app.errorhandler(405)
    def method_not_allowed(_error: Exception) -> tuple[object, int]:
        message = _l("Cette action n'est pas possible ici.")
        if request.path.startswith("/api/"):
            return {"error": "method_not_allowed", "message": str(message)}, 405
        return render_template("errors/error.html", code=405, message=message), 405

    @app.errorhandler(Forbidden)
    @app.errorhandler(403)
    def forbidden(_error: Exception) -> tuple[str, int]:
        _record_denial()
        return render_template(
            "errors/error.html", code=403, message=_l("Vous n'avez pas accès à cette page.")
        ), 403

    @app.errorhandler(500)
    def server_error(_error: Exception) -> tuple[str, int]:
        db.session.rollback()
        return render_template(
            "errors/error.html", code=500, message=_l("Une erreur est survenue. Réessayez plus tard.")
        ), 500

    @app.errorhandler(CSRFError)
    def csrf_refused(_error: Exception) -> tuple[str, int]:
        return render_template(
            "errors/error.html",
            code=400,
            message=_l("Ce formulaire a expiré ou ne vient pas de Mbolo. Rechargez la page et recommencez."),
        ), 400

    @app.errorhandler(429)
    def too_many(_error: Exception) -> tuple[str, int]:
        _record_security_failure("security.rate_limited", target_type="path", target_id=request.path[:64])
        return render_template(
            "errors/error.html",
            code=429,
            message=_l("Trop de tentatives. Patientez une minute puis réessayez."),
        ), 429

    @app.context_processor
    def template_globals() -> dict[str, object]:
        from flask_babel import format_datetime, get_locale

        from app.database import utcnow

        return {
            "is_htmx": request.headers.get("HX-Request") == "true",
            "get_locale": get_locale,
            "format_datetime": format_datetime,
            "now_utc": utcnow,
            "open_security_alerts": _open_alerts,
            "staff_can": _staff_can,
        }


def _staff_can(permission: str) -> bool:
    """For menus: whether the signed-in staff member holds ``permission`` anywhere (pages check again)."""
    from app.security.permissions import current_actor

    return bool(current_user.is_authenticated and current_actor().can(permission))


def _who() -> object:
    from app.security.actor import Actor
    from app.security.permissions import current_actor

    if current_user.is_authenticated:
        return current_actor()
    return Actor(account_id=None, label="anonyme", ip_address=request.remote_addr)


def _record_denial() -> None:
    """Every refusal is a security event; refusals inside another mutual's space are flagged as such."""
    actor = _who()
    tenant_record = g.get("tenant_record")
    cross_tenant = tenant_record is not None and not actor.can("tenants.read", tenant_record.federation.path)  # type: ignore[attr-defined]
    _record_security_failure(
        "security.cross_tenant_attempt" if cross_tenant else "security.permission_denied",
        actor=actor,
        target_type="path",
        target_id=request.path[:64],
        tenant_slug=tenant_record.slug if tenant_record is not None else None,
        method=request.method,
        endpoint=request.endpoint,
    )


def _record_security_failure(action: str, *, actor: object = None, **details: object) -> None:
    """Record a security failure on its own transaction, in public (security events and alerts live there,
    beyond the tenant role), then give the request back its tenant for its own audit trail."""
    from app.security.events import record_failure

    actor = actor or _who()
    db.session.rollback()
    bind_tenant(db.session, None)
    record_failure(db.session, actor, action, **details)  # type: ignore[arg-type]
    db.session.commit()
    bind_tenant(db.session, g.get("tenant"))


def _open_alerts() -> int:
    """Shown to platform administrators on every page until acknowledged."""
    if not current_user.is_authenticated or not current_user.is_platform_admin or g.get("tenant"):
        return 0  # not on a mutual's pages: their transaction runs as the tenant role
    from app.security.events import count_open_alerts

    return count_open_alerts(db.session)
