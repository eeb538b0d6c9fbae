"""Providers and conventions (``/<tenant>/prestataires``) and the eligibility counter (``/<tenant>/guichet``).
Thin: parse the form, call one service, show the result; refused input comes back with its message next to
the field and everything typed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

from app import clock, media
from app.care import conventions, eligibility, providers
from app.care.forms import (
    ConventionForm,
    CounterForm,
    DocumentForm,
    PriceForm,
    PriceListForm,
    ProviderFilterForm,
    ProviderForm,
    StaffForm,
    VersionForm,
)
from app.care.models import Convention, ConventionStatus, EligibilityCheck
from app.coverage.models import Benefit
from app.coverage.rights import CODE_LABELS, long_date
from app.database import utcnow
from app.dates import parse_day
from app.errors import DomainError, FieldError, NotFound
from app.extensions import db
from app.formatting import money
from app.members import photos
from app.members.models import Member
from app.security import stepup
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("care_providers", __name__, template_folder="templates")
install_resolution(bp)
counter_bp = Blueprint("care_counter", __name__, template_folder="templates")
install_resolution(counter_bp)

DOCUMENT_MAX = 9 * 1024 * 1024
PHOTO_WINDOW = dt.timedelta(hours=1)
PRICE_LIST_MAX = 5 * 1024 * 1024


def _helpers() -> dict[str, Any]:
    return {
        "money": money,
        "long_date": long_date,
        "kind_labels": providers.KIND_LABELS,
        "status_labels": providers.STATUS_LABELS,
        "payout_labels": providers.PAYOUT_LABELS,
        "pricing_labels": conventions.PRICING_LABELS,
        "convention_status_labels": conventions.STATUS_LABELS,
        "code_labels": CODE_LABELS,
    }


bp.context_processor(_helpers)
counter_bp.context_processor(_helpers)


def _input(form: ProviderForm) -> providers.ProviderInput:
    return providers.ProviderInput(**{name: (form[name].data or "") for name in (
        "code", "name", "kind", "region", "commune", "address", "phone", "email", "status", "payout_method",
        "payout_account")})  # fmt: skip


# --- register ----------------------------------------------------------------------------------------------


@bp.get("/")
@requires("care.read")
def index() -> str:
    form = ProviderFilterForm(request.args)
    found = providers.list_providers(
        db.session, current_tenant(), current_actor(), q=form.q.data or "", kind=form.kind.data or "",
        region=form.region.data or "",
    )  # fmt: skip
    can_manage = providers.holds_in_branch(
        current_actor(), providers.MANAGE, providers.branch_path(db.session, current_tenant())
    )
    return render_template(
        "care/providers/index.html",
        providers=found,
        form=form,
        can_manage=can_manage,
        title=_l("Prestataires"),
    )


@bp.route("/nouveau", methods=["GET", "POST"])
@requires("providers.manage")
def new() -> str | BaseResponse:
    form = ProviderForm()
    if form.validate_on_submit():
        try:
            provider = providers.create_provider(db.session, current_tenant(), current_actor(), _input(form))
            return redirect(url_for(".detail", public_id=provider.public_id))
        except DomainError as error:
            show_error(form, error)
    return render_template(
        "care/providers/form.html", form=form, provider=None, title=_l("Nouveau prestataire")
    )


@bp.get("/<public_id>")
@requires("care.read")
def detail(public_id: str) -> str:
    provider = providers.get_provider(db.session, current_tenant(), current_actor(), public_id)
    return render_template(
        "care/providers/detail.html", provider=provider, staff=providers.staff_of(db.session, provider),
        today=clock.today(), title=provider.name,
    )  # fmt: skip


@bp.route("/<public_id>/modifier", methods=["GET", "POST"])
@requires("providers.manage")
def edit(public_id: str) -> str | BaseResponse:
    provider = providers.get_provider(db.session, current_tenant(), current_actor(), public_id)
    form = ProviderForm(obj=provider) if request.method == "GET" else ProviderForm()
    if request.method == "GET":
        for name in ("kind", "status", "payout_method"):
            form[name].data = str(getattr(provider, name))
    if form.validate_on_submit():
        try:
            providers.update_provider(db.session, current_tenant(), current_actor(), provider, _input(form))
            return redirect(url_for(".detail", public_id=provider.public_id))
        except DomainError as error:
            show_error(form, error)
    return render_template("care/providers/form.html", form=form, provider=provider, title=provider.name)


@bp.route("/<public_id>/personnel", methods=["GET", "POST"])
@requires("providers.manage")
def invite_staff(public_id: str) -> str | BaseResponse:
    """An account for a provider's staff member (critical: a profile is granted, so step-up first)."""
    actor, tenant = current_actor(), current_tenant()
    provider = providers.get_provider(db.session, tenant, actor, public_id)
    form = StaffForm()
    if form.validate_on_submit():
        try:
            providers.check_staff_invitation(
                db.session, tenant, actor, provider, full_name=form.full_name.data or "",
                email=form.email.data, phone=form.phone.data,
            )  # fmt: skip
            who = (form.email.data or form.phone.data or "").strip()
            node = providers.mutual_node(db.session, tenant)
            stepup.authorize(
                db.session, actor,
                stepup.Operation(
                    "accounts.invite",
                    {"account": who, "node": node.code, "profile": providers.STAFF_PROFILE,
                     "provider": provider.code},
                    ((_l("Compte"), who), (_l("Prestataire"), provider.name),
                     (_l("Profil"), _l("Personnel d'un prestataire de soins"))),
                ),
            )  # fmt: skip
            link = providers.invite_staff(
                db.session, tenant, actor, provider, full_name=form.full_name.data or "",
                email=form.email.data, phone=form.phone.data,
            )  # fmt: skip
            url = url_for("security.accept_invitation", token=link.token, _external=True)
            return render_template(
                "security/link_issued.html", link=link, url=url, title=_l("Lien à transmettre")
            )
        except DomainError as error:
            show_error(form, error)
    return render_template("care/providers/staff.html", form=form, provider=provider, title=provider.name)


