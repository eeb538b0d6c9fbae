"""Staff sign-in and sign-out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user
from werkzeug.wrappers import Response

from app.extensions import db
from app.security.forms import SignInForm
from app.security.permissions import current_actor, public
from app.security.services import SignInRefused, authenticate, record_sign_out

bp = Blueprint("security", __name__)


@bp.route("/connexion", methods=["GET", "POST"])
@public
def login() -> str | Response | tuple[str, int]:
    """Sign in with e-mail and password; a refusal keeps the e-mail typed."""
    form = SignInForm()
    if form.validate_on_submit():
        try:
            account = authenticate(
                db.session, email=form.email.data, password=form.password.data, ip_address=request.remote_addr
            )
        except SignInRefused as refusal:
            db.session.commit()  # keep the audit of the failed attempt
            form.password.errors.append(refusal.message)
            return render_template("security/login.html", form=form), 401
        login_user(account)
        target = request.args.get("next", "")
        safe = target.startswith("/") and not target.startswith("//")
        return redirect(target if safe else url_for("hierarchy.tree"))
    return render_template("security/login.html", form=form)


@bp.post("/deconnexion")
@public
@login_required
def logout() -> Response:
    record_sign_out(db.session, current_actor())
    logout_user()
    return redirect(url_for("security.login"))
