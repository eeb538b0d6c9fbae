"""The member portal (``/<tenant>/portail``): sign-in by member number and SMS code (or a password chosen
afterwards), then the member's own rights, household, card, cotisations, dossiers and data.

Every page is a plain server-rendered page that works without JavaScript; once signed in, htmx (boosted
links) swaps only ``<main>``, and the server then sends only that part (``HX-Request``). Every read of
personal data is audited as the member (``record_read``); a member only ever sees their own household.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app import clock
from app.audit.services import record_read
from app.contributions import payments as contributions
from app.contributions import receipts
from app.contributions.models import Payment
from app.coverage import rights as coverage_rights
from app.errors import DomainError, FieldError, NotFound
from app.extensions import db, limiter
from app.formatting import money
from app.members import cards, exports, numbers
from app.members import services as members
from app.members.rules import RELATIONSHIP_LABELS, STATUS_LABELS
from app.security.permissions import public
from app.web.forms import show_error
from payments import service as online
from payments.models import OnlinePayment
from payments.providers import registry
from portal import assets, auth, services
from portal.auth import current_member, member_actor, member_required
from portal.dossiers import member_dossiers
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("portal", __name__, template_folder="templates", static_folder=None)
install_resolution(bp)
PENDING = "mbolo_portal_pending"  # the number a code was asked for, between the two sign-in steps


# --- forms -------------------------------------------------------------------------------------------------


class SignInForm(FlaskForm):
    number = StringField(
        _l("Numéro d'adhérent"),
        validators=[DataRequired(_l("Indiquez votre numéro d'adhérent.")), Length(max=40)],
        description=_l("Il figure sur votre carte, par exemple ART-004512-00-C."),
        render_kw={"autocomplete": "username", "autocapitalize": "characters", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Mot de passe (si vous en avez choisi un)"),
        validators=[Optional(), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code reçu par SMS"),
        validators=[DataRequired(_l("Tapez le code à 6 chiffres reçu par SMS.")), Length(max=12)],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"},
    )


class PasswordForm(FlaskForm):
    password = PasswordField(
        _l("Nouveau mot de passe"),
        validators=[DataRequired(_l("Choisissez un mot de passe.")), Length(max=128)],
        description=_l("10 caractères au moins ; une phrase de plusieurs mots convient très bien."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Le même, une seconde fois"),
        validators=[DataRequired(_l("Retapez le mot de passe."))],
        render_kw={"autocomplete": "new-password"},
    )


class ShareForm(FlaskForm):
    share = BooleanField(
        _l("Les ayants droit majeurs de mon foyer voient tout le foyer (droits, cotisations)")
    )


class EmptyForm(FlaskForm):
    pass


# --- plumbing ----------------------------------------------------------------------------------------------


@bp.record_once
def _install(state: Any) -> None:
    assets.install(state.app)

    @state.app.before_request
    def forget_portal_member() -> None:
        # g belongs to the app context, which a script or test may keep across requests: start clean.
        g.pop("portal_member", None)
        g.pop("portal_expired", None)

    @state.app.context_processor
    def portal_helpers() -> dict[str, Any]:
        return {
            "portal_asset": lambda name: url_for("portal.asset", digest=assets.fingerprint(name), name=name),
            "portal_signed_in": auth.signed_in,
            "portal_partial": _partial,
            "portal_endpoints": lambda: current_app.view_functions,
        }


def _partial() -> bool:
    """An htmx navigation: only ``<main>`` (and the title) is sent."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
        and request.blueprint is not None
        and request.blueprint.startswith("portal")
    )


