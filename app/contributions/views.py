"""A household's contributions (``/<tenant>/cotisations``): its account — dues, payments, arrears — as an
htmx panel for the member page or as a page of its own; cash payments at the association's counter and
their receipts; cancellation and correction (critical functions: step-up); the day's payments for the cash
count at closing time."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from app import clock
from app.audit.services import record_read
from app.contributions import payments, receipts, subscriptions
from app.contributions.dues import generate_household_dues
from app.contributions.forms import CancelForm, CorrectForm, DayForm, PaymentForm, SubscribeForm
from app.contributions.models import Payment
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.extensions import db
from app.formatting import money
from app.members.models import Member
from app.members.services import get_member
from app.security import stepup
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from hierarchy.models import Node
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("contributions", __name__, template_folder="templates")
install_resolution(bp)


@bp.context_processor
def wording() -> dict[str, Any]:
    return {
        "money": money,
        "long_date": payments.long_date,
        "period_label": payments.period_label,
        "method_labels": payments.METHOD_LABELS,
        "due_status_labels": payments.DUE_STATUS_LABELS,
        "payment_status_labels": payments.PAYMENT_STATUS_LABELS,
    }


def _member(public_id: str, permission: str) -> Member:
    # No read audit here: an audit event flushed before the payment's locks would invert the lock order
    # (see app.contributions.payments); the account page audits its read itself.
    return get_member(
        db.session, current_tenant(), current_actor(), public_id, permission=permission, audit_read=False
    )


def _payment(public_id: str) -> Payment:
    return payments.get_payment(db.session, current_tenant(), current_actor(), public_id)


def _to_member_page(payment: Payment) -> BaseResponse:
    member = db.session.get(Member, payment.member_id)
    assert member is not None
    return redirect(url_for("members.detail", public_id=member.public_id), 303)


# --- the household's account -------------------------------------------------------------------------------


@bp.get("/membre/<member_public_id>")
@requires("contributions.read")
def account(member_public_id: str) -> str:
    """The panel (just the fragment for htmx, a whole page otherwise)."""
    member = _member(member_public_id, "contributions.read")
    record_read(db.session, current_actor(), "contributions", (member.principal or member).number)
    return _account_page(member)


def _subscribe_form(principal: Member, form: SubscribeForm | None = None) -> SubscribeForm:
    """The products valid today that the household does not have yet."""
    from wtforms.fields.choices import SelectChoice

    from app.coverage.models import Product

    today = clock.today()
    held = {s.product_id for s in subscriptions.subscriptions_of(db.session, principal) if s.end_date is None}
    available = [
        p for p in db.session.query(Product).order_by(Product.name)
        if p.id not in held and p.valid_from <= today and (p.valid_to is None or p.valid_to >= today)
    ]  # fmt: skip
    form = form or SubscribeForm(formdata=None, data={"start_date": today.strftime("%d/%m/%Y")})
    form.product.choices = [SelectChoice(p.public_id, p.name) for p in available]
    return form


def _account_page(
    member: Member, form: PaymentForm | None = None, subscribe_form: SubscribeForm | None = None
) -> str:
    actor, principal = current_actor(), member.principal or member
    node = db.session.get(Node, principal.association_id)
    path = node.path if node is not None else None
    today = clock.today()
    form = form or PaymentForm(formdata=None, data={"received_on": today.strftime("%d/%m/%Y")})
    htmx = request.headers.get("HX-Request") == "true"
    return render_template(
        "contributions/_account.html" if htmx else "contributions/account.html",
        member=member, principal=principal, form=form,
        subscribe_form=_subscribe_form(principal, subscribe_form),
        account=payments.household_account(db.session, principal),
        arrears=payments.arrears(db.session, principal, today),
        can_record=actor.can("contributions.record", path), can_validate=actor.can("payments.validate", path),
        title=_l("Cotisations de %(name)s", name=principal.full_name),
    )  # fmt: skip


@bp.post("/membre/<member_public_id>/souscriptions")
@requires("contributions.record")
def subscribe(member_public_id: str) -> str | BaseResponse | tuple[str, int]:
    """Subscribe the household to a product; its dues up to today are created at once, to be paid now."""
    from app.coverage.models import Product

    member = _member(member_public_id, "contributions.record")
    principal = member.principal or member
    form = SubscribeForm()
    try:
        product = db.session.query(Product).filter_by(public_id=form.product.data or "").one_or_none()
        if product is None:
            raise FieldError("product", _l("Choisissez un produit."))
        start = payments.parse_day(form.start_date.data or "", "start_date")
        actor = current_actor()
        subscriptions.subscribe(db.session, current_tenant(), actor, principal, product, start)
        db.session.flush()
        generate_household_dues(db.session, principal.id, through=clock.today(), actor=actor)
        payments.apply_credit(db.session, principal, actor=actor)
        flash(_l("Souscription enregistrée : %(product)s.", product=product.name), "info")
        return redirect(url_for("members.detail", public_id=principal.public_id), 303)
    except DomainError as error:
        show_error(form, error)
        return _account_page(member, subscribe_form=form), 422


@bp.post("/membre/<member_public_id>/paiements")
@requires("contributions.record")
def record(member_public_id: str) -> str | BaseResponse | tuple[str, int]:
    """Cash received: allocated at once; back to the member page with the receipt's number and link."""
    member = _member(member_public_id, "contributions.record")
    form = PaymentForm()
    try:
        typed_day = (form.received_on.data or "").strip()
        payment = payments.record_payment(
            db.session, current_tenant(), current_actor(), member, amount=form.amount.data or "",
            received_on=payments.parse_day(typed_day, "received_on") if typed_day else None,
            receipt_number=form.receipt_number.data or None,
        )  # fmt: skip
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        show_error(form, error)
        return _account_page(member, form), 422
    flash(_receipt_message(payment), "info")
    return redirect(url_for("members.detail", public_id=member.public_id), 303)


