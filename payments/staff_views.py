"""Online payments for the mutual's staff (``/<tenant>/paiements/en-ligne``): the filtered list with its
totals, a payment's page with its whole timeline (every provider event, raw data included), refunds and
exports. Refunding and exporting (member names and phone numbers, in bulk) are critical functions: the
input is checked first, then a step-up approves that very operation."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Select, func, or_, select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from app.audit.services import record_event, record_read
from app.contributions import payments as contributions
from app.contributions.models import Payment
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.extensions import db
from app.formatting import money
from app.members.models import Member
from app.members.services import visible_association_ids
from app.security import stepup
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from payments import refunds
from payments.models import OnlinePayment, OnlineStatus
from payments.providers import registry
from payments.service import STATUS_LABELS
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("payments_staff", __name__, template_folder="templates")
install_resolution(bp)

PER_PAGE = 50
EXPORT_LIMIT = 100_000


@bp.context_processor
def wording() -> dict[str, Any]:
    return {
        "money": money,
        "status_labels": STATUS_LABELS,
        "provider_labels": registry.LABELS,
    }


# --- forms -------------------------------------------------------------------------------------------------


class FilterForm(FlaskForm):
    """The list's filters (GET: no CSRF token; also read back from an export's query string)."""

    class Meta:
        csrf = False

    statut = SelectField(_l("Statut"), validate_choice=False)
    moyen = SelectField(_l("Moyen de paiement"), validate_choice=False)
    du = StringField(_l("Du"), description=_l("JJ/MM/AAAA"), validators=[Optional(), Length(max=10)])
    au = StringField(_l("Au"), description=_l("JJ/MM/AAAA"), validators=[Optional(), Length(max=10)])
    q = StringField(_l("Adhérent"), description=_l("Numéro ou nom"), validators=[Optional(), Length(max=80)])


class RefundForm(FlaskForm):
    amount = StringField(
        _l("Montant à rembourser (F CFA)"),
        validators=[Length(max=20)],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    reason = TextAreaField(
        _l("Motif du remboursement"),
        description=_l("Il reste sur le paiement, sur le reçu annulé ou corrigé et dans le journal."),
        validators=[Length(max=300)],
    )


@dataclass(frozen=True)
class Filters:
    status: str = ""
    provider: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    q: str = ""

    def as_data(self) -> dict[str, str]:
        """JSON-ready, for the export's step-up digest and the audit log."""
        return {
            "status": self.status,
            "provider": self.provider,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "q": self.q,
        }

    def as_args(self) -> dict[str, str]:
        """The query string that gives back this list."""
        args = {
            "statut": self.status,
            "moyen": self.provider,
            "du": self.since.strftime("%d/%m/%Y") if self.since else "",
            "au": self.until.strftime("%d/%m/%Y") if self.until else "",
            "q": self.q,
        }
        return {k: v for k, v in args.items() if v}


def _filter_form(values: MultiDict[str, str]) -> tuple[FilterForm, Filters]:
    """The form (choices filled) and the filters it holds; a wrong field is marked and ignored."""
    form = FilterForm(values)
    form.statut.choices = [SelectChoice("", _l("Tous"))] + [
        SelectChoice(s.value, STATUS_LABELS[s.value]) for s in OnlineStatus
    ]
    form.moyen.choices = [SelectChoice("", _l("Tous"))] + [
        SelectChoice(name, label) for name, label in registry.LABELS.items()
    ]
    status = form.statut.data if form.statut.data in {s.value for s in OnlineStatus} else ""
    provider = form.moyen.data if form.moyen.data in registry.LABELS else ""
    days: dict[str, dt.date | None] = {"du": None, "au": None}
    for name in days:
        typed = (getattr(form, name).data or "").strip()
        if typed:
            try:
                days[name] = contributions.parse_day(typed, name)
            except FieldError as error:
                getattr(form, name).errors = [error.message]
    q = " ".join((form.q.data or "").split())[:80]
    return form, Filters(status, provider, days["du"], days["au"], q)


# --- queries -----------------------------------------------------------------------------------------------


