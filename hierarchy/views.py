"""Browse and edit the tree (htmx lazy expansion; every form also works without JavaScript)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.errors import DomainError
from app.extensions import db
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from hierarchy import services
from hierarchy.forms import CloseNodeForm, EditNodeForm, MoveNodeForm, NodeForm
from hierarchy.models import Node

bp = Blueprint("hierarchy", __name__, template_folder="templates")


def _node_in_reach(public_id: str, permission: str) -> Node:
    """The node, if the signed-in person holds ``permission`` on it (the forms are not shown otherwise)."""
    node = services.get_node(db.session, public_id)
    current_actor().require(permission, node.path)
    return node


@bp.get("/")
@requires("hierarchy.read")
def tree() -> str:
    """The top of the tree the signed-in person may read."""
    return render_template("hierarchy/tree.html", rows=services.list_roots(db.session, current_actor()))


@bp.get("/noeuds/<public_id>/enfants")
@requires("hierarchy.read")
def children(public_id: str) -> str:
    """The children of a node: an htmx fragment, or a page without JavaScript."""
    node = _node_in_reach(public_id, "hierarchy.read")
    rows = services.list_children(db.session, current_actor(), node)
    template = "hierarchy/_children.html" if request.headers.get("HX-Request") else "hierarchy/tree.html"
    return render_template(template, rows=rows, parent=node)


@bp.get("/noeuds/<public_id>")
@requires("hierarchy.read")
def detail(public_id: str) -> str:
    node = _node_in_reach(public_id, "hierarchy.read")
    history = services.list_history(db.session, current_actor(), node)
    return render_template(
        "hierarchy/detail.html",
        node=node,
        history=history,
        can_manage=current_actor().can("hierarchy.manage", node.path),
    )


@bp.route("/noeuds/<public_id>/nouveau", methods=["GET", "POST"])
@requires("hierarchy.manage")
def create_child(public_id: str) -> str | Response:
    """Create the child the rules allow under this node (fédération, ligue or association)."""
    parent = _node_in_reach(public_id, "hierarchy.manage")
    form = NodeForm()
    if form.validate_on_submit():
        try:
            node = services.create_child(
                db.session, current_actor(), parent=parent, code=form.code.data, details=form.details()
            )
            return redirect(url_for("hierarchy.detail", public_id=node.public_id))
        except DomainError as error:
            show_error(form, error)
    return render_template("hierarchy/create_child.html", parent=parent, form=form)


@bp.route("/noeuds/<public_id>/modifier", methods=["GET", "POST"])
@requires("hierarchy.manage")
def edit(public_id: str) -> str | Response:
    """Rename a node or change its address and contacts."""
    node = _node_in_reach(public_id, "hierarchy.manage")
    form = EditNodeForm(obj=node)
    if form.validate_on_submit():
        try:
            services.update_node(db.session, current_actor(), node, form.details())
            return redirect(url_for("hierarchy.detail", public_id=node.public_id))
        except DomainError as error:
            show_error(form, error)
    return render_template("hierarchy/edit.html", node=node, form=form)


@bp.route("/noeuds/<public_id>/deplacer", methods=["GET", "POST"])
@requires("hierarchy.manage")
def move(public_id: str) -> str | Response:
    """Move a node, with its subtree, under another parent of the same kind."""
    node = _node_in_reach(public_id, "hierarchy.manage")
    targets = services.list_move_targets(db.session, current_actor(), node)
    form = MoveNodeForm()
    form.parent.choices = [SelectChoice(t.public_id, f"{t.name} ({t.code})") for t in targets]
    if form.validate_on_submit():
        try:
            target = services.get_node(db.session, form.parent.data)
            services.move_node(db.session, current_actor(), node, target)
            return redirect(url_for("hierarchy.detail", public_id=node.public_id))
        except DomainError as error:
            show_error(form, error)
    return render_template("hierarchy/move.html", node=node, form=form, has_targets=bool(targets))


@bp.route("/noeuds/<public_id>/fermer", methods=["GET", "POST"])
@requires("hierarchy.manage")
def close(public_id: str) -> str | Response:
    """Close a node (never delete it)."""
    node = _node_in_reach(public_id, "hierarchy.manage")
    form = CloseNodeForm()
    if form.validate_on_submit():
        try:
            services.close_node(db.session, current_actor(), node, form.reason.data)
            return redirect(url_for("hierarchy.detail", public_id=node.public_id))
        except DomainError as error:
            show_error(form, error)
    return render_template("hierarchy/close.html", node=node, form=form, title=_("Fermer"))
