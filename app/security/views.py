"""Sign-in and sign-out, invitation and password links, and the step-up confirmation screen."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from app.errors import DomainError
from app.extensions import db, limiter
from app.security import accounts, mfa, sessions, stepup
from app.security.events import check_threshold, record_failure
from app.security.forms import CodeForm, SetPasswordForm, SignInForm
from app.security.models import TokenPurpose
from app.security.permissions import SIGNED_IN, current_actor, public, requires
from app.security.services import SignInRefused, authenticate, record_sign_out
from app.web.forms import show_error

bp = Blueprint("security", __name__)


def _sign_in_rate() -> str:
    return current_app.config["MBOLO_SIGN_IN_RATE"]


def _safe_next(target: str | None) -> str | None:
    return target if target and target.startswith("/") and not target.startswith("//") else None


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(_sign_in_rate, methods=["POST"])
@public
def login() -> str | Response | tuple[str, int]:
    """Sign in with e-mail and password; a refusal keeps the e-mail typed."""
    form = SignInForm()
    if form.validate_on_submit():
        try:
            account = authenticate(
                db.session, login=form.login.data, password=form.password.data, ip_address=request.remote_addr
            )
        except SignInRefused as refusal:
            db.session.commit()  # keep the audit, the failure count and the lock
            form.password.errors.append(refusal.message)
            return render_template("security/login.html", form=form), 401
        sessions.start(account)
        return redirect(_safe_next(request.args.get("next")) or url_for("hierarchy.tree"))
    return render_template("security/login.html", form=form)


@bp.post("/deconnexion")
@requires(SIGNED_IN)
def logout() -> Response:
    record_sign_out(db.session, current_actor())
    sessions.end()
    return redirect(url_for("security.login"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit(_sign_in_rate, methods=["POST"])
@public
def accept_invitation(token: str) -> str | Response | tuple[str, int]:
    """The invited person chooses a password (the link works once, within its lifetime)."""
    return _password_link(token, TokenPurpose.invitation)


@bp.route("/mot-de-passe/<token>", methods=["GET", "POST"])
@limiter.limit(_sign_in_rate, methods=["POST"])
@public
def reset_password(token: str) -> str | Response | tuple[str, int]:
    """A forgotten password: the link an administrator issued."""
    return _password_link(token, TokenPurpose.password_reset)


def _password_link(token: str, purpose: TokenPurpose) -> str | Response | tuple[str, int]:
    try:
        account, _row = accounts.read_link(db.session, token, purpose)
    except accounts.LinkInvalid as invalid:
        record_failure(
            db.session, current_actor_or_anonymous(), "security.link_refused", target_type="link",
            purpose=str(purpose),
        )  # fmt: skip
        db.session.commit()
        return render_template("security/link_invalid.html", message=invalid.message), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            account = accounts.set_password_from_link(
                db.session, token, purpose, password=form.password.data, confirm=form.confirm.data,
                ip_address=request.remote_addr,
            )  # fmt: skip
            db.session.flush()
            sessions.start(account)
            flash(_l("Votre mot de passe est enregistré. Bienvenue !"), "info")
            return redirect(url_for("account.settings"))
        except DomainError as error:
            show_error(form, error)
    return render_template("security/set_password.html", form=form, account=account, purpose=purpose.value)


def current_actor_or_anonymous() -> object:
    from app.security.actor import Actor

    if current_user.is_authenticated:
        return current_actor()
    return Actor(account_id=None, label="anonyme", ip_address=request.remote_addr)


@bp.route("/securite/confirmation/<token>", methods=["GET", "POST"])
@limiter.limit(_sign_in_rate, methods=["POST"])
@requires(SIGNED_IN)
def confirm(token: str) -> str | Response | tuple[str, int]:
    """Step-up: show the pending operation and take a TOTP or recovery code; then go back to the action."""
    actor = current_actor()
    approval = stepup.get_pending(db.session, actor, token)
    if approval is None or approval.consumed_at is not None:
        return render_template("security/stepup_gone.html"), 410
    if not current_user.has_mfa:
        flash(_l("Cette opération demande la double authentification : activez-la d'abord."), "warning")
        return redirect(url_for("account.mfa_page", next=request.path))
    label = stepup.CRITICAL_OPERATIONS.get(approval.operation, approval.operation)
    form = CodeForm()
    expired = stepup.is_expired(approval)
    if not expired and approval.approved_at is not None:
        return _continue(approval)
    if form.validate_on_submit() and not expired:
        try:
            mfa.verify_second_factor(db.session, actor, current_user, form.code.data.strip())
        except mfa.SecondFactorLocked as locked:
            db.session.commit()
            form.code.errors.append(locked.message)
        except mfa.SecondFactorRefused as refused:
            check_threshold(db.session, ip_address=actor.ip_address, account_label=actor.label)
            db.session.commit()
            form.code.errors.append(refused.message)
        else:
            stepup.approve(db.session, actor, approval)
            return _continue(approval)
        g.mbolo_rollback = False
        return _prompt(approval, label, form, expired), 422
    return _prompt(approval, label, form, expired)


def _prompt(approval: object, label: object, form: CodeForm, expired: bool) -> str:
    kept = stepup.kept_input(approval, current_actor()).get("form", {}) if expired else {}  # type: ignore[arg-type]
    return render_template(
        "security/stepup.html", approval=approval, label=label, form=form, expired=expired, kept=kept
    )


def _continue(approval: object) -> str | Response:
    """Post the kept input back to the action, with the approval; JSON callers retry themselves."""
    if stepup.wants_json():
        from flask import jsonify

        return jsonify(approved=True, approval=approval.token, action_url=approval.action_url)  # type: ignore[attr-defined]
    payload = stepup.kept_input(approval, current_actor()).get("form", {})  # type: ignore[arg-type]
    return render_template(
        "security/stepup_continue.html", approval=approval, fields=payload, field_name=stepup.APPROVAL_FIELD
    )
