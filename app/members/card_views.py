"""Cards, photos, consent scans and "my data" exports of a mutual's members (``/<tenant>/…``), and the
public card check a care provider reaches by scanning a card's QR code (``/<tenant>/verify/…``)."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select

from app.errors import DomainError, FieldError, NotFound
from app.extensions import db, limiter
from app.members import cards, exports, photos, services
from app.members.models import Consent, Member
from app.security.actor import Actor
from app.security.permissions import current_actor, public, requires
from app.web.forms import show_error
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("member_cards", __name__, template_folder="templates")
install_resolution(bp)
PDF = "application/pdf"


def _verify_rate() -> str:
    return current_app.config.get("MBOLO_VERIFY_RATE", "30 per minute")


class PhotoForm(FlaskForm):
    photo = FileField(
        _l("Photo"),
        validators=[FileRequired(_l("Choisissez une photo."))],
        description=_l("JPEG, PNG ou WebP, 6 Mo au plus ; visage de face, bien éclairé."),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},  # a phone offers its camera or gallery
    )


class ScanForm(FlaskForm):
    scan = FileField(
        _l("Formulaire de consentement signé"),
        validators=[FileRequired(_l("Choisissez le fichier numérisé."))],
        description=_l(
            "PDF de toutes les pages, ou photo lisible du formulaire (JPEG, PNG, WebP) ; 9 Mo au plus."
        ),
        render_kw={"accept": "application/pdf,image/jpeg,image/png,image/webp"},
    )


def _member(public_id: str, permission: str = "members.read") -> Member:
    return services.get_member(
        db.session, current_tenant(), current_actor(), public_id, permission=permission
    )


def _link(token: str) -> str:
    return url_for("member_cards.verify", token=token, _external=True)


def _pdf(data: bytes, name: str, *, download: bool = False) -> Response:
    response = Response(data, mimetype=PDF)
    disposition = "attachment" if download else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    return response


def _private_file(path: Path, mimetype: str, *, download_name: str | None = None) -> Response:
    response = send_file(path, mimetype=mimetype, as_attachment=download_name is not None,
                         download_name=download_name, max_age=0, conditional=False)  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


# --- public card check -------------------------------------------------------------------------------------


@bp.get("/verify/cle")
@public
def jwks() -> Response:
    """The mutual's card keys (JWKS) for providers' apps that check cards offline."""
    response = Response(json.dumps(cards.jwks(db.session)), mimetype="application/jwk-set+json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/verify/<string(maxlength=600):token>")
@limiter.limit(_verify_rate)
@public
def verify(token: str) -> Response:
    """What a provider sees after scanning a card: valid or not, the name and the photo — nothing else."""
    anonymous = Actor(account_id=None, label="anonyme", ip_address=request.remote_addr)
    result = cards.verify_card(db.session, current_tenant(), anonymous, token)
    member = result.member
    response = Response(
        render_template(
            "members/cards/verify.html",
            result=result,
            name=member.full_name if member is not None and result.outcome != "invalid" else None,
            photo=result.valid and member is not None and photos.photo_file(current_tenant(), member),
            token=token,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/verify/<string(maxlength=600):token>/photo.jpg")
@limiter.limit(_verify_rate)
@public
def verify_photo(token: str) -> Response:
    """The photo of a valid card's holder (for the verify page only)."""
    result = cards.check_card(db.session, current_tenant(), token)
    path = photos.photo_file(current_tenant(), result.member) if result.valid and result.member else None
    if path is None:
        raise NotFound()
    return _private_file(path, "image/jpeg")


# --- cards -------------------------------------------------------------------------------------------------


@bp.get("/adherents/<public_id>/carte.pdf")
@requires("members.read")
def card(public_id: str) -> Response:
    """One person's card, card-sized (a card printer, or print and cut)."""
    member = _member(public_id)
    data = cards.print_card(db.session, current_tenant(), current_actor(), member, link=_link)
    return _pdf(data, f"carte-{member.number}.pdf")


@bp.get("/adherents/<public_id>/cartes-foyer.pdf")
@requires("members.read")
def household_cards(public_id: str) -> Response:
    """The cards of the whole household on one A4 sheet."""
    member = _member(public_id)
    data = cards.print_household(db.session, current_tenant(), current_actor(), member, link=_link)
    return _pdf(data, f"cartes-foyer-{(member.principal or member).number}.pdf")


