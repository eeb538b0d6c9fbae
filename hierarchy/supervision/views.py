"""Supervision pages (``/supervision``): a node's dashboard read from the snapshots, its alerts, rules and
population target. A supervisor opens exactly the subtree their grants cover (reports.read)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.errors import DomainError, FieldError
from app.extensions import db
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from hierarchy import services as hierarchy
from hierarchy.models import Node
from hierarchy.supervision import (
    alerts,
    dashboard,
    tasks,  # noqa: F401 - registers the Celery jobs and their beat schedule
)
from hierarchy.supervision import catalogue as cat
from hierarchy.supervision.forms import AcknowledgeForm, RuleForm, TargetForm
from tenants.services import SECTORS

bp = Blueprint("supervision", __name__, template_folder="templates")


@bp.context_processor
def wording() -> dict[str, Any]:
    return {
        "show": dashboard.show,
        "INDICATORS": cat.INDICATORS,
        "BREAKDOWNS": cat.BREAKDOWN_LABELS,
        "SPANS": dashboard.SPANS,
        "ALERT_KINDS": alerts.KINDS,
        "APPLIES_TO": alerts.APPLIES_TO,
        "describe": alerts.describe,
        "SECTOR_LABELS": SECTORS,
    }


def _node(public_id: str, permission: str = dashboard.READ) -> Node:
    node = hierarchy.get_node(db.session, public_id)
    current_actor().require(permission, node.path)
    return node


@bp.get("/")
@requires("reports.read")
def index() -> str | Response:
    """The top of what the signed-in person supervises (straight to it when there is one)."""
    roots = dashboard.roots_in_reach(db.session, current_actor())
    if len(roots) == 1:  # the filters follow (a bookmarked "/supervision/?periode=annee")
        kept = {k: v for k, v in request.args.items() if k in dashboard.QUERY_ARGS and v}
        return redirect(url_for("supervision.node", public_id=roots[0].public_id, **kept))
    return render_template("supervision/index.html", roots=roots)


@bp.get("/noeuds/<public_id>")
@requires("reports.read")
def node(public_id: str) -> str:
    """Headline figures with their 12-month trend, the children compared, alerts; filters in the query."""
    target = _node(public_id)
    args = request.args
    try:
        filters = dashboard.parse_filters(
            args.get("mois"), args.get("periode"), args.get("secteur"), args.get("region")
        )
        error = None
    except FieldError as problem:
        filters, error = dashboard.parse_filters(None, args.get("periode"), None, None), problem.message
    board = dashboard.build(db.session, current_actor(), target, filters)
    return render_template(
        "supervision/node.html",
        board=board,
        error=error,
        can_manage=current_actor().can(alerts.MANAGE, target.path),
    )


@bp.get("/indicateurs")
@requires("reports.read")
def catalogue() -> str:
    """The catalogue: every indicator with its definition, unit and formula."""
    return render_template("supervision/catalogue.html", sections=cat.SECTIONS, indicators=cat.INDICATORS)


@bp.post("/noeuds/<public_id>/actualiser")
@requires("alerts.manage")
def refresh(public_id: str) -> Response:
    """Queue a refresh of the snapshots of every mutual in the node's subtree (after the commit)."""
    from app.worker import enqueue_after_commit
    from tenants.models import Tenant

    target = _node(public_id, alerts.MANAGE)
    rows = db.session.execute(select(Tenant.slug, Node.path).join(Node, Node.id == Tenant.federation_id))
    slugs = [slug for slug, path in rows if path.startswith(target.path) or target.path.startswith(path)]
    for slug in slugs:
        enqueue_after_commit(db.session, tasks.refresh_tenant_task, slug)
    flash(_("Actualisation demandée pour %(n)d mutuelle(s).", n=len(slugs)), "success")
    return redirect(url_for("supervision.node", public_id=public_id))


@bp.route("/noeuds/<public_id>/alertes", methods=["GET", "POST"])
@requires("alerts.manage")
def rules(public_id: str) -> str | Response:
    """The node's alert rules; add one."""
    target = _node(public_id, alerts.MANAGE)
    form = RuleForm()
    if form.validate_on_submit():
        try:
            alerts.create_rule(
                db.session,
                current_actor(),
                target,
                kind=form.kind.data,
                threshold=form.threshold.data,
                applies_to=form.applies_to.data,
            )
            flash(_("Règle enregistrée ; elle sera évaluée à la prochaine actualisation."), "success")
            return redirect(url_for("supervision.rules", public_id=public_id))
        except DomainError as problem:
            show_error(form, problem)
    return render_template(
        "supervision/rules.html", node=target, form=form, rules=alerts.rules_of(db.session, target)
    )


@bp.post("/regles/<rule_id>/desactiver")
@requires("alerts.manage")
def disable_rule(rule_id: str) -> Response:
    rule = alerts.deactivate_rule(db.session, current_actor(), rule_id)
    return redirect(url_for("supervision.rules", public_id=rule.node.public_id))


@bp.route("/alertes/<alert_id>", methods=["GET", "POST"])
@requires("reports.read")
def alert(alert_id: str) -> str | Response:
    """An alert; acknowledged with a comment by someone holding alerts.manage on its node."""
    found = alerts.get_alert(db.session, current_actor(), alert_id)
    can_manage = current_actor().can(alerts.MANAGE, found.node.path)
    form = AcknowledgeForm()
    if request.method == "POST":
        if not can_manage:
            abort(403)
        if form.validate_on_submit():
            try:
                alerts.acknowledge(db.session, current_actor(), found, form.comment.data)
                flash(_("Alerte acquittée."), "success")
                return redirect(url_for("supervision.node", public_id=found.node.public_id))
            except DomainError as problem:
                show_error(form, problem)
    return render_template("supervision/alert.html", alert=found, form=form, can_manage=can_manage)


@bp.route("/noeuds/<public_id>/cible", methods=["GET", "POST"])
@requires("alerts.manage")
def target(public_id: str) -> str | Response:
    """Set the population the node aims to cover in a year (for the coverage rate)."""
    found = _node(public_id, alerts.MANAGE)
    form = TargetForm()
    if form.validate_on_submit():
        try:
            dashboard.set_target(
                db.session, current_actor(), found, year=form.year.data, population=form.population.data
            )
            flash(_("Population cible enregistrée."), "success")
            return redirect(url_for("supervision.node", public_id=public_id))
        except DomainError as problem:
            show_error(form, problem)
    return render_template("supervision/target.html", node=found, form=form)
