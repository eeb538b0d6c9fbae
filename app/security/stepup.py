"""Step-up approval of critical functions, after OWASP's Transaction Authorization guidance.

A critical view builds an ``Operation`` — its name and significant data (what, how much, for whom) — and
calls ``authorize(operation)`` before acting. Without a valid approval, ``StepUpRequired`` is raised; its
handler keeps the operation server-side (digest of the data, a summary to show, what the user typed) and sends
the user to the confirmation page (a redirect; ``HX-Redirect`` for htmx; ``401`` with
``WWW-Authenticate: Bearer error="insufficient_user_authentication"`` (RFC 9470) for JSON callers). A correct
TOTP or recovery code approves that one operation for ``MBOLO_STEPUP_MINUTES``; the form is then posted back
to the very action with the approval token, and ``authorize`` consumes it — only if the data still hash to
the same digest. Changed data void the approval; an approval serves once.

To add a critical function: register its name in ``CRITICAL_OPERATIONS``, guard the view with a permission
marked ``critical=True`` and call ``authorize`` in the view before the service acts (see README).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, jsonify, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.database import utcnow
from app.security import crypto
from app.security.actor import Actor
from app.security.models import StepUpApproval

APPROVAL_FIELD = "_stepup"
APPROVAL_HEADER = "Mbolo-Approval"
#: Form fields never kept in an approval's payload.
_NOT_KEPT = {"csrf_token", APPROVAL_FIELD}

#: Every critical function: name → what the confirmation screen calls it.
CRITICAL_OPERATIONS: dict[str, object] = {
    "accounts.invite": _l("Créer un compte avec un profil"),
    "grants.add": _l("Attribuer un profil"),
    "grants.revoke": _l("Retirer un profil"),
    "profiles.create": _l("Créer un profil"),
    "profiles.update": _l("Modifier les permissions d'un profil"),
    "profiles.delete": _l("Supprimer un profil"),
    "tenants.create": _l("Créer une mutuelle"),
    "tenants.status": _l("Suspendre, réactiver ou archiver une mutuelle"),
    "mfa.reset": _l("Réinitialiser la double authentification"),
    "mfa.recovery_codes": _l("Générer de nouveaux codes de secours"),
    "audit.export": _l("Exporter le journal d'audit"),
    "payments.cancel": _l("Annuler ou corriger un paiement"),
    "payments.configure": _l("Modifier les comptes marchands"),
    "products.tariff": _l("Changer un tarif"),
    "products.coverage": _l("Modifier la couverture d'un produit"),
    "payments.refund": _l("Rembourser un paiement en ligne"),
    "data.export": _l("Exporter des données personnelles"),
    "care.validate_invoice": _l("Valider une facture de prestataire"),
}


@dataclass(frozen=True)
class Operation:
    name: str
    #: The significant data, JSON-serialisable; its digest binds the approval.
    data: Mapping[str, Any]
    #: (label, value) lines shown on the confirmation screen.
    summary: tuple[tuple[object, object], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.name not in CRITICAL_OPERATIONS:
            raise ValueError(f"unknown critical operation {self.name!r}")

    @property
    def digest(self) -> str:
        canonical = json.dumps({"op": self.name, "data": self.data}, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


class StepUpRequired(Exception):
    """No usable approval for this operation: the handler asks for one."""

    def __init__(self, operation: Operation, reason: object = None) -> None:
        super().__init__(operation.name)
        self.operation = operation
        self.reason = reason


def _approval_token() -> str | None:
    return request.form.get(APPROVAL_FIELD) or request.headers.get(APPROVAL_HEADER) or None


@contextmanager
def _outside_tenant(session: Session) -> Iterator[None]:
    """Approvals live in ``public``, beyond the tenant roles' reach (by design): inside a mutual's pages they
    are read and used under the runtime role for a moment, in the same transaction as the operation."""
    from tenants.context import apply_context, current_tenant_of

    tenant = current_tenant_of(session)
    if tenant is None:
        yield
        return
    session.flush()  # the tenant's pending writes, under the tenant's role
    connection = session.connection()
    apply_context(connection, None)
    try:
        yield
        session.flush()  # the used approval and its audit event, under the runtime role
    finally:
        apply_context(connection, tenant)


def authorize(session: Session, actor: Actor, operation: Operation) -> None:
    """Pass if the request carries an approval of exactly this operation by this account, and use it up."""
    with _outside_tenant(session):
        _authorize(session, actor, operation)


def _authorize(session: Session, actor: Actor, operation: Operation) -> None:
    token = _approval_token()
    if token is None:
        raise StepUpRequired(operation)
    approval = session.scalar(
        select(StepUpApproval).where(
            StepUpApproval.token == token, StepUpApproval.account_id == actor.account_id
        )
    )
    if approval is None or approval.approved_at is None or approval.consumed_at is not None:
        raise StepUpRequired(operation, _l("Cette confirmation n'est plus valable : confirmez de nouveau."))
    if approval.operation != operation.name or approval.digest != operation.digest:
        raise StepUpRequired(
            operation,
            _l("Les données de l'opération ont changé depuis la confirmation : confirmez de nouveau."),
        )
    if approval.expires_at <= utcnow():
        raise StepUpRequired(operation, _l("La confirmation a expiré : confirmez de nouveau."))
    consumed = session.execute(
        update(StepUpApproval)
        .where(StepUpApproval.id == approval.id, StepUpApproval.consumed_at.is_(None))
        .values(consumed_at=utcnow(), payload=None)
        .returning(StepUpApproval.id)
    ).first()
    if consumed is None:  # a parallel request used it first
        raise StepUpRequired(operation, _l("Cette confirmation a déjà servi : confirmez de nouveau."))
    record_event(
        session, actor, "security.stepup_used", target_type="operation", target_id=operation.name,
        digest=operation.digest,
    )  # fmt: skip


def request_approval(session: Session, actor: Actor, operation: Operation) -> StepUpApproval:
    """Keep the pending operation (voiding earlier pending ones of the same kind) and what was typed."""
    now = utcnow()
    session.execute(
        update(StepUpApproval)
        .where(
            StepUpApproval.account_id == actor.account_id,
            StepUpApproval.operation == operation.name,
            StepUpApproval.consumed_at.is_(None),
        )
        .values(consumed_at=now, payload=None)
    )
    kept: dict[str, Any] = (
        {"json": request.get_json(silent=True)}
        if request.is_json
        else {"form": {k: v for k, v in request.form.lists() if k not in _NOT_KEPT}}
    )
    # What was typed may hold secrets (merchant keys): sealed with AES-GCM, bound to this account.
    payload = {"sealed": crypto.encrypt(json.dumps(kept).encode(), aad=_payload_aad(actor))}
    approval = StepUpApproval(
        token=secrets.token_urlsafe(32),
        account_id=actor.account_id,
        operation=operation.name,
        digest=operation.digest,
        summary=[[str(label), str(value)] for label, value in operation.summary],
        payload=payload,
        action_url=request.full_path.rstrip("?"),
        created_at=now,
        expires_at=now + dt.timedelta(minutes=current_app.config["MBOLO_STEPUP_MINUTES"]),
    )
    session.add(approval)
    session.flush()
    record_event(
        session, actor, "security.stepup_requested", target_type="operation", target_id=operation.name,
        digest=operation.digest,
    )  # fmt: skip
    return approval


def _payload_aad(actor: Actor) -> bytes:
    return f"stepup:{actor.account_id}".encode()


def kept_input(approval: StepUpApproval, actor: Actor) -> dict[str, Any]:
    """What the user typed for the pending operation (``{"form": {name: [values]}}`` or ``{"json": …}``)."""
    sealed = (approval.payload or {}).get("sealed")
    if not sealed:
        return {}
    return json.loads(crypto.decrypt(sealed, aad=_payload_aad(actor)))


def get_pending(session: Session, actor: Actor, token: str) -> StepUpApproval | None:
    return session.scalar(
        select(StepUpApproval).where(
            StepUpApproval.token == token, StepUpApproval.account_id == actor.account_id
        )
    )


def approve(session: Session, actor: Actor, approval: StepUpApproval) -> None:
    """Mark the approval granted (the caller has verified the second factor)."""
    approval.approved_at = utcnow()
    record_event(
        session, actor, "security.stepup_approved", target_type="operation", target_id=approval.operation,
        digest=approval.digest,
    )  # fmt: skip


def is_expired(approval: StepUpApproval) -> bool:
    return approval.expires_at <= utcnow()


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.is_json or best == "application/json"


def install(app: Flask) -> None:
    """Turn ``StepUpRequired`` into the confirmation prompt, in whatever shape the caller understands."""

    @app.errorhandler(StepUpRequired)
    def ask_for_approval(needed: StepUpRequired) -> Response | tuple[Response, int]:
        from flask import flash

        from app.extensions import db
        from app.security.permissions import current_actor

        if not current_user.is_authenticated:
            from app.extensions import login_manager

            return login_manager.unauthorized()
        from tenants.context import bind_tenant

        db.session.rollback()  # nothing of the refused attempt stays; the approval is its own transaction
        bind_tenant(db.session, None)  # approvals live in public
        actor = current_actor()
        approval = request_approval(db.session, actor, needed.operation)
        db.session.commit()
        url = url_for("security.confirm", token=approval.token)
        if wants_json():
            body = jsonify(
                error="insufficient_user_authentication",
                approval=approval.token,
                approve_url=url,
                expires_at=approval.expires_at.isoformat(),
                message=str(needed.reason or _l("Cette opération demande une confirmation.")),
            )
            body.status_code = 401
            body.headers["WWW-Authenticate"] = (
                'Bearer error="insufficient_user_authentication", '
                'error_description="A step-up approval is required for this operation"'
            )
            return body
        if needed.reason:
            flash(str(needed.reason), "warning")
        if request.headers.get("HX-Request") == "true":
            response = Response(status=200)
            response.headers["HX-Redirect"] = url
            return response
        return redirect(url, 303)
