"""Administration of staff security: accounts (``/admin/comptes``), profiles (``/admin/profils``) and the
security screen (``/admin/securite``). Critical functions pass through ``stepup.authorize``."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

from app.errors import DomainError
from app.extensions import db
from app.security import accounts, events, profiles, stepup
from app.security.actor import Actor
from app.security.forms import (
    AcknowledgeForm,
    EditProfileForm,
    GrantForm,
    InviteForm,
    PlainForm,
    ProfileForm,
    ReasonForm,
    SecurityFilterForm,
)
from app.security.models import Account, AccountStatus
from app.security.permissions import PERMISSIONS, current_actor, requires
from app.web.forms import show_error
from hierarchy.models import Node, NodeStatus

accounts_bp = Blueprint("accounts", __name__)
#: No preselected node or profile: granting must be a deliberate choice.
_CHOOSE = SelectChoice("", "—")
profiles_bp = Blueprint("profiles", __name__)
security_bp = Blueprint("security_admin", __name__)


# --- choices -----------------------------------------------------------------------------------------------


def _node_choices(actor: Actor, permission: str) -> list[SelectChoice]:
    query = select(Node).where(Node.status == NodeStatus.active).order_by(Node.path)
    roots = actor.root_paths(permission)
    if roots is not None:
        query = query.where(or_(*(Node.path.startswith(r) for r in roots))) if roots else query.where(False)
    return [_CHOOSE] + [SelectChoice(n.code, f"{n.name} ({n.code})") for n in db.session.scalars(query)]


def _profile_choices() -> list[SelectChoice]:
    return [_CHOOSE] + [SelectChoice(p.code, p.name) for p in profiles.list_profiles(db.session)]


def _node(code: str) -> Node:
    from hierarchy.services import find_node_by_code

    found = find_node_by_code(db.session, code)
    if found is None:
        raise DomainError(_l("Nœud introuvable."))
    return found


def _grant_operation(
    name: str, account_label: str, account_key: str, node: Node, profile: object
) -> stepup.Operation:
    return stepup.Operation(
        name,
        {"account": account_key, "node": node.code, "profile": profile.code},  # type: ignore[attr-defined]
        (
            (_l("Compte"), account_label),
            (_l("Nœud"), f"{node.name} ({node.code})"),
            (_l("Profil"), profile.name),  # type: ignore[attr-defined]
        ),
    )


# --- accounts ----------------------------------------------------------------------------------------------


@accounts_bp.get("/")
@requires("accounts.read")
def index() -> str:
    search = request.args.get("q", "")
    return render_template(
        "security/accounts.html",
        accounts=accounts.list_accounts(db.session, current_actor(), search),
        q=search,
        can_invite=current_actor().can("accounts.manage"),
        title=_l("Comptes"),
    )


@accounts_bp.route("/inviter", methods=["GET", "POST"])
@requires("accounts.manage")
def invite() -> str | BaseResponse:
    """Create an account with its first profile; the person gets a signed link to choose a password."""
    actor = current_actor()
    form = InviteForm()
    form.node.choices = _node_choices(actor, "grants.manage")
    form.profile.choices = _profile_choices()
    if form.validate_on_submit():
        try:
            node, profile = _node(form.node.data), profiles.get_profile(db.session, form.profile.data)
            email, phone = accounts.check_invitation(
                db.session, actor, full_name=form.full_name.data, email=form.email.data,
                phone=form.phone.data, node=node, profile=profile,
            )  # fmt: skip
            who = email or phone or ""
            stepup.authorize(db.session, actor, _grant_operation("accounts.invite", who, who, node, profile))
            link = accounts.invite(
                db.session, actor, full_name=form.full_name.data, email=form.email.data,
                phone=form.phone.data, locale=form.locale.data, node=node, profile=profile,
            )  # fmt: skip
            return _show_link(link, "security.accept_invitation")
        except DomainError as error:
            show_error(form, error)
    return render_template("security/invite.html", form=form, title=_l("Inviter une personne"))


def _show_link(link: accounts.IssuedLink, endpoint: str) -> str:
    url = url_for(endpoint, token=link.token, _external=True)
    return render_template("security/link_issued.html", link=link, url=url, title=_l("Lien à transmettre"))


@accounts_bp.get("/<public_id>")
@requires("accounts.read")
def detail(public_id: str) -> str:
    actor = current_actor()
    account = accounts.get_account(db.session, actor, public_id)
    return _detail_page(account)


def _detail_page(
    account: Account, grant_form: GrantForm | None = None, reason_form: ReasonForm | None = None
) -> str:
    actor = current_actor()
    if grant_form is None:
        grant_form = GrantForm()
    grant_form.node.choices = _node_choices(actor, "grants.manage")
    grant_form.profile.choices = _profile_choices()
    return render_template(
        "security/account_detail.html",
        account=account,
        grant_form=grant_form,
        reason_form=reason_form or ReasonForm(),
        plain=PlainForm(),
        can_manage=accounts.can_manage(actor, account),
        can_grant=actor.can("grants.manage"),
        can_reset_mfa=actor.can("mfa.reset") and accounts.can_manage(actor, account, "mfa.reset"),
        statuses=AccountStatus,
        title=account.full_name,
    )


@accounts_bp.post("/<public_id>/attributions")
@requires("grants.manage")
def add_grant(public_id: str) -> str | BaseResponse:
    actor = current_actor()
    account = accounts.get_account(db.session, actor, public_id)
    form = GrantForm()
    form.node.choices = _node_choices(actor, "grants.manage")
    form.profile.choices = _profile_choices()
    if form.validate_on_submit():
        try:
            node, profile = _node(form.node.data), profiles.get_profile(db.session, form.profile.data)
            accounts.check_grant_allowed(actor, account, node, profile)
            label = account.login_label
            stepup.authorize(
                db.session, actor, _grant_operation("grants.add", label, account.public_id, node, profile)
            )
            accounts.add_grant(db.session, actor, account, node, profile)
            flash(_l("Profil attribué."), "info")
            return redirect(url_for("accounts.detail", public_id=public_id))
        except DomainError as error:
            show_error(form, error)
    return _detail_page(account, grant_form=form)


@accounts_bp.post("/<public_id>/attributions/<int:grant_id>/retirer")
@requires("grants.manage")
def revoke_grant(public_id: str, grant_id: int) -> BaseResponse:
    actor = current_actor()
    account = accounts.get_account(db.session, actor, public_id)
    grant = accounts.get_grant(db.session, grant_id)
    if grant.account_id != account.id or not PlainForm().validate_on_submit():
        return redirect(url_for("accounts.detail", public_id=public_id))
    label = account.login_label
    stepup.authorize(
        db.session,
        actor,
        _grant_operation("grants.revoke", label, account.public_id, grant.node, grant.profile),
    )
    accounts.revoke_grant(db.session, actor, grant)
    flash(_l("Profil retiré."), "info")
    return redirect(url_for("accounts.detail", public_id=public_id))


@accounts_bp.post("/<public_id>/statut")
@requires("accounts.manage")
def change_status(public_id: str) -> str | BaseResponse:
    actor = current_actor()
    account = accounts.get_account(db.session, actor, public_id)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            disable = request.form.get("action") == "disable"
            accounts.set_disabled(db.session, actor, account, disabled=disable, reason=form.reason.data)
            flash(_l("Compte désactivé.") if disable else _l("Compte réactivé."), "info")
            return redirect(url_for("accounts.detail", public_id=public_id))
        except DomainError as error:
            show_error(form, error)
    return _detail_page(account, reason_form=form)


@accounts_bp.post("/<public_id>/debloquer")
@requires("accounts.manage")
def unlock(public_id: str) -> BaseResponse:
    actor = current_actor()
    account = accounts.get_account(db.session, actor, public_id)
    if PlainForm().validate_on_submit():
        accounts.unlock(db.session, actor, account)
        flash(_l("Compte débloqué."), "info")
    return redirect(url_for("accounts.detail", public_id=public_id))


@accounts_bp.post("/<public_id>/lien")
@requires("accounts.manage")
def issue_link(public_id: str) -> str | BaseResponse:
    """A new invitation link (invited account) or a password-reset link (active account)."""
    actor = current_actor()
    account = accounts.get_account(db.session, actor, public_id)
    if not PlainForm().validate_on_submit():
        return redirect(url_for("accounts.detail", public_id=public_id))
    try:
        if account.status is AccountStatus.invited:
            return _show_link(
                accounts.reissue_invitation(db.session, actor, account), "security.accept_invitation"
            )
        return _show_link(
            accounts.issue_password_reset(db.session, actor, account), "security.reset_password"
        )
    except DomainError as error:
        flash(str(error.message), "warning")
        return redirect(url_for("accounts.detail", public_id=public_id))


@accounts_bp.post("/<public_id>/double-authentification")
@requires("mfa.reset")
def reset_mfa(public_id: str) -> BaseResponse:
    """Remove a colleague's second factor (lost phone): critical, step-up."""
    actor = current_actor()
    account = accounts.get_account(db.session, actor, public_id)
    if PlainForm().validate_on_submit():
        stepup.authorize(
            db.session, actor,
            stepup.Operation(
                "mfa.reset", {"account": account.public_id}, ((_l("Compte"), account.login_label),)
            ),
        )  # fmt: skip
        accounts.reset_second_factor(db.session, actor, account)
        flash(_l("Double authentification réinitialisée : la personne devra l'activer de nouveau."), "info")
    return redirect(url_for("accounts.detail", public_id=public_id))


