"""One transaction per request, committed at the boundary; error pages; the Flask-Login loader."""

from __future__ import annotations

from flask import Flask, Response, g, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.errors import Forbidden, NotFound
from app.extensions import db, login_manager
from tenants.errors import TenantUnavailable


def register_hooks(app: Flask) -> None:
    login_manager.login_view = "security.login"
    login_manager.login_message = _l("Connectez-vous pour accéder à cette page.")
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_account(public_id: str) -> object:
        from app.security.models import Account

        return db.session.scalar(select(Account).where(Account.public_id == public_id))

    @app.after_request
    def commit_or_rollback(response: Response) -> Response:
        if response.status_code < 400 and not g.get("mbolo_rollback"):
            db.session.commit()
        else:
            db.session.rollback()
        return response

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'"
        )
        return response

    @app.errorhandler(TenantUnavailable)
    def tenant_unavailable(error: TenantUnavailable) -> tuple[str, int]:
        code = 410 if str(error.tenant.status) == "archived" else 503
        return render_template("errors/tenant_unavailable.html", tenant=error.tenant), code

    @app.errorhandler(NotFound)
    @app.errorhandler(404)
    def not_found(_error: Exception) -> tuple[str, int]:
        return render_template("errors/error.html", code=404, message=_l("Page introuvable.")), 404

    @app.errorhandler(Forbidden)
    @app.errorhandler(403)
    def forbidden(_error: Exception) -> tuple[str, int]:
        return render_template(
            "errors/error.html", code=403, message=_l("Vous n'avez pas accès à cette page.")
        ), 403

    @app.errorhandler(500)
    def server_error(_error: Exception) -> tuple[str, int]:
        db.session.rollback()
        return render_template(
            "errors/error.html", code=500, message=_l("Une erreur est survenue. Réessayez plus tard.")
        ), 500

    @app.context_processor
    def template_globals() -> dict[str, object]:
        from flask_babel import get_locale

        return {"is_htmx": request.headers.get("HX-Request") == "true", "get_locale": get_locale}