def _scoped(filters: Filters, permission: str = "payments.read") -> Select[tuple[OnlinePayment, Member]]:
    """Payments of the households of the associations where the actor holds ``permission``."""
    reach = visible_association_ids(db.session, current_actor(), current_tenant(), permission)
    query = (
        select(OnlinePayment, Member)
        .join(Member, Member.id == OnlinePayment.member_id)
        .where(Member.association_id.in_(reach))
    )
    if filters.status:
        query = query.where(OnlinePayment.status == OnlineStatus(filters.status))
    if filters.provider:
        query = query.where(OnlinePayment.provider == filters.provider)
    if filters.since:
        query = query.where(OnlinePayment.created_at >= dt.datetime.combine(filters.since, dt.time()))
    if filters.until:
        end = dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time())
        query = query.where(OnlinePayment.created_at < end)
    if filters.q:
        like = "%" + re.sub(r"([\\%_])", r"\\\1", filters.q) + "%"
        name = func.concat(Member.first_names, " ", Member.last_name)
        query = query.where(
            or_(
                Member.number.ilike(like),
                name.ilike(like),
                func.concat(Member.last_name, " ", Member.first_names).ilike(like),
            )
        )
    return query


def _totals(query: Select[tuple[OnlinePayment, Member]]) -> dict[str, int]:
    sub = query.with_only_columns(OnlinePayment.amount, OnlinePayment.refunded_amount).subquery()
    count, amount, refunded = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(sub.c.amount), 0),
            func.coalesce(func.sum(sub.c.refunded_amount), 0),
        )
    ).one()
    return {"count": int(count), "amount": int(amount), "refunded": int(refunded)}


def _payment(public_id: str) -> tuple[OnlinePayment, Member]:
    """The payment if the actor may read it (404 otherwise: beyond reach reads the same as missing)."""
    row = db.session.execute(_scoped(Filters()).where(OnlinePayment.public_id == public_id)).first()
    if row is None:
        raise NotFound(_l("Paiement introuvable."))
    return row[0], row[1]


# --- the list ----------------------------------------------------------------------------------------------


