"""The ministry's tenant screens (``/admin/mutuelles``) and each tenant's own site (``/<slug>/``)."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.errors import DomainError
from app.extensions import db
from app.platform import owner_engine
from app.security.actor import Actor, actor_for
from app.security.permissions import requires
from app.web.forms import show_error
from notifications import services as notifications
from tenants import services
from tenants.forms import MessageForm, TenantForm, TenantStatusForm
from tenants.models import TenantStatus
from tenants.resolution import current_tenant, install_resolution

admin_bp = Blueprint("tenants", __name__, template_folder="templates")
site_bp = Blueprint("tenant_site", __name__, template_folder="templates")
install_resolution(site_bp)


def _actor() -> Actor:
    return actor_for(current_user, request.remote_addr)


@admin_bp.get("/")
@requires("tenants.read")
def index() -> str:
    """The mutuals in the signed-in person's reach, with their status."""
    return render_template(
        "tenants/index.html",
        tenants=services.list_tenants(db.session, _actor()),
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
        for n in services.list_free_federations(db.session, _actor())
    ]
    if form.validate_on_submit():
        try:
            ref = services.create_tenant(
                owner_engine(),
                _actor(),
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
            services.change_status(
                db.session, _actor(), tenant, TenantStatus(form.status.data), form.reason.data
            )
            return redirect(url_for("tenants.index"))
        except DomainError as error:
            show_error(form, error)
    return render_template("tenants/status.html", tenant=tenant, form=form), 422


@site_bp.route("/", methods=["GET", "POST"])
@requires("tenants.read")
def home() -> str | Response:
    """The mutual's home: its fédération, its counts and its message outbox."""
    tenant, actor = current_tenant(), _actor()
    actor.require("tenants.read", g.tenant_record.federation.path)
    form = MessageForm()
    if form.validate_on_submit() and actor.can("notifications.send"):
        try:
            notifications.queue_message(
                db.session,
                tenant,
                actor,
                channel=form.channel.data,
                recipient=form.recipient.data,
                body=form.body.data,
            )
            return redirect(url_for("tenant_site.home"))
        except DomainError as error:
            show_error(form, error)
    return render_template(
        "tenants/home.html",
        tenant=g.tenant_record,
        form=form,
        messages=notifications.list_messages(db.session, tenant),
        title=_("Mutuelle"),
    )
