"""Claims screens (``/<tenant>/soins``): the provider space (invoices of one's own provider: create, enter
care records, upload a CSV/XLSX, submit), the mutual's invoice list and detail with each line's outcome and
reasons in French, the médecin-conseil's review queue, validation for payment (critical: step-up) and
payment batches (bank and mobile-money files, a statement per provider)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

import app.care.fhir_claims  # noqa: F401 - FHIR Claim routes on the API blueprint (before it registers)
from app import clock
from app.audit.services import record_read
from app.care import batches, controls, invoices, records, review
from app.care import (
    tasks as care_tasks,
)  # registers care.check_invoices wherever the app is built (workers too)
from app.care.claims_forms import ActionForm, InvoiceForm, RecordForm, ReviewForm, UploadForm
from app.care.claims_models import CareInvoice, CareLine, CareRecord, InvoiceSource, InvoiceStatus
from app.care.models import CareProvider
from app.coverage.models import Benefit
from app.dates import parse_day
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.extensions import db
from app.formatting import money
from app.members.models import Member
from app.security import stepup
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from app.worker import enqueue_after_commit
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("care_invoices", __name__, template_folder="templates")
install_resolution(bp)


@bp.context_processor
def wording() -> dict[str, Any]:
    return {
        "money": money,
        "reason_label": controls.label,
        "outcome_labels": controls.OUTCOME_LABELS,
        "review_labels": controls.REVIEW_LABELS,
        "status_labels": invoices.STATUS_LABELS,
        "source_labels": invoices.SOURCE_LABELS,
    }


def _day(raw: str | None, field_name: str) -> dt.date:
    if not (raw or "").strip():
        raise FieldError(field_name, _l("Indiquez une date."))
    return parse_day(raw or "", field_name)


def _details(invoice: CareInvoice) -> dict[str, Any]:
    """Records and lines of an invoice, with names of beneficiaries and acts (a few queries)."""
    rows = invoice.records
    members = {
        m.id: m for m in db.session.scalars(select(Member).where(Member.id.in_({r.member_id for r in rows})))
    }
    benefit_ids = {ln.benefit_id for r in rows for ln in r.lines}
    benefits = {b.id: b for b in db.session.scalars(select(Benefit).where(Benefit.id.in_(benefit_ids)))}
    return {
        "records": rows,
        "members": members,
        "benefits": benefits,
        "provider": db.session.get(CareProvider, invoice.provider_id),
    }


def parse_lines(raw: str) -> list[records.LineInput]:
    """``code, quantité, prix`` per line (``;`` also separates)."""
    found = []
    for number, text in enumerate((raw or "").splitlines(), start=1):
        parts = [p.strip() for p in text.replace(";", ",").split(",")]
        if not any(parts):
            continue
        if len(parts) < 3:
            raise FieldError("lines", _l("Ligne %(n)s : code, quantité et prix attendus.", n=number))
        found.append(records.LineInput(parts[0], parts[1], parts[2]))
    return found


# --- the provider space ------------------------------------------------------------------------------------


@bp.get("/saisie")
@requires("care.record")
def entry() -> str:
    """Invoices of one's provider (all providers for the mutual's agents), newest first, and a new one."""
    actor = current_actor()
    own = records.own_provider_id(db.session, actor)
    query = select(CareInvoice).order_by(CareInvoice.id.desc()).limit(100)
    if own is not None:
        query = query.where(CareInvoice.provider_id == own)
    return render_template(
        "care/invoices/entry.html",
        invoices=db.session.scalars(query).all(),
        form=_invoice_form(),
        providers=_provider_names(),
        title=_l("Factures à saisir"),
    )


def _provider_choices() -> list[CareProvider]:
    own = records.own_provider_id(db.session, current_actor())
    query = select(CareProvider).order_by(CareProvider.name)
    if own is not None:
        query = query.where(CareProvider.id == own)
    return list(db.session.scalars(query))


def _provider_names() -> dict[int, str]:
    return {p.id: p.name for p in db.session.scalars(select(CareProvider))}


def _invoice_form(form: InvoiceForm | None = None) -> InvoiceForm:
    today = clock.today()
    form = form or InvoiceForm(
        formdata=None,
        data={"period_start": today.replace(day=1).isoformat(), "period_end": today.isoformat()},
    )
    form.provider.choices = [SelectChoice(p.public_id, p.name) for p in _provider_choices()]
    return form


@bp.post("/saisie")
@requires("care.record")
def create() -> str | BaseResponse | tuple[str, int]:
    actor, form = current_actor(), _invoice_form(InvoiceForm())
    try:
        provider = records.get_provider(db.session, actor, form.provider.data or "")
        own = records.own_provider_id(db.session, actor)
        invoice = invoices.create_invoice(
            db.session,
            current_tenant(),
            actor,
            provider,
            period_start=_day(form.period_start.data, "period_start"),
            period_end=_day(form.period_end.data, "period_end"),
            source=InvoiceSource.provider if own is not None else InvoiceSource.agent,
        )
    except (NotFound, Forbidden) as error:
        show_error(form, FieldError("provider", error.message))
    except DomainError as error:
        show_error(form, error)
    else:
        return redirect(url_for("care_invoices.edit", public_id=invoice.public_id), 303)
    page = render_template(
        "care/invoices/entry.html",
        invoices=[],
        form=form,
        providers=_provider_names(),
        title=_l("Factures à saisir"),
    )
    return page, 422


def _edit_page(invoice: CareInvoice, form: RecordForm | None = None, status: int = 200) -> Any:
    form = form or RecordForm(formdata=None, data={"care_date": clock.today().isoformat()})
    page = render_template(
        "care/invoices/edit.html",
        invoice=invoice,
        form=form,
        action=ActionForm(),
        upload=UploadForm(),
        **_details(invoice),
        title=_l("Facture %(number)s", number=invoice.number),
    )
    return (page, status) if status != 200 else page


@bp.route("/saisie/<public_id>", methods=["GET", "POST"])
@requires("care.record")
def edit(public_id: str) -> Any:
    """The invoice in the provider space: its records, a form to add one (while a draft), submit."""
    actor = current_actor()
    invoice = invoices.get_invoice(db.session, actor, public_id)
    if request.method == "GET":
        record_read(db.session, actor, "care_invoice", invoice.number)
        return _edit_page(invoice)
    form = RecordForm()
    try:
        provider = db.session.get(CareProvider, invoice.provider_id)
        assert provider is not None
        data = records.RecordInput(
            member_number=form.member_number.data or "",
            care_date=_day(form.care_date.data, "care_date"),
            lines=parse_lines(form.lines.data or ""),
            prescriber=form.prescriber.data or "",
            diagnosis=form.diagnosis.data or None,
            letter_number=form.letter_number.data or None,
        )
        records.create_record(db.session, current_tenant(), actor, provider, data, invoice=invoice)
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        if isinstance(error, FieldError) and error.field.startswith("lines-"):
            error = FieldError("lines", error.message)
        show_error(form, error)
        return _edit_page(invoice, form, 422)
    flash(_l("Prestation ajoutée."), "info")
    return redirect(url_for("care_invoices.edit", public_id=invoice.public_id), 303)


@bp.post("/saisie/<public_id>/soumettre")
@requires("care.record")
def submit(public_id: str) -> BaseResponse:
    """Submit; a small invoice is checked at once, a large one by the Celery job."""
    actor, tenant = current_actor(), current_tenant()
    invoice = invoices.get_invoice(db.session, actor, public_id)
    ActionForm().validate_on_submit()
    try:
        invoices.submit_invoice(db.session, tenant, actor, invoice)
        if invoices.line_count(db.session, invoice) <= invoices.INLINE_LINES:
            invoices.check_invoices(db.session, tenant, [invoice.id])
            flash(
                _l(
                    "Facture soumise et contrôlée : %(status)s.",
                    status=invoices.STATUS_LABELS[invoice.status],
                ),
                "info",
            )
        else:
            enqueue_after_commit(db.session, care_tasks.check_invoices, [invoice.id])
            flash(_l("Facture soumise : le contrôle automatique est en cours."), "info")
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    return redirect(url_for("care_invoices.edit", public_id=invoice.public_id), 303)


@bp.post("/saisie/<public_id>/import")
@requires("care.record")
def upload(public_id: str) -> Any:
    """Records from a CSV/XLSX file: every rejected row with its reason; a file sent twice adds nothing."""
    from app.care import invoice_imports

    actor = current_actor()
    invoice = invoices.get_invoice(db.session, actor, public_id)
    form = UploadForm()
    file = form.file.data
    if file is None or not getattr(file, "filename", ""):
        flash(_l("Choisissez un fichier CSV ou XLSX."), "error")
        return redirect(url_for("care_invoices.edit", public_id=invoice.public_id), 303)
    try:
        result = invoice_imports.import_records(
            db.session, current_tenant(), actor, invoice, file.filename, file.read()
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("care_invoices.edit", public_id=invoice.public_id), 303)
    return render_template(
        "care/invoices/import_result.html", invoice=invoice, result=result, title=_l("Import de prestations")
    )


# --- the mutual's side -------------------------------------------------------------------------------------


@bp.get("/factures")
@requires("care.read")
def index() -> str:
    status = request.args.get("statut") or ""
    query = select(CareInvoice).order_by(CareInvoice.id.desc()).limit(200)
    if status in InvoiceStatus.__members__:
        query = query.where(CareInvoice.status == status)
    return render_template(
        "care/invoices/index.html",
        invoices=db.session.scalars(query).all(),
        providers=_provider_names(),
        status=status,
        title=_l("Factures des prestataires"),
    )


@bp.get("/factures/<public_id>")
@requires("care.read")
def detail(public_id: str) -> str:
    actor = current_actor()
    invoice = invoices.get_invoice(db.session, actor, public_id)
    record_read(db.session, actor, "care_invoice", invoice.number)
    return render_template(
        "care/invoices/detail.html",
        invoice=invoice,
        action=ActionForm(),
        **_details(invoice),
        can_validate=actor.can("care.validate_invoice") and invoice.status is InvoiceStatus.checked,
        title=_l("Facture %(number)s", number=invoice.number),
    )


@bp.post("/factures/<public_id>/valider")
@requires("care.validate_invoice")
def validate(public_id: str) -> BaseResponse:
    """Validation for payment: a critical function, approved by a step-up for this very invoice and amount."""
    actor, tenant = current_actor(), current_tenant()
    invoice = invoices.get_invoice(db.session, actor, public_id)
    ActionForm().validate_on_submit()
    try:
        invoices.check_validable(db.session, actor, invoice)
        provider = db.session.get(CareProvider, invoice.provider_id)
        assert provider is not None
        stepup.authorize(db.session, actor, invoices.validation_operation(invoice, provider))
        invoices.validate_invoice(db.session, tenant, actor, invoice)
        flash(_l("Facture %(number)s validée pour paiement.", number=invoice.number), "info")
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    return redirect(url_for("care_invoices.detail", public_id=public_id), 303)


# --- medical control ---------------------------------------------------------------------------------------


@bp.get("/controle")
@requires("care.medical_control")
def queue() -> str:
    number = (request.args.get("facture") or "").strip()
    items = review.queue(db.session, invoice_number=number or None)
    members = {
        m.id: m
        for m in db.session.scalars(select(Member).where(Member.id.in_({i.record.member_id for i in items})))
    }
    benefits = {
        b.id: b
        for b in db.session.scalars(select(Benefit).where(Benefit.id.in_({i.line.benefit_id for i in items})))
    }
    return render_template(
        "care/invoices/queue.html",
        items=items,
        members=members,
        benefits=benefits,
        form=ReviewForm(formdata=None),
        number=number,
        title=_l("Contrôle médical"),
    )


@bp.post("/controle/<int:line_id>")
@requires("care.medical_control")
def decide(line_id: str) -> Any:
    actor, form = current_actor(), ReviewForm()
    line = review.get_line(db.session, int(line_id))
    try:
        review.decide(
            db.session,
            current_tenant(),
            actor,
            line,
            decision=form.decision.data or "",
            note=form.note.data,
            amount=form.amount.data,
        )
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("care_invoices.queue"), 303)
    flash(_l("Décision enregistrée."), "info")
    back = request.args.get("facture")
    return redirect(
        url_for("care_invoices.queue", facture=back) if back else url_for("care_invoices.queue"), 303
    )


# --- payment batches ---------------------------------------------------------------------------------------


@bp.get("/lots")
@requires("care.validate_invoice")
def batch_index() -> str:
    return render_template(
        "care/invoices/batches.html",
        batches=batches.list_batches(db.session),
        payable=batches.payable_invoices(db.session),
        providers=_provider_names(),
        action=ActionForm(),
        title=_l("Lots de paiement"),
    )


@bp.post("/lots")
@requires("care.validate_invoice")
def batch_create() -> BaseResponse:
    ActionForm().validate_on_submit()
    try:
        batch = batches.create_batch(db.session, current_tenant(), current_actor())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("care_invoices.batch_index"), 303)
    return redirect(url_for("care_invoices.batch_detail", public_id=batch.public_id), 303)


@bp.get("/lots/<public_id>")
@requires("care.validate_invoice")
def batch_detail(public_id: str) -> str:
    batch = batches.get_batch(db.session, public_id)
    return render_template(
        "care/invoices/batch.html",
        batch=batch,
        groups=batches.by_provider(db.session, batch),
        action=ActionForm(),
        title=_l("Lot %(number)s", number=batch.number),
    )


@bp.post("/lots/<public_id>/payer")
@requires("care.validate_invoice")
def batch_paid(public_id: str) -> BaseResponse:
    ActionForm().validate_on_submit()
    batch = batches.get_batch(db.session, public_id)
    try:
        batches.mark_paid(db.session, current_tenant(), current_actor(), batch)
        flash(_l("Lot %(number)s payé.", number=batch.number), "info")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    return redirect(url_for("care_invoices.batch_detail", public_id=public_id), 303)


def _download(data: bytes, mimetype: str, name: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/lots/<public_id>/virements.csv")
@requires("care.validate_invoice")
def batch_bank(public_id: str) -> Response:
    batch = batches.get_batch(db.session, public_id)
    data = batches.bank_transfer_csv(db.session, current_actor(), batch)
    return _download(data, "text/csv", f"virements-{batch.number}.csv")


@bp.get("/lots/<public_id>/mobile-money.csv")
@requires("care.validate_invoice")
def batch_mobile(public_id: str) -> Response:
    batch = batches.get_batch(db.session, public_id)
    data = batches.mobile_money_csv(db.session, current_actor(), batch)
    return _download(data, "text/csv", f"mobile-money-{batch.number}.csv")


@bp.get("/lots/<public_id>/releve/<provider_public_id>.pdf")
@requires("care.validate_invoice")
def batch_statement(public_id: str, provider_public_id: str) -> Response:
    batch = batches.get_batch(db.session, public_id)
    provider = db.session.scalar(select(CareProvider).where(CareProvider.public_id == provider_public_id))
    if provider is None:
        raise NotFound(_l("Prestataire introuvable."))
    data = batches.statement_pdf(db.session, current_actor(), batch, provider)
    return _download(data, "application/pdf", f"releve-{batch.number}-{provider.code}.pdf")


__all__ = ["CareLine", "CareRecord", "bp"]
