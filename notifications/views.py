"""Back-office screens of notifications and the SMS gateway's delivery receipts.

- ``/<tenant>/boite-envoi/``: the mutual's outbox (``notifications.read``) with filters (channel, status,
  event), a message's detail (its read is audited: it names a member and their phone), and "send again"
  for a failed message (``notifications.send``).
- ``/admin/messages-personnel/``: messages to staff accounts — all of them for platform administrators,
  one's own for anyone else; administrators may send a failed one again.
- ``POST /notifications/sms/accuse/<slug | _staff>``: the gateway's delivery receipt, HMAC-signed with
  ``MBOLO_SMS_RECEIPT_SECRET`` (see ``notifications.receipts``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.audit.services import record_read
from app.errors import DomainError, Forbidden, NotFound
from app.extensions import csrf, db
from app.security.permissions import SIGNED_IN, current_actor, public, requires
from notifications import receipts, services
from notifications.forms import CHANNEL_LABELS, EVENT_LABELS, STATUS_LABELS, OutboxFilterForm, RetryForm
from notifications.models import OutboxMessage, StaffMessage
from tenants.context import TenantRef, bind_tenant
from tenants.models import Tenant, TenantStatus
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("notifications", __name__, template_folder="templates")
install_resolution(bp)
staff_bp = Blueprint("staff_messages", __name__, template_folder="templates")
receipts_bp = Blueprint("notification_receipts", __name__)
PER_PAGE = 50


@bp.context_processor
@staff_bp.context_processor
def wording() -> dict[str, Any]:
    return {"channel_labels": CHANNEL_LABELS, "status_labels": STATUS_LABELS, "event_labels": EVENT_LABELS}


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


def _filters(form: OutboxFilterForm) -> dict[str, str]:
    return {
        name: getattr(form, name).data for name in ("channel", "status", "event") if getattr(form, name).data
    }


@bp.get("/")
@requires("notifications.read")
def outbox() -> str:
    """The mutual's outbox, newest first, filtered."""
    actor = current_actor()
    actor.require("notifications.read", g.tenant_record.federation.path)
    form = OutboxFilterForm(request.args)
    args, page = _filters(form), _page()
    rows = services.list_messages(
        db.session, current_tenant(), PER_PAGE + 1, offset=(page - 1) * PER_PAGE, **args
    )
    return render_template(
        "notifications/outbox.html", form=form, messages=rows[:PER_PAGE], more=len(rows) > PER_PAGE,
        page=page, args=args,
    )  # fmt: skip


@bp.get("/<public_id>")
@requires("notifications.read")
def detail(public_id: str) -> str:
    actor = current_actor()
    actor.require("notifications.read", g.tenant_record.federation.path)
    message = services.get_message(db.session, OutboxMessage, public_id)
    record_read(db.session, actor, "outbox_message", message.public_id, member_id=message.member_id)
    return render_template(
        "notifications/detail.html", message=message, member=_member(message),
        can_retry=actor.can("notifications.send", g.tenant_record.federation.path), retry_form=RetryForm(),
    )  # fmt: skip


def _member(message: OutboxMessage) -> Any:
    from app.members.models import Member

    return db.session.get(Member, message.member_id) if message.member_id else None


@bp.post("/<public_id>/renvoyer")
@requires("notifications.send")
def retry(public_id: str) -> Response | tuple[str, int]:
    """Send a failed message again."""
    actor = current_actor()
    actor.require("notifications.send", g.tenant_record.federation.path)
    message = services.get_message(db.session, OutboxMessage, public_id)
    if not RetryForm().validate_on_submit():
        abort(400)
    try:
        services.retry_message(db.session, actor, message)
    except DomainError as error:
        g.mbolo_rollback = True
        return render_template("notifications/detail.html", message=message, member=_member(message),
                               can_retry=True, retry_form=RetryForm(), error=error.message), 422  # fmt: skip
    return redirect(url_for(".detail", public_id=public_id))


# --- staff messages ----------------------------------------------------------------------------------------


@staff_bp.get("/")
@requires(SIGNED_IN)
def index() -> str:
    """All staff messages for platform administrators; one's own for anyone else."""
    actor = current_actor()
    form = OutboxFilterForm(request.args, staff=True)
    args, page = _filters(form), _page()
    query_args = dict(args)
    rows = services.list_staff_messages(
        db.session, PER_PAGE + 1, offset=(page - 1) * PER_PAGE,
        account_id=None if actor.is_platform_admin else actor.account_id, **query_args,
    )  # fmt: skip
    return render_template(
        "notifications/staff.html", form=form, messages=rows[:PER_PAGE], more=len(rows) > PER_PAGE,
        page=page, args=args, everyone=actor.is_platform_admin,
    )  # fmt: skip


def _staff_message(public_id: str) -> StaffMessage:
    actor = current_actor()
    message = services.get_message(db.session, StaffMessage, public_id)
    if not actor.is_platform_admin and message.account_id != actor.account_id:
        raise NotFound()
    return message  # type: ignore[return-value]


@staff_bp.get("/<public_id>")
@requires(SIGNED_IN)
def staff_detail(public_id: str) -> str:
    message = _staff_message(public_id)
    from app.security.models import Account

    account = db.session.scalar(select(Account).where(Account.id == message.account_id))
    return render_template(
        "notifications/staff_detail.html", message=message, account=account,
        can_retry=current_actor().is_platform_admin, retry_form=RetryForm(),
    )  # fmt: skip


@staff_bp.post("/<public_id>/renvoyer")
@requires(SIGNED_IN)
def staff_retry(public_id: str) -> Response:
    actor = current_actor()
    if not actor.is_platform_admin:
        raise Forbidden()
    if not RetryForm().validate_on_submit():
        abort(400)
    services.retry_message(db.session, actor, _staff_message(public_id))
    return redirect(url_for(".staff_detail", public_id=public_id))


# --- delivery receipts -------------------------------------------------------------------------------------


@receipts_bp.post("/notifications/sms/accuse/<scope>")
@public
def sms_receipt(scope: str) -> tuple[Response, int]:
    """The SMS gateway's delivery receipt for a message of mutual ``scope`` (or ``_staff``)."""
    body = request.get_data(cache=True)
    try:
        receipt = receipts.verify(body, request.headers)
    except receipts.ReceiptRefused as refused:
        g.mbolo_rollback = True
        return jsonify({"error": str(refused)}), refused.status
    if scope == "_staff":
        bind_tenant(db.session, None)
        found = services.record_receipt(db.session, StaffMessage, **receipt)
    else:
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == scope))
        if tenant is None or tenant.status is TenantStatus.archived:
            return jsonify({"error": "unknown tenant"}), 404
        bind_tenant(db.session, TenantRef.of(tenant))
        found = services.record_receipt(db.session, OutboxMessage, **receipt)
    if found is None:
        return jsonify({"error": "unknown message"}), 404
    return jsonify({"status": found.status.value}), 200


csrf.exempt(sms_receipt)
