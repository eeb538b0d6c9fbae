"""Home, health checks, language choice and the vendored htmx file."""

from __future__ import annotations

from pathlib import Path

import js_lib_htmx
from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select, text
from werkzeug.wrappers import Response

from app.extensions import db
from app.platform import owner_engine
from app.security.permissions import public

bp = Blueprint("web", __name__)
HTMX_DIR = Path(js_lib_htmx.__file__).parent / "static" / "htmx"


@bp.get("/")
@public
def index() -> Response:
    """Staff land on the tree — provider staff, who may not read it, on their mutual's counter; everyone
    else on the sign-in page."""
    if not current_user.is_authenticated:
        return redirect(url_for("security.login"))
    from app.security.permissions import current_actor

    actor = current_actor()
    if actor.can("hierarchy.read") or not actor.can("care.check_eligibility"):
        return redirect(url_for("hierarchy.tree"))
    from tenants.models import Tenant

    roots = actor.root_paths("care.check_eligibility") or []
    for tenant in db.session.scalars(select(Tenant).order_by(Tenant.slug)):
        if any(
            tenant.federation.path.startswith(root) or root.startswith(tenant.federation.path)
            for root in roots
        ):
            return redirect(url_for("care_counter.check", tenant_slug=tenant.slug))
    return redirect(url_for("hierarchy.tree"))


@bp.get("/healthz")
@public
def healthz() -> Response:
    """The process is up (no database call)."""
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz() -> tuple[Response, int]:
    """The database answers and every schema (public and each tenant) is at its head revision."""
    from migrations.runner import pending_schemas

    try:
        db.session.execute(text("SELECT 1"))
        behind = pending_schemas(owner_engine())
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        current_app.logger.warning("readyz: %s", error)
        return jsonify(status="unavailable", reason="database"), 503
    if behind:
        return jsonify(status="unavailable", reason="migrations", schemas=behind), 503
    return jsonify(status="ready"), 200


@bp.post("/langue")
@public
def set_language() -> Response:
    """Remember the language for this browser (French or English)."""
    chosen = request.form.get("locale", "")
    if chosen in current_app.config["MBOLO_LOCALES"]:
        session["locale"] = chosen
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/")


@bp.get("/static/vendor/htmx.min.js")
@public
def htmx() -> Response:
    """htmx from its PyPI package (no CDN, nothing hand-copied into the repository)."""
    return send_from_directory(HTMX_DIR, "htmx.min.js", max_age=86400 * 30)