# --- conventions -------------------------------------------------------------------------------------------


def _store_document(form_field: Any) -> str | None:
    upload = form_field.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    data = upload.read(DOCUMENT_MAX + 1)
    if len(data) > DOCUMENT_MAX:
        raise FieldError(form_field.name, _l("Fichier trop lourd (9 Mo au plus)."))
    if not data.startswith(b"%PDF"):
        raise FieldError(form_field.name, _l("Envoyez la convention en PDF."))
    return media.save_bytes(current_tenant(), "imports", data, suffix="pdf")


def _int(raw: str | None, field: str, default: int | None = None) -> int:
    value = (raw or "").strip()
    if not value and default is not None:
        return default
    if not value.isdigit():
        raise FieldError(field, _l("Nombre entier attendu."))
    return int(value)


@bp.route("/<public_id>/conventions/nouvelle", methods=["GET", "POST"])
@requires("providers.manage")
def new_convention(public_id: str) -> str | BaseResponse:
    provider = providers.get_provider(db.session, current_tenant(), current_actor(), public_id)
    form = ConventionForm()
    if form.validate_on_submit():
        try:
            ends = (form.ends_on.data or "").strip()
            convention = conventions.create_convention(
                db.session, current_tenant(), current_actor(), provider, reference=form.reference.data or "",
                starts_on=parse_day(form.starts_on.data, "starts_on"),
                ends_on=parse_day(ends, "ends_on") if ends else None,
                pricing=form.pricing.data or "negotiated",
                reference_rate_pct=_int(form.reference_rate_pct.data, "reference_rate_pct", 100),
                payment_delay_days=_int(form.payment_delay_days.data, "payment_delay_days", 30),
                status=ConventionStatus.draft, document_path=_store_document(form.document),
            )  # fmt: skip
            return redirect(url_for(".convention", public_id=convention.public_id))
        except DomainError as error:
            show_error(form, error)
    return render_template(
        "care/providers/convention_form.html", form=form, provider=provider, title=_l("Nouvelle convention")
    )


def _convention(public_id: str) -> Convention:
    convention = conventions.get_convention(db.session, public_id)
    providers.get_provider(db.session, current_tenant(), current_actor(), convention.provider.public_id)
    return convention


def _convention_page(convention: Convention, **forms: Any) -> str:
    versions = db.session.scalars(
        select(Convention)
        .where(Convention.provider_id == convention.provider_id)
        .order_by(Convention.version)
    ).all()
    can_manage = providers.holds_in_branch(
        current_actor(), providers.MANAGE, providers.branch_path(db.session, current_tenant())
    )
    prices = sorted(convention.prices, key=lambda p: p.benefit.code)
    return render_template(
        "care/providers/convention.html", convention=convention, provider=convention.provider,
        versions=versions, prices=prices, can_manage=can_manage,
        price_form=forms.get("price_form") or PriceForm(),
        list_form=forms.get("list_form") or PriceListForm(),
        version_form=forms.get("version_form") or VersionForm(),
        document_form=forms.get("document_form") or DocumentForm(), report=forms.get("report"),
        title=f"{convention.reference} v{convention.version}",
    )  # fmt: skip


@bp.get("/conventions/<public_id>")
@requires("care.read")
def convention(public_id: str) -> str:
    return _convention_page(_convention(public_id))


@bp.post("/conventions/<public_id>/prix")
@requires("providers.manage")
def set_price(public_id: str) -> str | BaseResponse:
    convention_row = _convention(public_id)
    form = PriceForm()
    if form.validate_on_submit():
        try:
            code = (form.benefit.data or "").strip().upper()
            benefit = db.session.scalar(select(Benefit).where(Benefit.code == code))
            if benefit is None:
                raise FieldError("benefit", _l("Code inconnu du catalogue."))
            conventions.set_price(
                db.session, current_tenant(), current_actor(), convention_row, benefit,
                _int(form.price.data, "price"),
            )  # fmt: skip
            return redirect(url_for(".convention", public_id=public_id))
        except DomainError as error:
            show_error(form, error)
    return _convention_page(convention_row, price_form=form)