# --- profiles ----------------------------------------------------------------------------------------------


def _permission_choices() -> list[SelectChoice]:
    return [
        SelectChoice(code, f"{p.label} ({code})" + (" ★" if p.critical else ""))
        for code, p in PERMISSIONS.items()
    ]


@profiles_bp.get("/")
@requires("profiles.manage")
def profile_index() -> str:
    return render_template(
        "security/profiles.html",
        profiles=profiles.list_profiles(db.session),
        counts=profiles.grant_counts(db.session),
        permissions=PERMISSIONS,
        plain=PlainForm(),
        title=_l("Profils"),
    )


def _profile_operation(name: str, code: str, form: ProfileForm) -> stepup.Operation:
    chosen = sorted(form.permissions.data or [])
    return stepup.Operation(
        name,
        {"profile": code, "name": form.name.data, "permissions": chosen},
        ((_l("Profil"), f"{form.name.data} ({code})"), (_l("Permissions"), ", ".join(chosen))),
    )


@profiles_bp.route("/nouveau", methods=["GET", "POST"])
@requires("profiles.manage")
def profile_create() -> str | BaseResponse:
    actor = current_actor()
    form = ProfileForm()
    form.permissions.choices = _permission_choices()
    if form.validate_on_submit():
        try:
            code, _chosen = profiles.check_new_profile(
                db.session, code=form.code.data, permissions=form.permissions.data or []
            )
            stepup.authorize(db.session, actor, _profile_operation("profiles.create", code, form))
            profiles.create_profile(
                db.session, actor, code=code, name=form.name.data, description=form.description.data,
                permissions=form.permissions.data or [],
            )  # fmt: skip
            flash(_l("Profil créé."), "info")
            return redirect(url_for("profiles.profile_index"))
        except DomainError as error:
            show_error(form, error)
    return render_template("security/profile_form.html", form=form, profile=None, title=_l("Nouveau profil"))


