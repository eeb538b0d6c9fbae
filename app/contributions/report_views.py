"""Contribution reports of a mutual (``/<tenant>/cotisations/rapports``): the forecast over 1, 3, 6 or 12
months, the balance of a month or a quarter per association and ligue, and the funders' receivables with a
form to record a claim or a receipt. Reading needs ``contributions.read``; recording, ``contributions.record``
at the mutual's level (the services check the scope)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_date, format_percent
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import DateField, HiddenField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from app import clock
from app.contributions import forecast as reports
from app.errors import DomainError
from app.extensions import db
from app.formatting import money
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("contribution_reports", __name__, template_folder="templates")
install_resolution(bp)

RECEIVABLE_STATUS_LABELS = {
    "expected": _l("Attendue"),
    "claimed": _l("Réclamée"),
    "received": _l("Reçue"),
}


QUARTER_LABELS = {
    1: _l("1er trimestre {year}"),
    2: _l("2e trimestre {year}"),
    3: _l("3e trimestre {year}"),
    4: _l("4e trimestre {year}"),
}


def rate(value: float | None) -> str:
    return "—" if value is None else format_percent(value, "#,##0.0 %")


def month_label(day: dt.date) -> str:
    return format_date(day, "MMMM yyyy")


@bp.context_processor
def wording() -> dict[str, Any]:
    return {"money": money, "rate": rate, "month_label": month_label,
            "receivable_status_labels": RECEIVABLE_STATUS_LABELS, "can_see_receivables": _can_see_receivables,
            "format_date": format_date}  # fmt: skip


def _can_see_receivables() -> bool:
    return reports.may_see_receivables(db.session, current_tenant(), current_actor(), reports.READ)


class ForecastForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: it changes nothing

    mois = SelectField(
        _l("Horizon"),
        choices=[SelectChoice(str(n), str(_l("%(num)s mois", num=n))) for n in reports.HORIZONS],
        default="3",
    )
    debut = SelectField(_l("À partir de"))


class BalanceForm(FlaskForm):
    class Meta:
        csrf = False

    periode = SelectField(_l("Période"))


class MarkForm(FlaskForm):
    funder = HiddenField()
    month = HiddenField()
    status = SelectField(
        _l("Nouvel état"),
        choices=[SelectChoice("claimed", str(_l("Réclamée au financeur"))),
                 SelectChoice("received", str(_l("Reçue"))),
                 SelectChoice("expected", str(_l("Attendue (annuler la réclamation)")))],
    )  # fmt: skip
    received_amount = IntegerField(
        _l("Montant reçu (F CFA)"), validators=[Optional(), NumberRange(min=1)],
        description=_l("Seulement pour « Reçue » ; un versement partiel est possible."),
    )  # fmt: skip
    on = DateField(_l("Date"), default=clock.today)


def _months_around(today: dt.date, before: int, after: int) -> list[dt.date]:
    first = reports.month_start(today)
    return [reports.add_months(first, i) for i in range(-before, after + 1)]


@bp.get("/")
@requires("contributions.read")
def forecast() -> str:
    """Expected dues per month, per association and ligue, with the funders' share."""
    today = clock.today()
    form = ForecastForm(request.args)
    months = _months_around(today, 1, 12)
    form.debut.choices = [SelectChoice(m.strftime("%Y-%m"), month_label(m)) for m in months]
    if not form.debut.data or form.debut.data == "None":
        form.debut.data = today.strftime("%Y-%m")
    result = None
    if form.validate():
        start = dt.date.fromisoformat(f"{form.debut.data}-01")
        result = reports.forecast(db.session, current_tenant(), current_actor(), int(form.mois.data), start)
    return render_template(
        "contributions/report_forecast.html", form=form, result=result, title=_l("Prévision des cotisations")
    )


def _period_choices(today: dt.date) -> list[SelectChoice]:
    months = [SelectChoice(m.strftime("%Y-%m"), month_label(m)) for m in _months_around(today, 12, 0)[::-1]]
    quarters = []
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    for i in range(6):
        start = reports.add_months(quarter_start, -3 * i)
        number = (start.month - 1) // 3 + 1
        label = str(QUARTER_LABELS[number]).format(year=start.year)
        quarters.append(SelectChoice(f"{start.year}-T{number}", label))
    return months + quarters


@bp.get("/bilan")
@requires("contributions.read")
def balance() -> str:
    """Expected against collected for a month or a quarter, per association and ligue, with arrears."""
    form = BalanceForm(request.args)
    form.periode.choices = _period_choices(clock.today())
    if not form.periode.data or form.periode.data == "None":
        form.periode.data = clock.today().strftime("%Y-%m")
    result = None
    if form.validate():
        try:
            start, end = reports.parse_period(form.periode.data)
            result = reports.balance(db.session, current_tenant(), current_actor(), start, end)
        except DomainError as error:
            show_error(form, error)
    return render_template(
        "contributions/report_balance.html", form=form, result=result, title=_l("Bilan des cotisations")
    )


def _receivables_page(forms: dict[tuple[str, dt.date], MarkForm] | None = None) -> str:
    rows = reports.list_receivables(db.session, current_tenant(), current_actor())
    forms = forms or {}
    can_record = reports.may_see_receivables(db.session, current_tenant(), current_actor(), reports.RECORD)
    prepared = [
        (r, forms.get((r.funder, r.period_start))
         or MarkForm(formdata=None, funder=r.funder, month=r.period_start.isoformat()))
        for r in rows
    ]  # fmt: skip
    return render_template(
        "contributions/report_receivables.html", rows=prepared, can_record=can_record,
        title=_l("Subventions à recevoir"),
    )  # fmt: skip


@bp.get("/subventions")
@requires("contributions.read")
def receivables() -> str:
    """What each funder owes per month, and where each claim stands."""
    return _receivables_page()


@bp.post("/subventions")
@requires("contributions.record")
def mark() -> str | BaseResponse:
    """Record a claim, a receipt (all or part) or the withdrawal of a claim; the page shows why if refused."""
    form = MarkForm()
    key: tuple[str, dt.date] | None = None
    try:
        month = dt.date.fromisoformat(form.month.data or "")
    except ValueError:
        month = None
    if month is not None:
        key = (form.funder.data or "", month)
    if form.validate_on_submit() and key is not None:
        try:
            receivable = reports.get_receivable(db.session, current_tenant(), current_actor(), *key)
            reports.mark_receivable(
                db.session, current_tenant(), current_actor(), receivable, form.status.data,
                form.received_amount.data, form.on.data,
            )  # fmt: skip
            flash(_l("Créance mise à jour."), "success")
            return redirect(url_for(".receivables"))
        except DomainError as error:
            show_error(form, error)
    elif key is None:
        form.form_errors.append(_l("Créance introuvable."))
    return _receivables_page({key: form} if key else None)