@bp.post("/conventions/<public_id>/liste-de-prix")
@requires("providers.manage")
def price_list(public_id: str) -> str | BaseResponse:
    convention_row = _convention(public_id)
    form = PriceListForm()
    if form.validate_on_submit():
        try:
            upload = form.file.data
            if not upload or not getattr(upload, "filename", ""):
                raise FieldError("file", _l("Choisissez le fichier."))
            data = upload.read(PRICE_LIST_MAX + 1)
            if len(data) > PRICE_LIST_MAX:
                raise FieldError("file", _l("Fichier trop lourd (5 Mo au plus)."))
            report = conventions.import_price_list(
                db.session, current_tenant(), current_actor(), convention_row, upload.filename, data
            )
            return _convention_page(convention_row, report=report)
        except DomainError as error:
            show_error(form, error)
    return _convention_page(convention_row, list_form=form)


@bp.post("/conventions/<public_id>/document")
@requires("providers.manage")
def document(public_id: str) -> str | BaseResponse:
    convention_row = _convention(public_id)
    form = DocumentForm()
    if form.validate_on_submit():
        try:
            path = _store_document(form.document)
            if path is None:
                raise FieldError("document", _l("Choisissez le fichier."))
            conventions.set_document(db.session, current_tenant(), current_actor(), convention_row, path)
            return redirect(url_for(".convention", public_id=public_id))
        except DomainError as error:
            show_error(form, error)
    return _convention_page(convention_row, document_form=form)


@bp.get("/conventions/<public_id>/convention.pdf")
@requires("care.read")
def document_file(public_id: str) -> Response:
    convention_row = _convention(public_id)
    if not convention_row.document_path:
        raise NotFound()
    path = media.path_of(current_tenant(), convention_row.document_path)
    response = send_file(path, mimetype="application/pdf", max_age=0, conditional=False)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/conventions/<public_id>/activer")
@requires("providers.manage")
def activate(public_id: str) -> BaseResponse:
    convention_row = _convention(public_id)
    if convention_row.status == ConventionStatus.draft:
        conventions.set_status(
            db.session, current_tenant(), current_actor(), convention_row, ConventionStatus.active
        )
    return redirect(url_for(".convention", public_id=public_id))


@bp.post("/conventions/<public_id>/version")
@requires("providers.manage")
def new_version(public_id: str) -> str | BaseResponse:
    convention_row = _convention(public_id)
    form = VersionForm()
    if form.validate_on_submit():
        try:
            rate = (form.reference_rate_pct.data or "").strip()
            delay = (form.payment_delay_days.data or "").strip()
            created = conventions.new_version(
                db.session, current_tenant(), current_actor(), convention_row,
                starts_on=parse_day(form.starts_on.data, "starts_on"),
                reference_rate_pct=_int(rate, "reference_rate_pct") if rate else None,
                payment_delay_days=_int(delay, "payment_delay_days") if delay else None,
            )  # fmt: skip
            return redirect(url_for(".convention", public_id=created.public_id))
        except DomainError as error:
            show_error(form, error)
    return _convention_page(convention_row, version_form=form)


# --- the counter -------------------------------------------------------------------------------------------


@counter_bp.get("/")
@requires("care.check_eligibility")
def check() -> str:
    """Phone-sized: one field where a QR scanner app pastes the card's address (or a number is typed)."""
    actor, tenant = current_actor(), current_tenant()
    form = CounterForm(request.args)
    own = providers.provider_scope(db.session, actor)
    choices = providers.provider_choices(db.session, actor)
    form.provider.choices = ([] if own else [SelectChoice("", _("— aucun —"))]) + [
        SelectChoice(p.public_id, p.name) for p in choices
    ]
    result, status = None, 200
    if form.query.data:
        try:
            provider_id = next((p.id for p in choices if p.public_id == form.provider.data), None)
            result = eligibility.check(db.session, tenant, actor, form.query.data, provider_id=provider_id)
        except (FieldError, NotFound) as error:
            if isinstance(error, NotFound):
                error = FieldError("query", error.message)
            show_error(form, error)
            status = 422
    return render_template(
        "care/eligibility/check.html", form=form, result=result,
        recent=eligibility.recent_checks(db.session, actor, 10), title=_l("Vérifier les droits"),
    ), status  # fmt: skip


@counter_bp.get("/controle/<int:check_id>/photo.jpg")
@requires("care.check_eligibility")
def photo(check_id: int) -> Response:
    """The photo of the member of a check just made (by this provider, for provider staff)."""
    row = db.session.get(EligibilityCheck, check_id)
    own = providers.provider_scope(db.session, current_actor())
    fresh = (
        row is not None and utcnow() - row.checked_at < PHOTO_WINDOW
    )  # the check on screen, not the archive
    if not fresh or (own is not None and row.provider_id != own):
        raise NotFound()
    member = db.session.get(Member, row.member_id)
    path = photos.photo_file(current_tenant(), member) if member else None
    if path is None:
        raise NotFound()
    response = send_file(path, mimetype="image/jpeg", max_age=0, conditional=False)
    response.headers["Cache-Control"] = "no-store"
    return response