@profiles_bp.route("/<code>", methods=["GET", "POST"])
@requires("profiles.manage")
def profile_edit(code: str) -> str | BaseResponse:
    actor = current_actor()
    profile = profiles.get_profile(db.session, code)
    form = EditProfileForm(
        data={
            "name": profile.name,
            "description": profile.description,
            "permissions": sorted(profile.permissions),
        }
    )
    form.permissions.choices = _permission_choices()
    if form.validate_on_submit():
        try:
            profiles.checked_permissions(form.permissions.data or [])
            stepup.authorize(db.session, actor, _profile_operation("profiles.update", code, form))
            profiles.update_profile(
                db.session, actor, profile, name=form.name.data, description=form.description.data,
                permissions=form.permissions.data or [],
            )  # fmt: skip
            flash(_l("Profil modifié : les comptes qui l'ont reçoivent ces droits dès maintenant."), "info")
            return redirect(url_for("profiles.profile_index"))
        except DomainError as error:
            show_error(form, error)
    return render_template("security/profile_form.html", form=form, profile=profile, title=profile.name)


@profiles_bp.post("/<code>/supprimer")
@requires("profiles.manage")
def profile_delete(code: str) -> BaseResponse:
    actor = current_actor()
    profile = profiles.get_profile(db.session, code)
    if PlainForm().validate_on_submit():
        try:
            stepup.authorize(
                db.session, actor,
                stepup.Operation(
                    "profiles.delete", {"profile": code}, ((_l("Profil"), f"{profile.name} ({code})"),)
                ),
            )  # fmt: skip
            profiles.delete_profile(db.session, actor, profile)
            flash(_l("Profil supprimé."), "info")
        except DomainError as error:
            flash(str(error.message), "warning")
    return redirect(url_for("profiles.profile_index"))