@bp.get("/adherents/cartes")
@requires("members.read")
def print_cards() -> str:
    """The associations in reach, with their card sheets to print (200 cards per PDF)."""
    batches = cards.batches(db.session, current_tenant(), current_actor())
    return render_template("members/cards/print.html", batches=batches, title=_("Imprimer les cartes"))


@bp.get("/adherents/cartes.pdf")
@requires("members.read")
def association_cards() -> Response:
    """An association's cards on A4 sheets (10 per page), ``page`` by ``page`` of 200."""
    association = request.args.get("association", type=int)
    page = request.args.get("page", default=1, type=int)
    if association is None or page is None:
        raise NotFound()
    try:
        data = cards.print_association(
            db.session, current_tenant(), current_actor(), association, page, link=_link
        )
    except FieldError as error:  # not an association of this mutual
        raise NotFound() from error
    return _pdf(data, f"cartes-{association}-{page}.pdf")


# --- photos ------------------------------------------------------------------------------------------------


@bp.route("/adherents/<public_id>/photo", methods=["GET", "POST"])
@requires("members.manage")
def photo(public_id: str) -> str | Response | tuple[str, int]:
    """Take or upload the photo (a phone's camera opens from the file field)."""
    member = _member(public_id, "members.manage")
    form = PhotoForm()
    if form.validate_on_submit():
        try:
            photos.store_photo(db.session, current_tenant(), current_actor(), member, form.photo.data)
            return redirect(url_for("members.detail", public_id=member.public_id), 303)
        except DomainError as error:
            show_error(form, error)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("members/cards/photo.html", form=form, member=member, title=_("Photo")), status


@bp.get("/adherents/<public_id>/photo.jpg")
@requires("members.read")
def photo_image(public_id: str) -> Response:
    path = photos.photo_file(current_tenant(), _member(public_id))
    if path is None:
        raise NotFound()
    return _private_file(path, "image/jpeg")


# --- consent scans -----------------------------------------------------------------------------------------


def _consent(member: Member, consent_public_id: str | None) -> Consent:
    principal = member.principal or member
    query = select(Consent).where(Consent.member_id == principal.id)
    if consent_public_id:
        found = db.session.scalar(query.where(Consent.public_id == consent_public_id))
    else:
        found = services.current_consent(db.session, member)
    if found is None:
        raise NotFound(_l("Consentement introuvable."))
    return found


@bp.route("/adherents/<public_id>/consentement/scan", methods=["GET", "POST"])
@requires("members.manage")
def consent_scan(public_id: str) -> str | Response | tuple[str, int]:
    """Attach the scanned signed form to the current consent (or to ``?consentement=<id>``)."""
    member = _member(public_id, "members.manage")
    consent = _consent(member, request.args.get("consentement"))
    form = ScanForm()
    if form.validate_on_submit():
        try:
            photos.store_consent_scan(db.session, current_tenant(), current_actor(), consent, form.scan.data)
            return redirect(url_for("members.detail", public_id=member.public_id), 303)
        except DomainError as error:
            show_error(form, error)
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "members/cards/scan.html", form=form, member=member, consent=consent, title=_("Consentement")
    ), status


@bp.get("/adherents/<public_id>/consentement/<consent_public_id>/scan")
@requires("members.read")
def consent_scan_file(public_id: str, consent_public_id: str) -> Response:
    member = _member(public_id)
    consent = _consent(member, consent_public_id)
    path = photos.scan_file(current_tenant(), consent)
    if path is None:
        raise NotFound()
    if path.suffix == ".pdf":  # a PDF from outside is downloaded, never rendered inside our site
        return _private_file(path, PDF, download_name=f"consentement-{member.number}.pdf")
    return _private_file(path, "image/jpeg")


# --- my data -----------------------------------------------------------------------------------------------


@bp.get("/adherents/<public_id>/mes-donnees.json")
@requires("members.read")
def my_data_json(public_id: str) -> Response:
    """The right of access, machine-readable."""
    member = _member(public_id)
    data = exports.export_member_data(db.session, current_tenant(), current_actor(), member, fmt="json")
    response = Response(json.dumps(data, ensure_ascii=False, indent=1), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="mes-donnees-{member.number}.json"'
    return response


@bp.get("/adherents/<public_id>/mes-donnees.pdf")
@requires("members.read")
def my_data_pdf(public_id: str) -> Response:
    """The right of access, printable for the member."""
    member = _member(public_id)
    data = exports.export_member_data(db.session, current_tenant(), current_actor(), member, fmt="pdf")
    return _pdf(exports.render_pdf(data), f"mes-donnees-{member.number}.pdf", download=True)
