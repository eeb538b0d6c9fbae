"""Online payments on the web (``/<tenant>/…``): provider webhooks, the Sandbox's simulated phone, and the
member's pay page reached through a signed, time-limited link (no sign-in until the portal exists)."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from app.contributions import payments as contributions
from app.contributions import receipts
from app.contributions.models import Due, DueStatus, Payment
from app.errors import DomainError, FieldError
from app.extensions import csrf, db
from app.formatting import money
from app.members.models import Member
from app.members.services import get_member
from app.security.actor import Actor
from app.security.permissions import current_actor, public, requires
from payments import service
from payments.models import OnlinePayment
from payments.providers import registry
from payments.providers.base import SignatureInvalid
from payments.providers.sandbox import SandboxProvider
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("payments", __name__, template_folder="templates")
install_resolution(bp)

LINK_MAX_AGE = 48 * 3600


def _serializer() -> URLSafeTimedSerializer:
    from flask import current_app

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="mbolo-pay-link")


def make_link_token(slug: str, member_public_id: str) -> str:
    return _serializer().dumps({"t": slug, "m": member_public_id})


def _principal_from(token: str) -> Member:
    """The household of a pay link; 404 for a forged, expired or other mutual's link."""
    try:
        data = _serializer().loads(token, max_age=LINK_MAX_AGE)
    except (SignatureExpired, BadSignature):
        abort(404)
    if data.get("t") != current_tenant().slug:
        abort(404)
    member = db.session.scalar(select(Member).where(Member.public_id == data.get("m")))
    if member is None:
        abort(404)
    return member.principal or member


# --- webhooks ----------------------------------------------------------------------------------------------


@bp.post("/paiements/webhooks/<provider>")
@public
def webhook(provider: str) -> tuple[str, int]:
    """A provider's notification: verified and stored, processed by the worker after the commit."""
    try:
        service.receive_webhook(
            db.session, current_tenant(), provider, request.get_data(), dict(request.headers)
        )
    except SignatureInvalid:
        db.session.commit()  # the security event only
        return "invalid signature", 400
    db.session.commit()
    return "ok", 200


csrf.exempt(webhook)


# --- the Sandbox's simulated phone -------------------------------------------------------------------------


@bp.route("/paiements/sandbox/<provider_ref>", methods=["GET", "POST"])
@public
def sandbox_phone(provider_ref: str) -> str | BaseResponse:
    """The member's "phone": approve, decline, or leave it unanswered (then polling expires it)."""
    from payments.models import SandboxCharge

    charge = db.session.scalar(select(SandboxCharge).where(SandboxCharge.provider_ref == provider_ref))
    if charge is None:
        abort(404)
    if request.method == "POST":
        answer = request.form.get("answer")
        if answer in ("approve", "decline"):
            provider = SandboxProvider(current_tenant())
            body, headers = provider.answer(provider_ref, approve=answer == "approve")
            service.receive_webhook(db.session, current_tenant(), "sandbox", body, headers)  # in-process
        db.session.commit()
        return redirect(charge.return_url, 303)
    return render_template("payments/sandbox.html", charge=charge, money=money)


# --- the pay link ------------------------------------------------------------------------------------------


@bp.get("/paiements/lien/<member_public_id>")
@requires("contributions.record")
def pay_link(member_public_id: str) -> str:
    """Staff give the household a link to pay online (valid 48 h)."""
    member = get_member(
        db.session,
        current_tenant(),
        current_actor(),
        member_public_id,
        permission="contributions.record",
        audit_read=False,
    )
    principal = member.principal or member
    link = url_for(
        "payments.pay", token=make_link_token(current_tenant().slug, principal.public_id), _external=True
    )
    from app.audit.services import record_event

    record_event(
        db.session,
        current_actor(),
        "payments.pay_link_created",
        target_type="member",
        target_id=principal.number,
    )
    db.session.commit()
    return render_template("payments/link.html", principal=principal, link=link)


def _open_dues(principal: Member) -> list[Due]:
    return list(
        db.session.scalars(
            select(Due)
            .where(Due.member_id == principal.id, Due.status == DueStatus.open)
            .order_by(Due.due_date, Due.id)
        )
    )


@bp.route("/payer/<token>", methods=["GET", "POST"])
@public
def pay(token: str) -> str | BaseResponse:
    """What the household owes, and a button to pay it all online."""
    principal = _principal_from(token)
    dues = _open_dues(principal)
    owed = sum(d.outstanding for d in dues)
    providers = registry.enabled(current_tenant())
    error = None
    if request.method == "POST" and owed > 0:
        name = request.form.get("provider") or registry.DEFAULT
        try:
            payment = service.start_payment(
                db.session,
                current_tenant(),
                Actor.system("lien de paiement"),
                principal,
                owed,
                name,
                return_url=url_for("payments.pay_return", token=token, public_id="__ID__", _external=True),
            )
        except (DomainError, FieldError) as refused:
            db.session.rollback()
            error = str(refused)
        else:
            _fix_return(payment, token)
            db.session.commit()
            if payment.redirect_url:
                return redirect(payment.redirect_url, 303)
            return redirect(url_for("payments.pay_return", token=token, public_id=payment.public_id), 303)
    return render_template(
        "payments/pay.html",
        principal=principal,
        dues=dues,
        owed=owed,
        providers=providers,
        labels=registry.LABELS,
        token=token,
        error=error,
        money=money,
        period_label=contributions.period_label,
    )


def _fix_return(payment: OnlinePayment, token: str) -> None:
    """The return URL names the payment, known only once it exists (the sandbox's ledger keeps it)."""
    from payments.models import SandboxCharge

    url = url_for("payments.pay_return", token=token, public_id=payment.public_id, _external=True)
    charge = db.session.scalar(
        select(SandboxCharge).where(SandboxCharge.payment_public_id == payment.public_id)
    )
    if charge is not None:
        charge.return_url = url


@bp.get("/payer/<token>/retour/<public_id>")
@public
def pay_return(token: str, public_id: str) -> str:
    """Back from the provider: never proof of payment, only the processed status is shown."""
    principal = _principal_from(token)
    payment = service.get_online(db.session, public_id)
    if payment is None or payment.member_id != principal.id:
        abort(404)
    receipt = (
        db.session.get(Payment, payment.contribution_payment_id) if payment.contribution_payment_id else None
    )
    return render_template(
        "payments/return.html",
        principal=principal,
        payment=payment,
        receipt=receipt,
        token=token,
        money=money,
        labels=service.STATUS_LABELS,
    )


@bp.get("/payer/<token>/recu/<public_id>")
@public
def pay_receipt(token: str, public_id: str) -> Response:
    """The receipt PDF of an online payment, through the signed link only."""
    principal = _principal_from(token)
    payment = service.get_online(db.session, public_id)
    if payment is None or payment.member_id != principal.id or payment.contribution_payment_id is None:
        abort(404)
    received = db.session.get(Payment, payment.contribution_payment_id)
    assert received is not None
    data = receipts.receipt_pdf(receipts.receipt_for(db.session, current_tenant(), received))
    name = re.sub(r"[^A-Za-z0-9-]", "_", received.receipt_number)
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="recu-{name}.pdf"'},
    )


TITLE = _l("Paiement en ligne")
