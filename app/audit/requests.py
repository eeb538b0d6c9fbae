"""Per-request auditing: a request id on every request, and one ``http.<method>`` event for every
state-changing request (POST, PUT, PATCH, DELETE), whatever its outcome.

The event names the endpoint, the status, the outcome and the actor, and lists the rows the request
changed (table, id, and for each changed column its value before and after; secret-looking columns are
masked). Changes are captured by session events while the request runs: those of a transaction that
rolls back are dropped, those of a transaction that commits are kept. ``app.web.hooks.commit_or_rollback``
calls ``audit_request`` between its decision and the commit, so a kept request's event commits with its
work and a refused or failed request's event is written alone after the rollback.

Domain events (``record_event`` in services) stay what they are: the business trail. This is the "every
request" trail, which also shows refused attempts.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask_login import current_user, user_unauthorized
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.audit.chain import MASK, is_secret, jsonable
from app.audit.models import AuditEvent, TenantAuditEvent
from app.audit.services import record_event
from app.security.actor import Actor

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: An incoming X-Request-ID (from nginx or a client) is kept only if it is a short, plain token.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: Beyond this many changed rows the event keeps a count (a bulk update would otherwise bloat the log).
MAX_CHANGES = 200
ANONYMOUS = "anonymous"


def _state() -> dict[str, Any]:
    """This request's audit state, kept in the WSGI environ rather than in ``g``: ``g`` belongs to the app
    context, which a request shares with whoever pushed it first (tests, scripts)."""
    return request.environ.setdefault("mbolo.audit", {})


def current_request_id() -> str | None:
    """This request's id: the incoming X-Request-ID if safe, else a new one (None outside requests)."""
    if not has_request_context():
        return None
    state = _state()
    if "request_id" not in state:
        incoming = request.headers.get("X-Request-ID", "")
        state["request_id"] = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    return state["request_id"]


@dataclass
class _Capture:
    """Changed rows of this request: per session until its transaction ends, then kept or dropped."""

    pending: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    committed: list[dict[str, Any]] = field(default_factory=list)


def _capture() -> _Capture | None:
    if not has_request_context() or request.method not in MUTATING:
        return None
    return _state().setdefault("capture", _Capture())


def describe_change(obj: object, op: str) -> dict[str, Any] | None:
    """One changed row: table, id, and the values before and after (masked where secret)."""
    state = inspect(obj)
    mapper = state.mapper
    key = state.identity or mapper.primary_key_from_instance(obj)
    change: dict[str, Any] = {
        "table": mapper.persist_selectable.fullname,  # type: ignore[attr-defined]
        "op": op,
        "id": jsonable(key[0] if key and len(key) == 1 else key),
    }
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in mapper.column_attrs:
        secret = is_secret(attr.key) or any(is_secret(c.name) for c in attr.columns)
        if op == "update":
            history = state.attrs[attr.key].history
            if not history.added and not history.deleted:
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old == new:
                continue
            before[attr.key], after[attr.key] = (MASK, MASK) if secret else (jsonable(old), jsonable(new))
        elif attr.key in state.dict:
            (after if op == "insert" else before)[attr.key] = (
                MASK if secret else jsonable(state.dict[attr.key])
            )
    if op == "update" and not after:
        return None
    if before:
        change["before"] = before
    if after:
        change["after"] = after
    return change


@event.listens_for(Session, "after_flush")
def _capture_changes(session: Session, _context: object) -> None:
    """After the flush, new rows have their ids and the attribute history still holds the old values."""
    capture = _capture()
    if capture is None:
        return
    changes = capture.pending.setdefault(session.hash_key, [])
    for objects, op in ((session.new, "insert"), (session.dirty, "update"), (session.deleted, "delete")):
        for obj in objects:
            if isinstance(obj, AuditEvent | TenantAuditEvent):
                continue
            change = describe_change(obj, op)
            if change is not None:
                changes.append(change)


@event.listens_for(Session, "after_commit")
def _keep_changes(session: Session) -> None:
    capture = _capture()
    if capture is not None:
        capture.committed.extend(capture.pending.pop(session.hash_key, []))


@event.listens_for(Session, "after_rollback")
def _drop_changes(session: Session) -> None:
    capture = _capture()
    if capture is not None:
        capture.pending.pop(session.hash_key, None)


def _mark_unauthorized(_sender: object, **_extra: object) -> None:
    """Flask-Login answered "sign in first" (a redirect): the request was denied, not a success."""
    if has_request_context():
        _state()["denied"] = True


def outcome_of(status: int, kept: bool) -> str:
    if status >= 500:
        return "error"
    if status in (401, 403) or _state().get("denied"):
        return "denied"
    if status >= 400 or not kept:
        return "refused"
    return "success"


def _request_actor(session: Session) -> Actor:
    """The actor the view used, else the signed-in account (read in a savepoint: a failure to load its
    grants must not abort the transaction the event is written in), else an anonymous one."""
    actor = g.get("mbolo_actor")
    if actor is not None:
        return actor
    if not (current_user and current_user.is_authenticated):
        return Actor(account_id=None, label=ANONYMOUS, ip_address=request.remote_addr)
    from app.security.permissions import current_actor

    try:
        with session.begin_nested():
            return current_actor()
    except Exception:  # the event is written anyway, with what is known
        log.exception("audit: could not build the actor of %s", request.path)
        return Actor(
            account_id=getattr(current_user, "id", None),
            label=str(getattr(current_user, "email", None) or getattr(current_user, "id", ANONYMOUS)),
            ip_address=request.remote_addr,
        )


def audit_request(response: Response, *, kept: bool) -> None:
    """Record this request's ``http.<method>`` event (state-changing requests only).

    ``kept``: the request's work is about to be committed; the event joins the open transaction (the
    caller commits). Otherwise the caller has rolled the work back: the event is written alone and
    committed here, and a failure to write it is logged rather than turning the answer into an error.
    """
    if not has_request_context() or request.method not in MUTATING:
        return
    from app.extensions import db

    session = db.session()
    if kept:
        session.flush()  # the changes not flushed yet are captured now
    capture = _state().get("capture") or _Capture()
    changes = [*capture.committed, *(capture.pending.get(session.hash_key, []) if kept else [])]
    details: dict[str, Any] = {"endpoint": request.endpoint, "status": response.status_code}
    if changes:
        details["changes"] = changes[:MAX_CHANGES]
        if len(changes) > MAX_CHANGES:
            details["changes_omitted"] = len(changes) - MAX_CHANGES
    try:
        record_event(
            session,
            _request_actor(session),
            f"http.{request.method.lower()}",
            outcome=outcome_of(response.status_code, kept),
            platform="tenant" not in g,
            **details,
        )
        if not kept:
            session.commit()
    except Exception:
        if kept:
            raise  # no commit without its audit trail
        session.rollback()
        log.exception("audit: could not record %s %s", request.method, request.path)


def install_request_audit(app: Flask) -> None:
    """Request ids in and out, and the signal that marks a "sign in first" answer as denied."""

    @app.before_request
    def assign_request_id() -> None:
        current_request_id()

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = current_request_id() or ""
        return response

    user_unauthorized.connect(_mark_unauthorized, app)
