"""Staff sessions: idle and absolute timeouts, on top of Flask-Login's cookie session.

The session records when the person signed in and when they were last seen; a request past
``MBOLO_IDLE_MINUTES`` of inactivity or ``PERMANENT_SESSION_LIFETIME`` since sign-in ends the session
(audited) and sends them to the sign-in page, which brings them back where they were. "Sign out
everywhere" works by the account's session epoch (see ``Account.get_id``).
"""

from __future__ import annotations

import time

from flask import Flask, Response, flash, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

SIGNED_IN_AT, SEEN_AT = "mbolo_auth_at", "mbolo_seen_at"


def start(account: object) -> None:
    """Sign in and stamp the session (also after a password change, which ends the other sessions)."""
    session.clear()  # a fresh session on sign-in: nothing set before authentication carries over
    login_user(account)  # type: ignore[arg-type]
    session.permanent = True
    session[SIGNED_IN_AT] = session[SEEN_AT] = int(time.time())


def end() -> None:
    logout_user()
    session.clear()


def expiry_reason(app: Flask, now: int) -> str | None:
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if signed_in_at is None or seen_at is None:
        return "unstamped"
    if now - signed_in_at > app.permanent_session_lifetime.total_seconds():
        return "absolute"
    if now - seen_at > app.config["MBOLO_IDLE_MINUTES"] * 60:
        return "idle"
    return None


def install(app: Flask) -> None:
    @app.before_request
    def enforce_timeouts() -> Response | None:
        if request.endpoint in {"static", "web.htmx"} or not current_user.is_authenticated:
            return None
        now = int(time.time())
        reason = expiry_reason(app, now)
        if reason is None:
            if now - session[SEEN_AT] >= 30:  # write the cookie at most twice a minute
                session[SEEN_AT] = now
            return None
        from app.extensions import db
        from app.security.permissions import current_actor
        from app.security.services import record_session_expired

        record_session_expired(db.session, current_actor(), reason)
        db.session.commit()
        end()
        flash(_l("Votre session a expiré. Connectez-vous de nouveau."), "info")
        if request.headers.get("HX-Request") == "true":
            response = Response(status=200)
            response.headers["HX-Redirect"] = url_for("security.login")
            return response
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("security.login", next=target))
