"""The portal's own sign-in state, separate from staff Flask-Login.

A signed-in member's browser session holds ``mbolo_portal``: the tenant slug, the member's public id, their
portal session epoch and when they signed in / were last seen. A session from another mutual, a stale epoch
(sign-out everywhere, new password), ``MBOLO_PORTAL_IDLE_MINUTES`` of inactivity or
``MBOLO_PORTAL_SESSION_HOURS`` since sign-in all send the member back to the sign-in page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, has_request_context, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.extensions import db
from app.members.models import Member, MemberStatus
from app.security.actor import Actor
from app.security.permissions import MEMBER
from portal.services import member_actor_for

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "mbolo_portal"
IDLE_MINUTES, SESSION_HOURS = 30, 12
#: A member who left or died is signed out at their next request.
SIGNED_OUT_STATUSES = (MemberStatus.left, MemberStatus.deceased)


def member_actor(member: Member) -> Actor:
    """The member as an actor for audit and services: no staff permission at all."""
    return member_actor_for(member, request.remote_addr if has_request_context() else None)


def start(member: Member, epoch: int) -> None:
    """Open a portal session for ``member`` in the current tenant (after a code or password check)."""
    from tenants.resolution import current_tenant

    now = int(time.time())
    session.permanent = True
    session[SESSION_KEY] = {
        "t": current_tenant().slug,
        "m": member.public_id,
        "e": epoch,
        "at": now,
        "seen": now,
    }


def end() -> None:
    session.pop(SESSION_KEY, None)


def _limits() -> tuple[int, int]:
    config = current_app.config
    return (
        int(config.get("MBOLO_PORTAL_IDLE_MINUTES", IDLE_MINUTES)) * 60,
        int(config.get("MBOLO_PORTAL_SESSION_HOURS", SESSION_HOURS)) * 3600,
    )


def _load() -> Member | None:
    """The member of this tenant's valid portal session, or None (an expired one is cleared)."""
    if "portal_member" in g:
        return g.portal_member  # type: ignore[no-any-return]
    from portal.models import PortalAccess
    from tenants.resolution import current_tenant

    g.portal_member = None
    state = session.get(SESSION_KEY)
    if not isinstance(state, dict) or state.get("t") != current_tenant().slug:
        return None
    now, (idle, absolute) = int(time.time()), _limits()
    if now - int(state.get("seen", 0)) > idle or now - int(state.get("at", 0)) > absolute:
        g.portal_expired = True
        end()
        return None
    row = db.session.execute(
        select(Member, PortalAccess.session_epoch)
        .join(PortalAccess, PortalAccess.member_id == Member.id)
        .where(Member.public_id == state.get("m"))
    ).first()
    if row is None or row[1] != state.get("e") or row[0].status in SIGNED_OUT_STATUSES:
        end()
        return None
    if now - int(state["seen"]) >= 30:  # write the cookie at most twice a minute
        session[SESSION_KEY] = {**state, "seen": now}
    g.portal_member = row[0]
    return row[0]


def signed_in() -> bool:
    """Whether a member is signed in to this tenant's portal (templates show the nav then)."""
    return "tenant" in g and _load() is not None


def current_member() -> Member:
    """The signed-in member (the tenant context is already bound by the URL)."""
    member = _load()
    if member is None:
        raise RuntimeError("current_member() outside a member_required view")
    return member


def member_required(view: F) -> F:
    """Mark a portal view (``MEMBER``) and send anyone without a valid portal session to the sign-in page."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _load() is None:
            target = url_for("portal.sign_in", next=request.full_path if request.method == "GET" else None)
            if g.get("portal_expired"):
                from flask import flash
                from flask_babel import gettext as _

                flash(_("Votre session a expiré. Reconnectez-vous."), "info")
            if request.headers.get("HX-Request") == "true":
                response = Response(status=200)
                response.headers["HX-Redirect"] = target
                return response
            return redirect(target)
        return view(*args, **kwargs)

    guarded.permission = MEMBER  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]
