"""Guarantee letters (``/<tenant>/lettres``): list, issue, the médecin-conseil's queue (approve or refuse with
a note), the PDF, and the public check of a letter's QR code (``/<tenant>/lettres/verify/<token>``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

from app import clock
from app.care import letters, providers
from app.care.eligibility import _member_by_number
from app.care.forms import CancelForm, DecisionForm, LetterForm
from app.care.models import CareProvider, LetterStatus
from app.coverage.models import Benefit
from app.dates import parse_day
from app.errors import DomainError, FieldError, NotFound
from app.extensions import db, limiter
from app.formatting import money
from app.members.models import Member
from app.security.actor import Actor
from app.security.permissions import current_actor, public, requires
from app.web.forms import show_error
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("care_letters", __name__, template_folder="templates")
install_resolution(bp)


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {"money": money, "letter_status_labels": letters.STATUS_LABELS}


def _verify_rate() -> str:
    return current_app.config.get("MBOLO_VERIFY_RATE", "30 per minute")


def _link(token: str) -> str:
    return url_for("care_letters.verify", token=token, _external=True)


def parse_items(raw: str) -> list[letters.ItemInput]:
    """One act per line: ``code, quantity[, estimated unit price]``."""
    found = []
    for number, line in enumerate((raw or "").splitlines(), start=1):
        parts = [p.strip() for p in line.replace(";", ",").split(",")]
        if not any(parts):
            continue
        code = parts[0].upper()
        benefit = db.session.scalar(select(Benefit).where(Benefit.code == code))
        if benefit is None:
            raise FieldError("items", _l("Ligne %(n)s : code « %(code)s » inconnu.", n=number, code=parts[0]))
        quantity = parts[1] if len(parts) > 1 and parts[1] else "1"
        price = parts[2].replace(" ", "") if len(parts) > 2 and parts[2] else None
        if not quantity.isdigit() or (price is not None and not price.isdigit()):
            raise FieldError("items", _l("Ligne %(n)s : quantité et prix en nombres entiers.", n=number))
        found.append(letters.ItemInput(benefit.id, int(quantity), int(price) if price is not None else None))
    return found


@bp.get("/")
@requires("care.record")
def index() -> str:
    actor, tenant = current_actor(), current_tenant()
    letters.expire_letters(db.session)
    status = request.args.get("statut", "")
    found = letters.list_letters(db.session, tenant, actor, status=status, q=request.args.get("q", ""))
    members = {
        m.id: m for m in db.session.scalars(select(Member).where(Member.id.in_({x.member_id for x in found})))
    }
    staff = providers.is_provider_staff(db.session, actor)
    return render_template(
        "care/letters/index.html", letters=found, members=members, status=status, can_issue=not staff,
        can_decide=not staff and actor.can("care.medical_control"), title=_l("Lettres de garantie"),
    )  # fmt: skip


@bp.route("/nouvelle", methods=["GET", "POST"])
@requires("care.record")
def new() -> str | BaseResponse:
    actor, tenant = current_actor(), current_tenant()
    form = LetterForm()
    choices = providers.provider_choices(db.session, actor)
    form.provider.choices = [SelectChoice("", "—")] + [SelectChoice(p.public_id, p.name) for p in choices]
    if request.method == "GET":
        form.member.data = request.args.get("membre", "")
        form.valid_until.data = (clock.today() + dt.timedelta(days=30)).isoformat()
    if form.validate_on_submit():
        try:
            member = _member_by_number(db.session, form.member.data or "")
            provider = next((p for p in choices if p.public_id == form.provider.data), None)
            if provider is None:
                raise FieldError("provider", _l("Choisissez le prestataire."))
            letter = letters.issue(
                db.session, tenant, actor, member=member, provider=provider,
                items=parse_items(form.items.data),
                valid_until=parse_day(form.valid_until.data, "valid_until"),
            )  # fmt: skip
            return redirect(url_for(".detail", public_id=letter.public_id))
        except NotFound as error:
            show_error(form, FieldError("member", error.message))
        except DomainError as error:
            if isinstance(error, FieldError) and error.field == "query":
                error = FieldError("member", error.message)
            show_error(form, error)
    return render_template("care/letters/new.html", form=form, title=_l("Nouvelle lettre de garantie"))


@bp.get("/a-valider")
@requires("care.medical_control")
def queue() -> str:
    found = letters.approval_queue(db.session, current_tenant(), current_actor())
    members = {
        m.id: m for m in db.session.scalars(select(Member).where(Member.id.in_({x.member_id for x in found})))
    }
    return render_template(
        "care/letters/queue.html", letters=found, members=members, title=_l("Accords préalables à donner")
    )


def _detail(
    letter: Any, decision_form: DecisionForm | None = None, cancel_form: CancelForm | None = None
) -> str:
    actor = current_actor()
    staff = providers.is_provider_staff(db.session, actor)
    return render_template(
        "care/letters/detail.html", letter=letter, member=db.session.get(Member, letter.member_id),
        provider=db.session.get(CareProvider, letter.provider_id),
        can_decide=not staff and actor.can("care.medical_control")
        and letter.status == LetterStatus.pending_approval,
        can_cancel=not staff and letter.status in (LetterStatus.pending_approval, LetterStatus.issued),
        decision_form=decision_form or DecisionForm(), cancel_form=cancel_form or CancelForm(),
        title=letter.number,
    )  # fmt: skip


@bp.get("/<public_id>")
@requires("care.record")
def detail(public_id: str) -> str:
    return _detail(letters.get_letter(db.session, current_tenant(), current_actor(), public_id))


@bp.get("/<public_id>/decision")
@requires("care.medical_control")
def decision_page(public_id: str) -> str:
    """The médecin-conseil opens a letter of the queue (holding care.medical_control without care.record)."""
    return _detail(letters.get_letter(db.session, current_tenant(), current_actor(), public_id))


@bp.post("/<public_id>/decision")
@requires("care.medical_control")
def decide(public_id: str) -> str | BaseResponse:
    letter = letters.get_letter(db.session, current_tenant(), current_actor(), public_id)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            letters.decide(
                db.session, current_tenant(), current_actor(), letter,
                approve=request.form.get("decision") == "approve", note=form.note.data or "",
            )  # fmt: skip
            return redirect(url_for(".queue"))
        except DomainError as error:
            show_error(form, error)
    return _detail(letter, decision_form=form)


@bp.post("/<public_id>/annuler")
@requires("care.record")
def cancel(public_id: str) -> str | BaseResponse:
    letter = letters.get_letter(db.session, current_tenant(), current_actor(), public_id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            letters.cancel(db.session, current_tenant(), current_actor(), letter, note=form.note.data or "")
            return redirect(url_for(".detail", public_id=public_id))
        except DomainError as error:
            show_error(form, error)
    return _detail(letter, cancel_form=form)


@bp.get("/<public_id>/lettre.pdf")
@requires("care.record")
def pdf(public_id: str) -> Response:
    letter = letters.get_letter(db.session, current_tenant(), current_actor(), public_id)
    if letter.status not in (LetterStatus.issued, LetterStatus.consumed):
        abort(409)  # only an issued letter is printed (the page says where it stands)
    data = letters.letter_pdf(db.session, current_tenant(), current_actor(), letter, _link)
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{letter.number}.pdf"'
    return response


@bp.get("/verify/<string(maxlength=600):token>")
@limiter.limit(_verify_rate)
@public
def verify(token: str) -> Response:
    """What a provider sees after scanning a letter: valid or not, for whom, where, until when, which acts."""
    anonymous = Actor(account_id=None, label="anonyme", ip_address=request.remote_addr)
    result = letters.verify_letter(db.session, current_tenant(), anonymous, token)
    letter = result.letter if result.outcome != "invalid" else None
    response = Response(
        render_template(
            "care/letters/verify.html",
            result=result,
            letter=letter,
            member=db.session.get(Member, letter.member_id) if letter else None,
            provider=db.session.get(CareProvider, letter.provider_id) if letter else None,
            title=_l("Vérification d'une lettre de garantie"),
        )  # fmt: skip
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
