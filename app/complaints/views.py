"""Complaints in the back office (``/<tenant>/reclamations``): the queue, most urgent first, with
service-level badges and filters; a complaint's page with its timeline and one form per action (acknowledge,
assign, internal note, reply to the member, close); a counter form to file for a member; the service-level
settings.
Every form works without JavaScript; with htmx, the queue's filters and the actions refresh only their part
of the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

from app.audit.services import record_read
from app.complaints import services
from app.complaints import tasks as _tasks  # noqa: F401 - registers the hourly escalation with Celery beat
from app.complaints.forms import (
    AssignForm,
    CloseForm,
    CounterForm,
    FilterForm,
    NoteForm,
    ReplyForm,
    SlaForm,
    category_choices,
)
from app.complaints.models import Complaint
from app.complaints.photos import photo_file
from app.database import utcnow
from app.errors import DomainError, FieldError, NotFound
from app.extensions import db
from app.members.models import Member
from app.members.services import get_by_number, tenant_federation
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from hierarchy.models import Node
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("complaints", __name__, template_folder="templates")
install_resolution(bp)

PER_PAGE = 25
#: A deadline closer than this shows as "bientôt".
SOON = dt.timedelta(hours=24)


def when(value: dt.datetime | None) -> str:
    return format_datetime(value, "d MMM yyyy HH:mm") if value else "—"


def sla_badge(complaint: Complaint, now: dt.datetime) -> tuple[str, object]:
    """(css class, label) of the complaint's service-level state."""
    if complaint.answered_at is not None:
        if complaint.answered_at <= complaint.resolve_due_at:
            return "done", _l("Réponse dans les délais")
        return "done", _l("Réponse hors délai")
    if complaint.is_overdue(now):
        return "late", _l("En retard")
    due = complaint.next_due_at
    if due is not None and due - now <= SOON:
        return "soon", _l("Échéance proche")
    return "ok", _l("Dans les délais")


@bp.context_processor
def wording() -> dict[str, Any]:
    return {
        "when": when,
        "sla_badge": sla_badge,
        "category_labels": services.CATEGORY_LABELS,
        "status_labels": services.STATUS_LABELS,
        "channel_labels": services.CHANNEL_LABELS,
        "level_labels": services.LEVEL_LABELS,
        "event_labels": services.EVENT_LABELS,
    }


def _htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


# --- the queue ---------------------------------------------------------------------------------------------


def _filters(form: FilterForm, associations: list[Node]) -> services.QueueFilters:
    form.statut.choices = [
        SelectChoice("open", _l("En cours (non clôturées)")),
        SelectChoice("", _l("Toutes")),
    ] + [SelectChoice(code, label) for code, label in services.STATUS_LABELS.items()]
    form.categorie.choices = [SelectChoice("", _l("Tous"))] + category_choices(blank=False)
    form.association.choices = [SelectChoice("", _l("Toutes"))] + [
        SelectChoice(str(n.id), n.name) for n in associations
    ]
    form.retard.choices = [
        SelectChoice("", _l("Tous")),
        SelectChoice("oui", _l("En retard seulement")),
        SelectChoice("moi", _l("Qui me sont confiées")),
    ]
    status = request.args.get("statut", "open")
    if status not in {c.value for c in form.statut.choices}:
        status = "open"
    form.statut.data = status
    category = form.categorie.data if form.categorie.data in services.CATEGORY_LABELS else ""
    ids = {n.id for n in associations}
    raw = form.association.data or ""
    association_id = int(raw) if raw.isdigit() and int(raw) in ids else None
    return services.QueueFilters(
        status=status, category=category or "", association_id=association_id,
        overdue=form.retard.data == "oui", mine=form.retard.data == "moi",
    )  # fmt: skip