# --- security screen ---------------------------------------------------------------------------------------


def _filters(data: object) -> tuple[SecurityFilterForm, events.EventFilter | None]:
    form = SecurityFilterForm(data)  # type: ignore[arg-type]
    form.kind.choices = [SelectChoice("", str(_l("Tous")))] + [
        SelectChoice(k, str(label)) for k, label in events.KINDS.items()
    ]
    try:
        criteria = events.EventFilter(
            kind=form.kind.data if form.kind.data in events.KINDS else "",
            who=form.who.data or "",
            ip=form.ip.data or "",
            since=events.parse_day(form.since.data, "since"),
            until=events.parse_day(form.until.data, "until"),
        )
    except DomainError as error:
        show_error(form, error)
        return form, None
    return form, criteria


@security_bp.get("/")
@requires("security.read")
def security_index() -> str:
    """Security events with filters, and the open alerts."""
    form, criteria = _filters(request.args)
    return render_template(
        "security/security_events.html",
        form=form,
        events=events.search_events(db.session, criteria) if criteria else [],
        alerts=events.open_alerts(db.session),
        ack_form=AcknowledgeForm(),
        plain=PlainForm(),
        can_export=current_actor().can("audit.export"),
        title=_l("Sécurité"),
    )


@security_bp.post("/alertes/<int:alert_id>")
@requires("security.read")
def acknowledge(alert_id: int) -> BaseResponse:
    form = AcknowledgeForm()
    if form.validate_on_submit():
        try:
            events.acknowledge(db.session, current_actor(), alert_id, form.comment.data)
            flash(_l("Alerte acquittée."), "info")
        except DomainError as error:
            flash(str(error.message), "warning")
    else:
        flash(str(_l("Indiquez ce qui a été fait.")), "warning")
    return redirect(url_for("security_admin.security_index"))


@security_bp.post("/export")
@requires("audit.export")
def export() -> BaseResponse:
    """The platform audit log for the filtered period, as CSV: critical (step-up)."""
    actor = current_actor()
    _form, criteria = _filters(request.form)
    if criteria is None:
        return redirect(url_for("security_admin.security_index"))
    stepup.authorize(
        db.session, actor,
        stepup.Operation(
            "audit.export",
            {"kind": criteria.kind, "who": criteria.who, "ip": criteria.ip, "since": str(criteria.since),
             "until": str(criteria.until)},
            ((_l("Période"), f"{criteria.since or '…'} → {criteria.until or '…'}"),
             (_l("Filtre"), " ".join(filter(None, (criteria.kind, criteria.who, criteria.ip))) or "—")),
        ),
    )  # fmt: skip
    rows = events.search_events(db.session, criteria, security_only=False, limit=100_000)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "at", "actor", "action", "target_type", "target_id", "outcome", "ip", "details"])
    for e in rows:
        writer.writerow(
            [e.id, e.at.isoformat(), e.actor_label, e.action, e.target_type, e.target_id,
             getattr(e, "outcome", ""), e.ip_address, e.details]
        )  # fmt: skip
    from app.audit.services import record_event

    record_event(
        db.session, actor, "security.audit_exported", target_type="audit", rows=len(rows), platform=True
    )
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=mbolo-audit.csv"},
    )
