"""Medical control (``/<tenant>/controle-medical``): the multi-criteria search of care with totals, and the
signals list where the médecin-conseil runs a detection over a period and closes each reviewed signal."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse
from wtforms import StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app import clock
from app.care import control, providers
from app.care.forms import _select
from app.care.models import CareProvider, SignalKind, SignalStatus
from app.coverage.benefits import CATEGORY_LABELS
from app.dates import parse_day
from app.errors import DomainError
from app.extensions import db
from app.formatting import money
from app.members.models import Member
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("care_control", __name__, template_folder="templates")
install_resolution(bp)
_DATE = {"type": "date"}


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    member = StringField(_l("Numéro du bénéficiaire"))
    provider = _select(_l("Prestataire"), {}, blank=_l("Tous"))
    kind = _select(_l("Type de prestataire"), dict(providers.KIND_LABELS), blank=_l("Tous"))
    benefit = StringField(_l("Code de l'acte ou du médicament"))
    category = _select(_l("Catégorie"), dict(CATEGORY_LABELS), blank=_l("Toutes"))
    start = StringField(_l("Du"), render_kw=_DATE)
    end = StringField(_l("Au"), render_kw=_DATE)


class DetectForm(FlaskForm):
    start = StringField(_l("Du"), render_kw=_DATE)
    end = StringField(_l("Au"), render_kw=_DATE)


class CloseForm(FlaskForm):
    comment = TextAreaField(_l("Conclusion de la revue"), render_kw={"rows": 3})


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {"money": money, "signal_labels": control.SIGNAL_LABELS, "kind_labels": providers.KIND_LABELS}


@bp.get("/")
@requires("care.medical_control")
def search() -> tuple[str, int]:
    form = SearchForm(request.args)
    all_providers = db.session.scalars(select(CareProvider).order_by(CareProvider.name)).all()
    form.provider.choices = [SelectChoice("", _l("Tous"))] + [
        SelectChoice(p.public_id, p.name) for p in all_providers
    ]
    result, status = None, 200
    if request.args:
        try:
            filters = control.CareFilters(
                member=form.member.data or "", benefit=form.benefit.data or "",
                category=form.category.data or "",
                provider_kind=form.kind.data or "",
                provider_id=next((p.id for p in all_providers if p.public_id == form.provider.data), None),
                date_from=parse_day(form.start.data, "start") if form.start.data else None,
                date_to=parse_day(form.end.data, "end") if form.end.data else None,
            )  # fmt: skip
            page = int(request.args.get("page", "1")) if request.args.get("page", "1").isdigit() else 1
            result = control.search(db.session, current_tenant(), current_actor(), filters, page=page)
        except DomainError as error:
            show_error(form, error)
            status = 422
    return render_template(
        "care/control/search.html", form=form, result=result, title=_l("Contrôle médical")
    ), status


@bp.route("/signaux", methods=["GET", "POST"])
@requires("care.medical_control")
def signals() -> str | BaseResponse:
    form = DetectForm()
    report = None
    if request.method == "GET":
        today = clock.today()
        form.start.data = today.replace(day=1, month=1).isoformat()
        form.end.data = today.isoformat()
    if form.validate_on_submit():
        try:
            report = control.detect(
                db.session, current_tenant(), current_actor(), start=parse_day(form.start.data, "start"),
                end=parse_day(form.end.data, "end"),
            )  # fmt: skip
        except DomainError as error:
            show_error(form, error)
    status = request.args.get("statut", "open")
    kind = request.args.get("type", "")
    found = control.list_signals(db.session, current_tenant(), current_actor(), status=status, kind=kind)
    members = {
        m.id: m for m in db.session.scalars(select(Member).where(Member.id.in_({s.member_id for s in found})))
    }
    names = {
        p.id: p
        for p in db.session.scalars(
            select(CareProvider).where(CareProvider.id.in_({s.provider_id for s in found}))
        )
    }
    return render_template(
        "care/control/signals.html", form=form, report=report, signals=found, members=members,
        providers=names,
        status=status, kind=kind, kinds=list(SignalKind), statuses=list(SignalStatus), title=_l("Signaux"),
    )  # fmt: skip


@bp.route("/signaux/<public_id>", methods=["GET", "POST"])
@requires("care.medical_control")
def signal(public_id: str) -> str | BaseResponse:
    found = control.get_signal(db.session, current_tenant(), current_actor(), public_id)
    form = CloseForm()
    if form.validate_on_submit():
        try:
            control.close_signal(
                db.session, current_tenant(), current_actor(), found, form.comment.data or ""
            )
            return redirect(url_for(".signals"))
        except DomainError as error:
            show_error(form, error)
    return render_template(
        "care/control/signal.html", signal=found, form=form,
        member=db.session.get(Member, found.member_id) if found.member_id else None,
        provider=db.session.get(CareProvider, found.provider_id) if found.provider_id else None,
        title=str(control.SIGNAL_LABELS[found.kind]),
    )  # fmt: skip