@bp.get("/")
@requires("payments.read")
def index() -> str:
    """The filtered list, newest first, 50 a page, with the totals of the whole selection."""
    form, filters = _filter_form(request.args)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    query = _scoped(filters)
    totals = _totals(query)
    rows = db.session.execute(
        query.order_by(OnlinePayment.created_at.desc(), OnlinePayment.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    pages = max(1, -(-totals["count"] // PER_PAGE))
    actor = current_actor()
    return render_template(
        "payments/staff_list.html", form=form, filters=filters, rows=rows, totals=totals, page=page,
        pages=pages, args=filters.as_args(), can_export=actor.can("data.export"),
        title=_l("Paiements en ligne"),
    )  # fmt: skip


# --- one payment -------------------------------------------------------------------------------------------


def _detail_page(payment: OnlinePayment, member: Member, form: RefundForm | None = None) -> str:
    actor = current_actor()
    path = refunds.association_path(db.session, payment)
    linked = (
        db.session.get(Payment, payment.contribution_payment_id) if payment.contribution_payment_id else None
    )
    live = refunds.live_contribution(db.session, payment)
    can_refund = actor.can("payments.refund", path) and payment.status in refunds.REFUNDABLE
    form = form or RefundForm(formdata=None, data={"amount": str(refunds.refundable_rest(payment))})
    return render_template(
        "payments/staff_detail.html", payment=payment, member=member, events=payment.events, linked=linked,
        live=live if live is not None and linked is not None and live.id != linked.id else None,
        can_refund=can_refund, can_validate=actor.can("payments.validate", path), form=form,
        rest=refunds.refundable_rest(payment), title=_l("Paiement en ligne %(id)s", id=payment.public_id),
    )  # fmt: skip


@bp.get("/<public_id>")
@requires("payments.read")
def detail(public_id: str) -> str:
    """Amounts, member, provider, status and every event in order (raw data folded away)."""
    payment, member = _payment(public_id)
    record_read(db.session, current_actor(), "online_payment", payment.public_id)
    return _detail_page(payment, member)


def _refund_operation(payment: OnlinePayment, member: Member, amount: int, reason: str) -> stepup.Operation:
    return stepup.Operation(
        "payments.refund",
        {"payment": payment.public_id, "amount": amount, "reason": reason},
        (
            (
                _l("Paiement"),
                f"{payment.public_id} ({registry.LABELS.get(payment.provider, payment.provider)})",
            ),
            (_l("Adhérent"), f"{member.full_name} ({member.number})"),
            (_l("Montant payé"), money(payment.amount)),
            (_l("Déjà remboursé"), money(payment.refunded_amount)),
            (_l("À rembourser"), money(amount)),
            (_l("Motif"), reason),
        ),
    )


@bp.post("/<public_id>/rembourser")
@requires("payments.refund")
def refund(public_id: str) -> str | BaseResponse | tuple[str, int]:
    """Refund (all or part): checked, then approved by a step-up, then sent to the provider."""
    actor, tenant = current_actor(), current_tenant()
    payment, member = _payment(public_id)
    form = RefundForm()
    try:
        plan = refunds.check_refund(db.session, actor, payment, form.amount.data or "", form.reason.data)
        stepup.authorize(db.session, actor, _refund_operation(payment, member, plan.amount, plan.reason))
        refunds.refund_online_payment(db.session, tenant, actor, payment, plan.amount, plan.reason)
    except (NotFound, Forbidden):
        raise
    except DomainError as error:
        show_error(form, error)
        return _detail_page(payment, member, form), 422
    flash(_l("Remboursement de %(amount)s enregistré.", amount=money(plan.amount)), "info")
    return redirect(url_for(".detail", public_id=payment.public_id), 303)


# --- exports (critical: personal data in bulk) -------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADER = [
    "paiement", "cree_le", "statut", "moyen", "reference_fournisseur", "montant", "rembourse", "devise",
    "adherent_numero", "adherent_nom", "telephone", "signale", "motif_signalement",
]  # fmt: skip


def safe_cell(value: object) -> object:
    """A cell no spreadsheet will run as a formula: text starting with = + - @ (or a tab / carriage
    return) gets a leading apostrophe. Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _export_rows(filters: Filters) -> list[list[object]]:
    rows = db.session.execute(
        _scoped(filters, "data.export")
        .order_by(OnlinePayment.created_at, OnlinePayment.id)
        .limit(EXPORT_LIMIT)
    ).all()
    return [
        [safe_cell(v) for v in (
            p.public_id, p.created_at.strftime("%Y-%m-%d %H:%M:%S"), p.status.value, p.provider,
            p.provider_ref or "", p.amount, p.refunded_amount, p.currency, m.number, m.full_name,
            m.phone or "", "oui" if p.flagged else "non", p.flag_reason or "",
        )]
        for p, m in rows
    ]  # fmt: skip


def _authorized_export(kind: str) -> tuple[Filters, list[list[object]]]:
    """The filters (query string or form), the export approved by a step-up, and audited."""
    actor = current_actor()
    values = MultiDict(request.args)
    values.update({k: v for k, v in request.form.items() if k in FilterForm.__dict__})
    _form, filters = _filter_form(values)
    summary = (
        (_l("Données"), _l("Paiements en ligne : adhérents, téléphones, montants")),
        (_l("Format"), kind.upper()),
        (_l("Filtres"), " · ".join(f"{k} = {v}" for k, v in filters.as_data().items() if v) or "—"),
    )
    stepup.authorize(
        db.session,
        actor,
        stepup.Operation("data.export", {"kind": f"online_payments.{kind}", **filters.as_data()}, summary),
    )
    rows = _export_rows(filters)
    record_event(
        db.session, actor, "payments.online_exported", target_type="online_payment", target_id=kind,
        filters=filters.as_data(), rows=len(rows),
    )  # fmt: skip
    return filters, rows


@bp.route("/export.csv", methods=["GET", "POST"])
@requires("data.export")
def export_csv() -> Response:
    """CSV for French Excel (``;``, UTF-8 with BOM)."""
    _filters, rows = _authorized_export("csv")
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="paiements-en-ligne.csv"'},
    )


@bp.route("/export.xlsx", methods=["GET", "POST"])
@requires("data.export")
def export_xlsx() -> Response:
    """The same as a workbook; every text cell stored as text (openpyxl would take "=…" as a formula)."""
    from openpyxl import Workbook

    _filters, rows = _authorized_export("xlsx")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Paiements")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="paiements-en-ligne.xlsx"'},
    )
