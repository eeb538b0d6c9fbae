"""``/compte``: a staff member's own account — preferences, password, second factor, sessions."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from app.errors import DomainError
from app.extensions import db
from app.security import accounts, mfa, sessions, stepup
from app.security.forms import ChangePasswordForm, CodeForm, PlainForm, PreferencesForm
from app.security.permissions import SIGNED_IN, current_actor, requires
from app.security.services import sign_out_everywhere
from app.web.forms import show_error

bp = Blueprint("account", __name__)


def _safe_next() -> str | None:
    target = request.args.get("next")
    return target if target and target.startswith("/") and not target.startswith("//") else None


@bp.route("/", methods=["GET", "POST"])
@requires(SIGNED_IN)
def settings() -> str | Response:
    """Name, phone, language, screen layout and text size (applied on every page)."""
    form = PreferencesForm(data=_preferences())
    if form.validate_on_submit():
        try:
            accounts.update_preferences(
                db.session, current_actor(), current_user, full_name=form.full_name.data,
                phone=form.phone.data, locale=form.locale.data, density=form.density.data,
                text_size=form.text_size.data,
            )  # fmt: skip
            session["locale"] = current_user.locale
            flash(_l("Préférences enregistrées."), "info")
            return redirect(url_for("account.settings"))
        except DomainError as error:
            show_error(form, error)
    return _page(form=form)


def _page(**forms: object) -> str:
    return render_template(
        "security/account.html",
        form=forms.get("form") or PreferencesForm(data=_preferences()),
        password_form=forms.get("password_form") or ChangePasswordForm(),
        plain=PlainForm(),
        recovery_left=mfa.remaining_recovery_codes(db.session, current_user) if current_user.has_mfa else 0,
        title=_l("Mon compte"),
    )


def _preferences() -> dict[str, object]:
    return {
        "full_name": current_user.full_name, "phone": current_user.phone, "locale": current_user.locale,
        "density": str(current_user.ui_density), "text_size": str(current_user.ui_text_size),
    }  # fmt: skip


@bp.post("/mot-de-passe")
@requires(SIGNED_IN)
def change_password() -> str | Response:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                db.session, current_actor(), current_user, current=form.current.data, new=form.password.data,
                confirm=form.confirm.data,
            )  # fmt: skip
            sessions.start(current_user._get_current_object())  # other sessions end, this one goes on
            flash(_l("Mot de passe changé. Vos autres sessions sont fermées."), "info")
            return redirect(url_for("account.settings"))
        except DomainError as error:
            show_error(form, error)
    return _page(password_form=form)


@bp.post("/deconnexion-partout")
@requires(SIGNED_IN)
def sign_out_all() -> Response:
    """End every session of this account, this one included (a lost or shared device)."""
    if PlainForm().validate_on_submit():
        sign_out_everywhere(db.session, current_actor(), current_user)
        sessions.end()
        flash(_l("Toutes vos sessions sont fermées."), "info")
    return redirect(url_for("security.login"))


@bp.route("/double-authentification", methods=["GET", "POST"])
@requires(SIGNED_IN)
def mfa_page() -> str | Response | tuple[str, int]:
    """Enrol TOTP: scan the QR code, confirm with a first code, keep the 10 recovery codes."""
    if current_user.has_mfa:
        return render_template(
            "security/mfa_status.html", plain=PlainForm(), title=_l("Double authentification"),
            recovery_left=mfa.remaining_recovery_codes(db.session, current_user),
        )  # fmt: skip
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = mfa.confirm_enrolment(db.session, current_actor(), current_user, form.code.data.strip())
            return render_template(
                "security/recovery_codes.html", codes=codes, next=_safe_next(), title=_l("Codes de secours")
            )
        except DomainError as error:
            db.session.commit()  # failed attempts are counted
            form.code.errors.append(error.message)
            # Same secret as the QR code already scanned: only a GET starts a new enrolment.
            return _enrol_page(form, mfa.current_enrolment(db.session, current_user)), 422
    return _enrol_page(form, mfa.start_enrolment(db.session, current_user))


def _enrol_page(form: CodeForm, enrolment: object) -> str:
    form.code.description = _l("Le code à 6 chiffres affiché par l'application.")
    if enrolment is None:
        enrolment = mfa.current_enrolment(db.session, current_user)
    return render_template(
        "security/mfa_enrol.html", form=form, enrolment=enrolment, title=_l("Double authentification")
    )


@bp.post("/double-authentification/codes")
@requires(SIGNED_IN)
def new_recovery_codes() -> str | Response:
    """New recovery codes replace the old ones: a critical function (step-up)."""
    actor = current_actor()
    stepup.authorize(
        db.session, actor, stepup.Operation("mfa.recovery_codes", {"account": current_user.public_id},
                                            ((_l("Compte"), current_user.login_label),)),
    )  # fmt: skip
    codes = mfa.regenerate_recovery_codes(db.session, actor, current_user)
    return render_template(
        "security/recovery_codes.html", codes=codes, next=None, title=_l("Codes de secours")
    )


@bp.post("/double-authentification/desactiver")
@requires(SIGNED_IN)
def disable_mfa() -> Response:
    """Remove one's own second factor (e.g. to enrol a new phone): a critical function (step-up)."""
    actor = current_actor()
    stepup.authorize(
        db.session, actor, stepup.Operation("mfa.reset", {"account": current_user.public_id},
                                            ((_l("Compte"), current_user.login_label),)),
    )  # fmt: skip
    accounts.reset_second_factor(db.session, actor, current_user)
    sessions.start(current_user._get_current_object())
    flash(
        _l("Double authentification désactivée. Activez-la de nouveau pour les opérations sensibles."),
        "warning",
    )
    return redirect(url_for("account.mfa_page"))
