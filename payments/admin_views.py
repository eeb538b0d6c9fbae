"""The mutual's payment settings (``/<tenant>/paiements/reglages``): merchant accounts per provider (critical:
``payments.configure`` with step-up; secrets are never shown back, a blank input keeps the stored value) and
reconciliation with the providers' reports (``payments.validate``: upload a report, run from the provider,
resolve each difference with a comment)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response as BaseResponse
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from app import clock
from app.contributions.payments import parse_day
from app.errors import DomainError, FieldError, NotFound
from app.extensions import db
from app.formatting import money
from app.security import stepup
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from payments import credentials, reconciliation
from payments.models import OnlinePayment, ReconciliationItem
from payments.providers import registry
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("payments_admin", __name__, template_folder="templates")
install_resolution(bp)

#: Keys that are not secrets (their stored value may be shown).
PLAIN_KEYS = frozenset({"environment", "currency", "lang", "client_id"})


@bp.context_processor
def wording() -> dict[str, Any]:
    return {
        "money": money,
        "kind_labels": reconciliation.KIND_LABELS,
        "provider_labels": registry.LABELS,
    }


# --- forms -------------------------------------------------------------------------------------------------


def _credentials_form(provider: str) -> FlaskForm:
    """One input per key of the provider; secrets are password inputs, always rendered empty."""

    class CredentialsForm(FlaskForm):
        enabled = BooleanField(_l("Proposer ce moyen de paiement aux membres"), default=True)

    keys = credentials.REQUIRED_KEYS[provider] + credentials.OPTIONAL_KEYS[provider]
    for key in keys:
        label = credentials.KEY_LABELS.get(key, key)
        hint = _l("Laissez vide pour garder la valeur enregistrée.")
        kind = StringField if key in PLAIN_KEYS else PasswordField
        setattr(
            CredentialsForm,
            key,
            kind(label, description=hint, validators=[Optional(), Length(max=500)],
                 render_kw={"autocomplete": "off"}),
        )  # fmt: skip
    return CredentialsForm()


class RunForm(FlaskForm):
    """A reconciliation: a report file, or the provider itself as the source."""

    provider = SelectField(_l("Moyen de paiement"), validate_choice=False)
    day = StringField(_l("Jour"), description=_l("JJ/MM/AAAA"), validators=[Length(max=10)])
    report = FileField(
        _l("Relevé de l'opérateur (CSV)"),
        description=_l(
            "Colonnes : provider_ref (ou reference), amount (ou montant), status — séparées par « ; » ou "
            "« , ». Laissez vide pour interroger l'opérateur."
        ),
    )


class ResolveForm(FlaskForm):
    comment = TextAreaField(
        _l("Ce qui a été constaté ou fait"), validators=[Length(max=500)],
        description=_l("Obligatoire ; il reste sur l'écart et dans le journal."),
    )  # fmt: skip


def _run_form(form: RunForm | None = None) -> RunForm:
    form = form or RunForm(
        formdata=None, data={"day": (clock.today() - dt.timedelta(days=1)).strftime("%d/%m/%Y")}
    )
    form.provider.choices = [
        SelectChoice(name, str(registry.LABELS.get(name, name)))
        for name in registry.enabled(current_tenant())
    ]
    return form


# --- the settings page -------------------------------------------------------------------------------------


@bp.get("/")
@requires("payments.read")
def index() -> str:
    """Merchant accounts (for those who may change them) and the latest reconciliations."""
    actor = current_actor()
    accounts = [(name, *credentials.stored_keys(db.session, name)) for name in credentials.REQUIRED_KEYS]
    return render_template(
        "payments/admin_index.html", accounts=accounts, can_configure=actor.can("payments.configure"),
        can_validate=actor.can("payments.validate"), runs=reconciliation.recent_runs(db.session),
        form=_run_form(), title=_l("Réglages des paiements"),
    )  # fmt: skip


@bp.route("/comptes/<provider>", methods=["GET", "POST"])
@requires("payments.configure")
def account(provider: str) -> str | BaseResponse | tuple[str, int]:
    """Change a merchant account: the input is checked, then a step-up approves exactly these changes."""
    if provider not in credentials.REQUIRED_KEYS:
        abort(404)
    actor, tenant = current_actor(), current_tenant()
    form = _credentials_form(provider)
    configured, enabled = credentials.stored_keys(db.session, provider)
    if request.method == "GET":
        form.enabled.data = enabled or not configured  # type: ignore[attr-defined]
    if request.method == "POST" and form.validate():
        values = {key: form[key].data for key in credentials.REQUIRED_KEYS[provider]
                  + credentials.OPTIONAL_KEYS[provider]}  # fmt: skip
        on = bool(form.enabled.data)  # type: ignore[attr-defined]
        try:
            changed = credentials.check_credentials(db.session, tenant, provider, values)
            summary: tuple[tuple[object, object], ...] = (
                (_l("Moyen de paiement"), registry.LABELS.get(provider, provider)),
                (
                    _l("Clés modifiées"),
                    ", ".join(str(credentials.KEY_LABELS.get(k, k)) for k in changed) or "—",
                ),
                (_l("Proposé aux membres"), _l("oui") if on else _l("non")),
            )
            operation = stepup.Operation(
                "payments.configure", {"provider": provider, "keys_changed": changed, "enabled": on}, summary
            )
            stepup.authorize(db.session, actor, operation)
            credentials.set_credentials(db.session, tenant, actor, provider, values, enabled=on)
            flash(_l("Compte marchand enregistré."), "info")
            return redirect(url_for("payments_admin.index"), 303)
        except DomainError as error:
            show_error(form, error)
    for key in credentials.REQUIRED_KEYS[provider] + credentials.OPTIONAL_KEYS[provider]:
        if key not in PLAIN_KEYS:
            form[key].data = ""  # a secret is never sent back, even as typed
    page = render_template(
        "payments/admin_account.html", form=form, provider=provider, configured=configured,
        title=_l("Compte marchand : %(name)s", name=registry.LABELS.get(provider, provider)),
    )  # fmt: skip
    return (page, 422) if form.errors or form.form_errors else page


# --- reconciliation ----------------------------------------------------------------------------------------


@bp.post("/rapprochements")
@requires("payments.validate")
def run() -> str | BaseResponse | tuple[str, int]:
    """Reconcile one provider's day, from the uploaded report or from the provider."""
    form = _run_form(RunForm())
    tenant = current_tenant()
    try:
        provider = form.provider.data or ""
        if provider not in registry.enabled(tenant):
            raise FieldError("provider", _l("Moyen de paiement indisponible."))
        day = parse_day(form.day.data or "", "day")
        upload = request.files.get(form.report.name)
        if upload is not None and upload.filename:
            rows = reconciliation.parse_report(upload.read(reconciliation.MAX_REPORT_BYTES + 1))
            done = reconciliation.reconcile(
                db.session, tenant, provider, day, rows, source="file", actor=current_actor()
            )
        else:
            done = reconciliation.reconcile_from_provider(
                db.session, tenant, provider, day, actor=current_actor()
            )
    except DomainError as error:
        show_error(form, error)
        actor = current_actor()
        page = render_template(
            "payments/admin_index.html", accounts=[], can_configure=False,
            can_validate=actor.can("payments.validate"), runs=reconciliation.recent_runs(db.session),
            form=form, title=_l("Réglages des paiements"),
        )  # fmt: skip
        return page, 422
    flash(_l("Rapprochement terminé : %(n)s écart(s).", n=done.differences), "info")
    return redirect(url_for("payments_admin.run_detail", public_id=done.public_id), 303)


