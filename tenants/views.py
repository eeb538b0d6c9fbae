"""The ministry's tenant screens (``/admin/mutuelles``) and each tenant's own site (``/<slug>/``)."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.errors import DomainError
from app.extensions import db
from app.platform import owner_engine
from app.security import stepup
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from notifications import services as notifications
from tenants import services
from tenants.forms import MessageForm, TenantForm, TenantStatusForm
from tenants.models import TenantStatus
from tenants.resolution import current_tenant, install_resolution

admin_bp = Blueprint("tenants", __name__, template_folder="templates")
site_bp = Blueprint("tenant_site", __name__, template_folder="templates")
install_resolution(site_bp)


@admin_bp.get("/")
@requires("tenants.read")
def index() -> str:
    """The mutuals in the signed-in person's reach, with their status."""
    return render_template(
        "tenants/index.html",
        tenants=services.list_tenants(db.session, current_actor()),
        status_form=TenantStatusForm(),
    )


@admin_bp.route("/nouvelle", methods=["GET", "POST"])
@requires("tenants.create")
def create() -> str | Response:
    """Create a mutual under a fédération: its schema and role are provisioned at once."""
    form = TenantForm()
    form.sector.choices = [SelectChoice(code, str(label)) for code, label in services.SECTORS.items()]
    form.federation.choices = [
        SelectChoice(n.code, f"{n.name} ({n.code})")
        for n in services.list_free_federations(db.session, current_actor())
    ]
    if form.validate_on_submit():
        try:
            services.check_new_tenant(
                db.session, current_actor(), slug=form.slug.data, name=form.name.data,
                sector=form.sector.data, federation_code=form.federation.data,
            )  # fmt: skip
            stepup.authorize(
                db.session, current_actor(),
                stepup.Operation(
                    "tenants.create",
                    {"slug": form.slug.data, "name": form.name.data, "sector": form.sector.data,
                     "federation": form.federation.data},
                    ((_l("Mutuelle"), f"{form.name.data} ({form.slug.data})"),
                     (_l("Secteur"), form.sector.data), (_l("Fédération"), form.federation.data)),
                ),
            )  # fmt: skip
            ref = services.create_tenant(
                owner_engine(),
                current_actor(),
                slug=form.slug.data,
                name=form.name.data,
                sector=form.sector.data,
                federation_code=form.federation.data,
            )
            return redirect(url_for("tenant_site.home", tenant_slug=ref.slug))
        except DomainError as error:
            show_error(form, error)
    return render_template("tenants/create.html", form=form)


@admin_bp.post("/<slug>/statut")
@requires("tenants.manage")
def change_status(slug: str) -> str | Response:
    """Suspend, reactivate or archive a mutual (its data stay)."""
    tenant = services.get_tenant(db.session, slug)
    form = TenantStatusForm()
    if form.validate_on_submit() and form.status.data in TenantStatus.__members__:
        try:
            stepup.authorize(
                db.session, current_actor(),
                stepup.Operation(
                    "tenants.status",
                    {"tenant": slug, "status": form.status.data, "reason": form.reason.data},
                    ((_l("Mutuelle"), f"{tenant.name} ({slug})"), (_l("Nouvel état"), form.status.data),
                     (_l("Motif"), form.reason.data)),
                ),
            )  # fmt: skip
            services.change_status(
                db.session, current_actor(), tenant, TenantStatus(form.status.data), form.reason.data
            )
            return redirect(url_for("tenants.index"))
        except DomainError as error:
            show_error(form, error)
    return render_template("tenants/status.html", tenant=tenant, form=form), 422


@site_bp.get("/")
@requires("tenants.read")
def home() -> str:
    """The mutual's home: its fédération, its modules and a message to send."""
    return _home_page(MessageForm())


@site_bp.post("/messages")
@requires("notifications.send")
def send_message() -> str | Response:
    """Queue an SMS or e-mail in this mutual's outbox; a worker delivers it after the commit."""
    current_actor().require("notifications.send", g.tenant_record.federation.path)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            notifications.queue_message(
                db.session,
                current_tenant(),
                current_actor(),
                channel=form.channel.data,
                recipient=form.recipient.data,
                body=form.body.data,
            )
            return redirect(url_for("tenant_site.home"))
        except DomainError as error:
            show_error(form, error)
    return _home_page(form)


def _home_page(form: MessageForm) -> str:
    actor, federation_path = current_actor(), g.tenant_record.federation.path
    actor.require("tenants.read", federation_path)
    return render_template(
        "tenants/home.html",
        tenant=g.tenant_record,
        form=form,
        can_send=actor.can("notifications.send", federation_path),
        title=_("Mutuelle"),
    )