@bp.get("/")
@requires("complaints.read")
def index() -> str:
    """The queue (just the list for an htmx filter change)."""
    tenant, actor, now = current_tenant(), current_actor(), utcnow()
    associations = services.associations_in_reach(db.session, actor, tenant)
    form = FilterForm(request.args)
    filters = _filters(form, associations)
    page = services.queue(
        db.session,
        tenant,
        actor,
        filters,
        now=now,
        page=request.args.get("page", 1, type=int),
        per_page=PER_PAGE,
        associations=associations,
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "complaints/_queue.html" if _htmx() else "complaints/index.html",
        form=form, page=page, members=services.members_of(db.session, page.items), now=now, args=args,
        names={n.id: n.name for n in associations}, can_file=any(actor.can("complaints.handle", n.path)
                                                                 for n in associations),
        can_configure=actor.can("complaints.configure", _federation_path()), title=_l("Réclamations"),
    )  # fmt: skip


def _federation_path() -> str:
    return tenant_federation(db.session, current_tenant()).path


# --- filing at the counter ---------------------------------------------------------------------------------


@bp.route("/nouvelle", methods=["GET", "POST"])
@requires("complaints.handle")
def new() -> str | BaseResponse | tuple[str, int]:
    """An agent files a complaint for a member who came to the counter (or phoned)."""
    form = CounterForm()
    if request.method == "GET":
        form.number.data = request.args.get("numero", "")
        return render_template("complaints/new.html", form=form, title=_l("Nouvelle réclamation au guichet"))
    tenant, actor = current_tenant(), current_actor()
    try:
        try:
            member = get_by_number(
                db.session, tenant, actor, form.number.data or "", permission="complaints.handle"
            )
        except NotFound:
            raise FieldError("number", _l("Aucun membre de votre ressort ne porte ce numéro.")) from None
        complaint = services.file_complaint(
            db.session, tenant, actor, member, category=form.category.data or "", text=form.text.data or "",
            photo=request.files.get("photo"), channel="counter",
        )  # fmt: skip
    except DomainError as error:
        show_error(form, error)
        return render_template(
            "complaints/new.html", form=form, title=_l("Nouvelle réclamation au guichet")
        ), 422
    flash(
        _l(
            "Réclamation %(reference)s enregistrée ; l'adhérent en est informé.",
            reference=complaint.reference,
        ),
        "info",
    )
    return redirect(url_for(".detail", public_id=complaint.public_id), 303)


# --- a complaint -------------------------------------------------------------------------------------------


def _complaint(public_id: str, *, audit_read: bool = False) -> Complaint:
    return services.get_for_staff(
        db.session, current_tenant(), current_actor(), public_id, audit_read=audit_read
    )


def _detail(complaint: Complaint, status: int = 200, **forms: FlaskForm) -> tuple[str, int]:
    actor, now = current_actor(), utcnow()
    node = services.association_of(db.session, complaint)
    can_handle = actor.can("complaints.handle", node.path)
    assign_form = forms.get("assign_form") or AssignForm(formdata=None)
    handlers = services.handlers_for(db.session, node) if can_handle else []
    assign_form.account.choices = [SelectChoice("", _l("— Choisissez —"))] + [
        SelectChoice(str(h.account_id), h.label) for h in handlers
    ]
    if assign_form.account.data is None and complaint.assigned_to_id:
        assign_form.account.data = str(complaint.assigned_to_id)
    member = db.session.get(Member, complaint.member_id)
    template = "complaints/_detail.html" if _htmx() else "complaints/detail.html"
    return render_template(
        template, complaint=complaint, member=member, association=node, now=now, can_handle=can_handle,
        events=services.timeline(db.session, complaint), assign_form=assign_form,
        note_form=forms.get("note_form") or NoteForm(formdata=None),
        reply_form=forms.get("reply_form") or ReplyForm(formdata=None),
        close_form=forms.get("close_form") or CloseForm(formdata=None),
        has_photo=photo_file(current_tenant(), complaint.photo_path) is not None,
        title=_l("Réclamation %(reference)s", reference=complaint.reference),
    ), (200 if _htmx() else status)  # fmt: skip


@bp.get("/<public_id>")
@requires("complaints.read")
def detail(public_id: str) -> tuple[str, int]:
    return _detail(_complaint(public_id, audit_read=True))