@bp.after_request
def _private(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")  # a member's own data: never cached
    response.vary.add("HX-Request")
    return response


@bp.errorhandler(TooManyRequests)
def _too_many(_error: Exception) -> tuple[str, int]:
    """The portal's own page for a rate limit; recorded like the staff site's (a security event)."""
    from app.web.hooks import _record_security_failure

    _record_security_failure("security.rate_limited", target_type="path", target_id=request.path[:64])
    return render_template(
        "portal/message.html",
        title=_l("Trop de tentatives"),
        message=_l("Trop de tentatives. Patientez quelques minutes puis réessayez."),
    ), 429


def _address_rate() -> str:
    config = current_app.config
    return str(config.get("MBOLO_PORTAL_SIGN_IN_RATE") or config["MBOLO_SIGN_IN_RATE"])


def _number_rate() -> str:
    return str(current_app.config.get("MBOLO_PORTAL_NUMBER_RATE", "5 per 10 minutes;20 per day"))


def _code_rate() -> str:
    return str(current_app.config.get("MBOLO_PORTAL_CODE_RATE", "10 per 10 minutes;30 per day"))


def _typed_number() -> str:
    """The number a sign-in request is about (typed, or kept between the two steps), compacted."""
    pending = session.get(PENDING) or {}
    return numbers.compact(request.form.get("number") or pending.get("n") or "")[:24]


def _number_key() -> str:
    return f"portal-number:{g.tenant.slug}:{_typed_number()}"


def _safe_next(target: str | None) -> str | None:
    prefix = url_for("portal.home")
    return target if target and target.startswith(prefix) and not target.startswith("//") else None


def _start_and_go(member: Any, epoch: int) -> Response:
    session.pop(PENDING, None)
    auth.start(member, epoch)
    return redirect(_safe_next(request.args.get("next")) or url_for("portal.home"), 303)


def _read(member: Any, page: str) -> None:
    """Audit a read of a person's record through the portal, as the signed-in member."""
    record_read(db.session, member_actor(current_member()), "member", member.number, via="portal", page=page)


def _helpers() -> dict[str, Any]:
    return {
        "money": money,
        "long_date": coverage_rights.long_date,
        "relationship_labels": RELATIONSHIP_LABELS,
        "status_labels": STATUS_LABELS,
    }


def _pdf(data: bytes, name: str, *, download: bool = False) -> Response:
    response = Response(data, mimetype="application/pdf")
    disposition = "attachment" if download else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    return response


# --- assets ------------------------------------------------------------------------------------------------


@bp.get("/a/<digest>/<name>")
@public
def asset(digest: str, name: str) -> Response:
    """The portal's stylesheet and htmx, fingerprinted and cached for a year."""
    return assets.serve(digest, name)


# --- sign-in -----------------------------------------------------------------------------------------------


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(_address_rate, methods=["POST"])
@limiter.limit(_number_rate, key_func=_number_key, methods=["POST"])
@public
def sign_in() -> str | Response | tuple[str, int]:
    """Step 1: the member number; a code is sent by SMS (or the password, for those who chose one)."""
    if auth.signed_in():
        return redirect(url_for("portal.home"))
    form = SignInForm()
    if form.validate_on_submit():
        tenant, ip = current_tenant(), get_remote_address()
        if form.password.data:
            try:
                member, epoch = services.sign_in_with_password(
                    db.session, tenant, form.number.data, form.password.data, ip
                )
            except services.SignInRefused as refused:
                db.session.commit()  # the refusal and the failure count are kept
                form.password.errors.append(refused.message)
                return render_template("portal/sign_in.html", form=form), 401
            return _start_and_go(member, epoch)
        services.request_code(db.session, tenant, form.number.data, ip)
        session[PENDING] = {"t": tenant.slug, "n": numbers.compact(form.number.data)[:24]}
        return redirect(url_for("portal.code", next=_safe_next(request.args.get("next"))), 303)
    status = 422 if form.errors else 200
    return render_template("portal/sign_in.html", form=form), status


@bp.route("/connexion/code", methods=["GET", "POST"])
@limiter.limit(_address_rate, methods=["POST"])
@limiter.limit(_code_rate, key_func=_number_key, methods=["POST"], scope="portal-code")
@public
def code() -> str | Response | tuple[str, int]:
    """Step 2: the code received by SMS."""
    pending = session.get(PENDING) or {}
    if pending.get("t") != current_tenant().slug or not pending.get("n"):
        return redirect(url_for("portal.sign_in"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            member, epoch = services.sign_in_with_code(
                db.session, current_tenant(), pending["n"], form.code.data, get_remote_address()
            )
        except services.SignInRefused as refused:
            db.session.commit()  # the try is counted
            form.code.errors.append(refused.message)
            return render_template("portal/code.html", form=form, number=pending["n"]), 401
        return _start_and_go(member, epoch)
    status = 422 if form.errors else 200
    return render_template("portal/code.html", form=form, number=pending["n"]), status


@bp.post("/deconnexion")
@public
def sign_out() -> Response:
    if auth.signed_in():
        member = current_member()
        from app.audit.services import record_event

        record_event(db.session, member_actor(member), "portal.signed_out", target_type="member",
                     target_id=member.number, tenant_slug=current_tenant().slug)  # fmt: skip
    auth.end()
    return redirect(url_for("portal.sign_in"), 303)


# --- pages -------------------------------------------------------------------------------------------------


@bp.get("/")
@member_required
def home() -> str:
    """Today's rights in one sentence, what is owed, and the messages from the mutual."""
    from notifications.services import mark_read, portal_messages

    member = current_member()
    _read(member, "home")
    answer = coverage_rights.rights_on(db.session, current_tenant(), member)
    owed = None
    if services.sees_household(db.session, member):
        owed = contributions.arrears(db.session, member, clock.today()).total
    messages = portal_messages(db.session, member, limit=5)
    unread = {m.public_id for m in messages if m.read_at is None}
    mark_read(db.session, member, unread)  # shown: read (the page marks them new this once)
    return render_template(
        "portal/home.html", member=member, rights=answer, owed=owed, messages=messages, unread=unread,
        **_helpers(),
    )  # fmt: skip


@bp.get("/droits")
@member_required
def rights() -> str:
    """Covered or not today, why in plain words, and what is left of the ceilings — for each person the
    member may see."""
    member = current_member()
    people = services.visible_people(db.session, member)
    answers = []
    for person in people:
        _read(person, "rights")
        answers.append(coverage_rights.rights_on(db.session, current_tenant(), person))
    return render_template("portal/rights.html", member=member, answers=answers, **_helpers())


@bp.get("/foyer")
@member_required
def household() -> str:
    member = current_member()
    people = services.visible_people(db.session, member)
    for person in people:
        _read(person, "household")
    share = ShareForm(share=services.household_shared(db.session, member)) if member.is_principal else None
    principal = member.principal or member
    return render_template(
        "portal/household.html", member=member, people=people, principal=principal, share_form=share,
        age_on=services.age_on, today=clock.today(), **_helpers(),
    )  # fmt: skip


@bp.post("/foyer/partage")
@member_required
def household_sharing() -> Response:
    member = current_member()
    form = ShareForm()
    if not member.is_principal:
        abort(404)
    if form.validate_on_submit():
        services.set_household_sharing(db.session, current_tenant(), member_actor(member), member,
                                       bool(form.share.data))  # fmt: skip
    return redirect(url_for("portal.household"), 303)


def _card_link(token: str) -> str:
    return url_for("member_cards.verify", token=token, _external=True)


@bp.get("/carte")
@member_required
def card() -> str:
    """The member's card: its QR code (what a care provider scans) and the PDF to print."""
    import segno

    member = current_member()
    _read(member, "card")
    qr = None
    if member.status in cards.CARD_STATUSES:
        face = cards.card_faces(db.session, current_tenant(), [member], link=_card_link,
                                actor=member_actor(member))[0]  # fmt: skip
        qr = segno.make(face.link, error="m").svg_data_uri(scale=3, border=2)
    household = [p for p in services.visible_people(db.session, member) if p.status in cards.CARD_STATUSES]
    return render_template(
        "portal/card.html", member=member, qr=qr, household_cards=len(household) > 1, **_helpers()
    )


@bp.get("/carte.pdf")
@member_required
def card_pdf() -> Response:
    member = current_member()
    try:
        data = cards.print_card(db.session, current_tenant(), member_actor(member), member, link=_card_link)
    except NotFound:
        abort(404)
    return _pdf(data, f"carte-{member.number}.pdf")


@bp.get("/cartes-foyer.pdf")
@member_required
def household_cards_pdf() -> Response:
    member = current_member()
    if not services.sees_household(db.session, member):
        abort(404)
    try:
        data = cards.print_household(db.session, current_tenant(), member_actor(member), member,
                                     link=_card_link)  # fmt: skip
    except NotFound:
        abort(404)
    return _pdf(data, f"cartes-foyer-{member.number}.pdf")


@bp.get("/cotisations", endpoint="contributions")
@member_required
def contributions_page() -> str:
    """Dues, payments and receipts of the household, and "Payer maintenant"."""
    member = current_member()
    if not services.sees_household(db.session, member):
        return render_template("portal/contributions.html", member=member, account=None, **_helpers())
    principal = member.principal or member
    _read(principal, "contributions")
    account = contributions.household_account(db.session, principal)
    open_dues = [d for d in account.dues if d.outstanding > 0]
    return render_template(
        "portal/contributions.html", member=member, account=account, open_dues=open_dues,
        owed=sum(d.outstanding for d in open_dues), providers=registry.enabled(current_tenant()),
        provider_labels=registry.LABELS, period_label=contributions.period_label,
        method_labels=contributions.METHOD_LABELS, error=None, **_helpers(),
    )  # fmt: skip


@bp.post("/cotisations/payer")
@member_required
def pay() -> Response | tuple[str, int]:
    """Start an online payment of everything owed now; the provider's page (the Sandbox's "phone" in the
    embedded default) comes next, then ``payment_return``."""
    member = current_member()
    if not services.sees_household(db.session, member) or not EmptyForm().validate_on_submit():
        abort(404)
    principal = member.principal or member
    owed = sum(d.outstanding for d in contributions.household_account(db.session, principal).dues)
    name = request.form.get("provider") or registry.DEFAULT
    if name not in registry.enabled(current_tenant()) or owed <= 0:
        return redirect(url_for("portal.contributions"), 303)
    try:
        payment = online.start_payment(
            db.session, current_tenant(), member_actor(member), principal, owed, name,
            return_url=url_for("portal.payment_return", public_id="__ID__", _external=True),
        )  # fmt: skip
    except (DomainError, FieldError) as refused:
        db.session.rollback()
        g.mbolo_rollback = True
        return render_template(
            "portal/message.html", title=_l("Paiement impossible"), message=str(refused)
        ), 502
    _fix_return(payment)
    return redirect(
        payment.redirect_url or url_for("portal.payment_return", public_id=payment.public_id), 303
    )


def _fix_return(payment: OnlinePayment) -> None:
    """The return URL names the payment, known only once it exists (the Sandbox's ledger keeps it)."""
    from payments.models import SandboxCharge

    charge = db.session.scalar(
        select(SandboxCharge).where(SandboxCharge.payment_public_id == payment.public_id)
    )
    if charge is not None:
        charge.return_url = url_for("portal.payment_return", public_id=payment.public_id, _external=True)


def _household_owns(member_id: int | None) -> bool:
    """Whether a payment (or receipt) of ``member_id`` is the signed-in member's to see: their household's
    (payments are the adhérent's) and the household is theirs to see."""
    member = current_member()
    principal = member.principal or member
    return member_id == principal.id and services.sees_household(db.session, member)


def _own_online(public_id: str) -> OnlinePayment:
    payment = online.get_online(db.session, public_id)
    if payment is None or not _household_owns(payment.member_id):
        abort(404)
    return payment


@bp.get("/cotisations/paiement/<public_id>")
@member_required
def payment_return(public_id: str) -> str:
    """Back from the provider: only the status the mutual has processed counts (never the redirect)."""
    payment = _own_online(public_id)
    receipt = (
        db.session.get(Payment, payment.contribution_payment_id) if payment.contribution_payment_id else None
    )
    return render_template(
        "portal/payment_return.html", member=current_member(), payment=payment, receipt=receipt,
        labels=online.STATUS_LABELS, **_helpers(),
    )  # fmt: skip


@bp.get("/cotisations/recu/<public_id>.pdf")
@member_required
def receipt_pdf(public_id: str) -> Response:
    """A receipt of the household (counter or online payment), as a PDF."""
    member = current_member()
    received = db.session.scalar(select(Payment).where(Payment.public_id == public_id))
    if received is None or not _household_owns(received.member_id):
        abort(404)
    data = receipts.print_receipt(db.session, current_tenant(), member_actor(member), received)
    name = re.sub(r"[^A-Za-z0-9-]", "_", received.receipt_number)
    return _pdf(data, f"recu-{name}.pdf")


@bp.get("/dossiers")
@member_required
def dossiers() -> str:
    member = current_member()
    for person in services.visible_people(db.session, member):  # care of each person shown: each read
        _read(person, "dossiers")
    found = member_dossiers(db.session, member)
    if not services.sees_household(db.session, member):
        # An adult ayant droit the household is not shared with sees their own dossiers only. The care
        # module's lines name the person first ("<name> · …"); a member id on them would be sturdier.
        mine = f"{member.full_name} ·"
        found = [d for d in found if str(getattr(d, "detail", "")).startswith(mine)]
    return render_template("portal/dossiers.html", member=member, dossiers=found, **_helpers())


def _preferences_form(member: Any) -> Any:
    try:
        from notifications.forms import PreferencesForm
        from notifications.services import get_preferences
    except ImportError:  # the notifications module's form is not there (yet)
        return None
    if request.method == "POST":
        return PreferencesForm()
    return PreferencesForm(obj=get_preferences(db.session, member))


@bp.route("/mes-donnees", methods=["GET", "POST"])
@member_required
def data() -> str | Response | tuple[str, int]:
    """Consent, the data held (PDF, JSON), how the mutual reaches the member, password and sessions."""
    member = current_member()
    _read(member, "data")
    preferences = _preferences_form(member)
    status = 200
    if preferences is not None and request.method == "POST" and request.form.get("form") == "preferences":
        from notifications.services import set_preferences

        if preferences.validate_on_submit():
            fields = preferences.data_for_service()
            try:
                set_preferences(db.session, current_tenant(), member_actor(member), member, **fields)
            except FieldError as error:
                show_error(preferences, error)
                status = 422
            else:
                from flask import flash

                flash(_("Vos préférences sont enregistrées."), "success")
                return redirect(url_for("portal.data"), 303)
        else:
            status = 422
    return _data_page(member, preferences=preferences, password_form=PasswordForm(formdata=None)), status


def _data_page(member: Any, **forms: Any) -> str:
    consent = members.current_consent(db.session, member)
    access = services.access_of(db.session, member)
    if forms.get("preferences", False) is False:
        forms["preferences"] = _preferences_form(member)
    return render_template(
        "portal/data.html", member=member, consent=consent, access=access, **forms, **_helpers()
    )


@bp.post("/mes-donnees/mot-de-passe")
@member_required
def password() -> Response | tuple[str, int]:
    member = current_member()
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            epoch = services.set_password(db.session, current_tenant(), member_actor(member), member,
                                          form.password.data, form.confirm.data)  # fmt: skip
        except FieldError as error:
            show_error(form, error)
        else:
            auth.start(member, epoch)  # this session stays, the others end
            from flask import flash

            flash(_("Votre mot de passe est enregistré. Le code par SMS reste possible."), "success")
            return redirect(url_for("portal.data"), 303)
    return _data_page(member, password_form=form), 422


@bp.post("/mes-donnees/sessions")
@member_required
def sign_out_everywhere() -> Response:
    member = current_member()
    if EmptyForm().validate_on_submit():
        services.sign_out_everywhere(db.session, current_tenant(), member_actor(member), member)
    auth.end()
    return redirect(url_for("portal.sign_in"), 303)


@bp.get("/mes-donnees.<fmt>")
@member_required
def data_export(fmt: str) -> Response:
    """ "Mes données": everything held about the member (their household if adhérent), PDF or JSON."""
    if fmt not in ("pdf", "json"):
        abort(404)
    member = current_member()
    content = exports.export_member_data(db.session, current_tenant(), member_actor(member), member, fmt=fmt)
    if fmt == "pdf":
        return _pdf(exports.render_pdf(content), f"mes-donnees-{member.number}.pdf", download=True)
    response = Response(json.dumps(content, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="mes-donnees-{member.number}.json"'
    return response
