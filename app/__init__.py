"""Mbolo: the information system of Senegal's social health mutuals."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import load_config


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application: configuration, database (embedded or DATABASE_URL), extensions, blueprints."""
    from app import platform
    from app.audit.requests import install_request_audit
    from app.blueprints import register_blueprints
    from app.database import runtime_url
    from app.extensions import babel, csrf, db, limiter, login_manager
    from app.security import sessions, stepup
    from app.web.hooks import register_hooks
    from app.web.i18n import select_locale
    from app.worker import init_celery
    from tenants.resolution import TenantHostMiddleware

    app = Flask(__name__)
    app.config.update(load_config())
    app.config.update(overrides or {})
    url = platform.owner_url(app.config)
    app.extensions["mbolo_owner_url"] = url
    app.config["SQLALCHEMY_DATABASE_URI"] = runtime_url(url, app.config["MBOLO_APP_DB_PASSWORD"])
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})

    db.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    limiter.init_app(app)
    register_blueprints(app)
    register_hooks(app)
    install_request_audit(app)
    sessions.install(app)
    stepup.install(app)
    init_celery(app)
    if app.config["MBOLO_ENV"] == "production":  # exactly one proxy (nginx) in front
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.wsgi_app = TenantHostMiddleware(app.wsgi_app, app.config["MBOLO_TENANT_HOSTS"])  # type: ignore[method-assign]
    return app