@bp.get("/rapprochements/<public_id>")
@requires("payments.validate")
def run_detail(public_id: str) -> str:
    try:
        found = reconciliation.get_run(db.session, public_id)
    except NotFound:
        abort(404)
    items = reconciliation.items_of(db.session, found)
    payments = {p.id: p for p in db.session.query(OnlinePayment).filter(
        OnlinePayment.id.in_([i.payment_id for i in items if i.payment_id]))}  # fmt: skip
    return render_template(
        "payments/admin_run.html", run=found, items=items, payments=payments, form=ResolveForm(formdata=None),
        title=_l("Rapprochement du %(day)s", day=found.day.strftime("%d/%m/%Y")),
    )  # fmt: skip


@bp.post("/rapprochements/ecarts/<int:item_id>")
@requires("payments.validate")
def resolve(item_id: str | int) -> str | BaseResponse | tuple[str, int]:
    """Close one difference with a comment (kept on the item and audited)."""
    item = db.session.get(ReconciliationItem, int(item_id))
    if item is None:
        abort(404)
    found = db.session.get(reconciliation.ReconciliationRun, item.run_id)
    assert found is not None
    form = ResolveForm()
    try:
        reconciliation.resolve_item(db.session, current_actor(), item, form.comment.data)
    except DomainError as error:
        show_error(form, error)
        items = reconciliation.items_of(db.session, found)
        page = render_template(
            "payments/admin_run.html", run=found, items=items, payments={}, form=form, error_item=item.id,
            title=_l("Rapprochement du %(day)s", day=found.day.strftime("%d/%m/%Y")),
        )  # fmt: skip
        return page, 422
    flash(_l("Écart traité."), "info")
    return redirect(url_for("payments_admin.run_detail", public_id=found.public_id), 303)
