"""The member's complaints in the portal (``/<tenant>/portail/reclamations``): the list with each one's
status, a new complaint (category, text, optional photo), a complaint with the replies meant for the member
(internal notes never show), reopening within the allowed days, and the satisfaction rating once closed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.complaints import services
from app.complaints.forms import ComplaintForm, RateForm, ReopenForm
from app.complaints.models import Complaint
from app.complaints.photos import photo_file
from app.errors import DomainError, FieldError
from app.extensions import db
from app.web.forms import show_error
from portal.auth import current_member, member_actor, member_required
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("portal_complaints", __name__, template_folder="templates")
install_resolution(bp)


@bp.after_request
def _private(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")  # a member's own data: never cached
    return response


@bp.context_processor
def wording() -> dict[str, Any]:
    return {
        "when": lambda v: format_datetime(v, "d MMM yyyy HH:mm") if v else "",
        "category_labels": services.CATEGORY_LABELS,
        "status_labels": services.STATUS_LABELS,
        "event_labels": services.EVENT_LABELS,
    }


def _refused() -> int:
    """A refused form: 422, but 200 under htmx (the boosted portal swaps only successful answers)."""
    return 200 if request.headers.get("HX-Request") == "true" else 422


@bp.get("/")
@member_required
def index() -> str:
    member = current_member()
    return render_template(
        "portal/complaints/index.html", complaints=services.complaints_of(db.session, member),
        title=_l("Mes réclamations"),
    )  # fmt: skip


@bp.route("/nouvelle", methods=["GET", "POST"])
@member_required
def new() -> str | Response | tuple[str, int]:
    form = ComplaintForm()
    if request.method == "GET":
        return render_template("portal/complaints/new.html", form=form, title=_l("Nouvelle réclamation"))
    member = current_member()
    try:
        complaint = services.file_complaint(
            db.session, current_tenant(), member_actor(member), member, category=form.category.data or "",
            text=form.text.data or "", photo=request.files.get("photo"), channel="portal",
        )  # fmt: skip
    except DomainError as error:
        show_error(form, error)
        return render_template(
            "portal/complaints/new.html", form=form, title=_l("Nouvelle réclamation")
        ), _refused()
    flash(
        _l("Réclamation enregistrée sous la référence %(reference)s.", reference=complaint.reference), "info"
    )
    return redirect(url_for(".detail", public_id=complaint.public_id), 303)


def _page(
    complaint: Complaint, *, rate_form: RateForm | None = None, reopen_form: ReopenForm | None = None
) -> str:
    return render_template(
        "portal/complaints/detail.html", complaint=complaint,
        events=services.timeline(db.session, complaint, member_view=True),
        rate_form=rate_form or RateForm(formdata=None), reopen_form=reopen_form or ReopenForm(formdata=None),
        can_reopen=services.can_reopen(db.session, complaint),
        has_photo=photo_file(current_tenant(), complaint.photo_path) is not None,
        title=_l("Réclamation %(reference)s", reference=complaint.reference),
    )  # fmt: skip


@bp.get("/<public_id>")
@member_required
def detail(public_id: str) -> str:
    return _page(services.get_for_member(db.session, current_member(), public_id))


@bp.get("/<public_id>/photo")
@member_required
def photo(public_id: str) -> Response:
    complaint = services.get_for_member(db.session, current_member(), public_id)
    path = photo_file(current_tenant(), complaint.photo_path)
    if path is None:
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=0)


@bp.post("/<public_id>/avis")
@member_required
def rate(public_id: str) -> str | Response | tuple[str, int]:
    member = current_member()
    complaint = services.get_for_member(db.session, member, public_id)
    form = RateForm()
    try:
        services.rate(db.session, current_tenant(), member_actor(member), member, complaint, form.rating.data,
                      form.comment.data or "")  # fmt: skip
    except FieldError as error:
        show_error(form, error)
        return _page(complaint, rate_form=form), _refused()
    except DomainError as error:  # rated already (another tab), or not closed yet
        flash(error.message, "warning")
        return redirect(url_for(".detail", public_id=complaint.public_id), 303)
    flash(_l("Merci pour votre avis !"), "info")
    return redirect(url_for(".detail", public_id=complaint.public_id), 303)


@bp.post("/<public_id>/reouverture")
@member_required
def reopen(public_id: str) -> str | Response | tuple[str, int]:
    member = current_member()
    complaint = services.get_for_member(db.session, member, public_id)
    form = ReopenForm()
    try:
        services.reopen(db.session, current_tenant(), member_actor(member), member, complaint,
                        form.reason.data or "")  # fmt: skip
    except DomainError as error:
        show_error(form, error)
        return _page(complaint, reopen_form=form), _refused()
    flash(_l("Réclamation rouverte : nous reprenons son traitement."), "info")
    return redirect(url_for(".detail", public_id=complaint.public_id), 303)