def _receipt_message(payment: Payment) -> Markup:
    """Flash text with a link (kept as Markup through the session; every part is escaped)."""
    return Markup('{} <a href="{}">{}</a>').format(
        _("Paiement de %(amount)s enregistré : reçu n° %(number)s.",
          amount=money(payment.amount), number=payment.receipt_number),
        url_for("contributions.receipt", payment_public_id=payment.public_id),
        _("Imprimer le reçu"),
    )  # fmt: skip


@bp.get("/paiements/<payment_public_id>/recu.pdf")
@requires("contributions.read")
def receipt(payment_public_id: str) -> Response:
    payment = _payment(payment_public_id)
    data = receipts.print_receipt(db.session, current_tenant(), current_actor(), payment)
    response = Response(data, mimetype="application/pdf")
    name = re.sub(r"[^A-Za-z0-9-]", "_", payment.receipt_number)  # typed paper numbers may hold "/" or " "
    response.headers["Content-Disposition"] = f'inline; filename="recu-{name}.pdf"'
    return response


# --- cancellation and correction (critical) ----------------------------------------------------------------


def _operation(payment: Payment, reason: str, new_amount: int | None = None) -> stepup.Operation:
    member = db.session.get(Member, payment.member_id)
    assert member is not None
    data: dict[str, Any] = {"payment": payment.public_id, "reason": reason}
    summary: list[tuple[object, object]] = [
        (_l("Reçu"), payment.receipt_number),
        (_l("Adhérent"), f"{member.full_name} ({member.number})"),
        (_l("Montant"), money(payment.amount)),
    ]
    if new_amount is not None:
        data["new_amount"] = new_amount
        summary.append((_l("Montant corrigé"), money(new_amount)))
    summary.append((_l("Motif"), reason))
    return stepup.Operation("payments.cancel", data, tuple(summary))


def _action_page(template: str, payment: Payment, form: Any) -> str | tuple[str, int]:
    page = render_template(
        template, payment=payment, form=form, member=db.session.get(Member, payment.member_id),
        title=_l("Reçu n° %(number)s", number=payment.receipt_number),
    )  # fmt: skip
    return (page, 422) if form.errors or form.form_errors else page


@bp.route("/paiements/<payment_public_id>/annuler", methods=["GET", "POST"])
@requires("payments.validate")
def cancel(payment_public_id: str) -> str | BaseResponse | tuple[str, int]:
    """Cancel with a reason; the input is checked, then a step-up approves this very cancellation."""
    actor, payment, form = current_actor(), _payment(payment_public_id), CancelForm()
    payments.require_validate(db.session, actor, payment)
    if request.method == "POST":
        try:
            reason = payments.clean_reason(form.reason.data)
            payments.check_cancellable(db.session, actor, payment)
            stepup.authorize(db.session, actor, _operation(payment, reason))
            payments.cancel_payment(db.session, current_tenant(), actor, payment, reason)
            flash(_l("Paiement annulé : reçu n° %(number)s.", number=payment.receipt_number), "warning")
            return _to_member_page(payment)
        except (NotFound, Forbidden):
            raise
        except DomainError as error:
            show_error(form, error)
    return _action_page("contributions/cancel.html", payment, form)


@bp.route("/paiements/<payment_public_id>/corriger", methods=["GET", "POST"])
@requires("payments.validate")
def correct(payment_public_id: str) -> str | BaseResponse | tuple[str, int]:
    """A wrong amount: the original is cancelled (kept) and replaced by ``<number>-C1`` (step-up first)."""
    actor, payment, form = current_actor(), _payment(payment_public_id), CorrectForm()
    payments.require_validate(db.session, actor, payment)
    if request.method == "POST":
        try:
            reason = payments.clean_reason(form.reason.data)
            amount = payments.check_correction(db.session, actor, payment, form.new_amount.data or "")
            stepup.authorize(db.session, actor, _operation(payment, reason, amount))
            fixed = payments.correct_payment(db.session, current_tenant(), actor, payment, amount, reason)
            flash(_receipt_message(fixed), "info")
            return _to_member_page(payment)
        except (NotFound, Forbidden):
            raise
        except DomainError as error:
            show_error(form, error)
    return _action_page("contributions/correct.html", payment, form)


# --- the day's payments ------------------------------------------------------------------------------------


@bp.get("/paiements")
@requires("contributions.read")
def day() -> str:
    """Payments received on a day (``?jour=JJ/MM/AAAA``, today by default) at the agent's associations,
    with the totals to check against the cash box."""
    form = DayForm(request.args)
    day = clock.today()
    if (form.jour.data or "").strip():
        try:
            day = payments.parse_day(form.jour.data, "jour")
        except FieldError as error:
            form.jour.errors = [error.message]
    else:
        form.jour.data = day.strftime("%d/%m/%Y")
    report = payments.day_payments(db.session, current_tenant(), current_actor(), day)
    return render_template(
        "contributions/day.html", form=form, report=report,
        title=_l("Paiements du %(day)s", day=day.strftime("%d/%m/%Y")),
    )  # fmt: skip