@bp.get("/<public_id>/photo")
@requires("complaints.read")
def photo(public_id: str) -> BaseResponse:
    complaint = _complaint(public_id)
    path = photo_file(current_tenant(), complaint.photo_path)
    if path is None:
        abort(404)
    # a prescription or a receipt photographed: a read of the member's record, like the complaint's page
    record_read(db.session, current_actor(), "complaint", complaint.reference, part="photo")
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _done(complaint: Complaint, message: object) -> BaseResponse | tuple[str, int]:
    if _htmx():
        return _detail(complaint)
    flash(message, "info")
    return redirect(url_for(".detail", public_id=complaint.public_id), 303)


@bp.post("/<public_id>/prise-en-compte")
@requires("complaints.handle")
def acknowledge(public_id: str) -> BaseResponse | tuple[str, int]:
    complaint, form = _complaint(public_id), CloseForm()  # any form: the CSRF check and the banner
    try:
        services.acknowledge(db.session, current_tenant(), current_actor(), complaint)
    except DomainError as error:
        show_error(form, error)
        return _detail(complaint, 422, close_form=form)
    return _done(complaint, _l("Prise en compte enregistrée ; l'adhérent en est informé."))


@bp.post("/<public_id>/attribution")
@requires("complaints.handle")
def assign(public_id: str) -> BaseResponse | tuple[str, int]:
    complaint, form = _complaint(public_id), AssignForm()
    try:
        services.assign(db.session, current_tenant(), current_actor(), complaint, form.account.data)
    except DomainError as error:
        show_error(form, error)
        return _detail(complaint, 422, assign_form=form)
    return _done(complaint, _l("Réclamation confiée à %(name)s.", name=complaint.assigned_to_label))


@bp.post("/<public_id>/notes")
@requires("complaints.handle")
def note(public_id: str) -> BaseResponse | tuple[str, int]:
    complaint, form = _complaint(public_id), NoteForm()
    try:
        services.add_note(db.session, current_tenant(), current_actor(), complaint, form.body.data or "")
    except DomainError as error:
        show_error(form, error)
        return _detail(complaint, 422, note_form=form)
    return _done(complaint, _l("Note ajoutée."))


@bp.post("/<public_id>/reponses")
@requires("complaints.handle")
def reply(public_id: str) -> BaseResponse | tuple[str, int]:
    complaint, form = _complaint(public_id), ReplyForm()
    try:
        services.reply(db.session, current_tenant(), current_actor(), complaint, form.body.data or "")
    except DomainError as error:
        show_error(form, error)
        return _detail(complaint, 422, reply_form=form)
    return _done(complaint, _l("Réponse envoyée à l'adhérent."))


@bp.post("/<public_id>/cloture")
@requires("complaints.handle")
def close(public_id: str) -> BaseResponse | tuple[str, int]:
    complaint, form = _complaint(public_id), CloseForm()
    try:
        services.close(db.session, current_tenant(), current_actor(), complaint, form.message.data or "")
    except DomainError as error:
        show_error(form, error)
        return _detail(complaint, 422, close_form=form)
    return _done(complaint, _l("Réclamation clôturée ; l'adhérent est invité à donner son avis."))


# --- service levels ----------------------------------------------------------------------------------------


@bp.route("/delais", methods=["GET", "POST"])
@requires("complaints.configure")
def settings() -> str | BaseResponse | tuple[str, int]:
    tenant, actor = current_tenant(), current_actor()
    actor.require("complaints.configure", _federation_path())
    current = services.sla_settings(db.session)
    if request.method == "GET":
        form = SlaForm(formdata=None, data={k: str(v) for k, v in current.__dict__.items()})
        return render_template("complaints/settings.html", form=form, title=_l("Délais des réclamations"))
    form = SlaForm()
    try:
        services.configure_sla(
            db.session, tenant, actor, **{f: getattr(form, f).data or "" for f in services.SLA_BOUNDS}
        )
    except DomainError as error:
        show_error(form, error)
        return render_template(
            "complaints/settings.html", form=form, title=_l("Délais des réclamations")
        ), 422
    flash(
        _l("Délais enregistrés : ils valent pour les réclamations déposées à partir de maintenant."), "info"
    )
    return redirect(url_for(".index"), 303)
