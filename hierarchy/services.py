"""Operations on the organisation tree. Every change is checked against the actor's scope, recorded in the
node's history and in the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.security.actor import Actor
from hierarchy.errors import HierarchyRuleBroken
from hierarchy.models import Node, NodeEvent, NodeKind, NodeStatus
from tenants.models import Tenant

CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{1,29}")
EDITABLE_FIELDS = ("name", "region", "department", "commune", "address", "phone", "email")


@dataclass(frozen=True)
class NodeDetails:
    """What a person types about a node (all but the code are free text)."""

    name: str
    region: str | None = None
    department: str | None = None
    commune: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class NodeRow:
    """A node as the tree shows it: with its counts."""

    node: Node
    children: int
    associations: int


def get_node(session: Session, public_id: str) -> Node:
    node = session.scalar(select(Node).where(Node.public_id == public_id))
    if node is None:
        raise NotFound(_l("Ce nœud n'existe pas."))
    return node


def find_node_by_code(session: Session, code: str) -> Node | None:
    return session.scalar(select(Node).where(Node.code == code.upper()))


def _tenant_federation_paths(session: Session) -> dict[str, int]:
    """Path of each fédération that has a mutual → that tenant's id (one query, a handful of rows)."""
    return dict(
        session.execute(select(Node.path, Tenant.id).join(Tenant, Tenant.federation_id == Node.id)).all()
    )


def _tenant_at(path: str, federation_paths: dict[str, int]) -> int | None:
    """The tenant owning the node at ``path`` (the one whose fédération is on that path), if any."""
    return next(
        (tenant_id for fed_path, tenant_id in federation_paths.items() if path.startswith(fed_path)), None
    )


def _counts(session: Session, nodes: list[Node]) -> list[NodeRow]:
    """Children and associations below each node, in two grouped queries (no N+1)."""
    if not nodes:
        return []
    ids = [n.id for n in nodes]
    children = dict(
        session.execute(
            select(Node.parent_id, func.count()).where(Node.parent_id.in_(ids)).group_by(Node.parent_id)
        ).all()
    )
    parent = Node.__table__.alias("p")
    associations = dict(
        session.execute(
            select(parent.c.id, func.count(Node.id))
            .join(Node, Node.path.startswith(parent.c.path))
            .where(parent.c.id.in_(ids), Node.kind == NodeKind.association, Node.id != parent.c.id)
            .group_by(parent.c.id)
        ).all()
    )
    return [NodeRow(n, children.get(n.id, 0), associations.get(n.id, 0)) for n in nodes]


def list_roots(session: Session, actor: Actor) -> list[NodeRow]:
    """The top of the tree the actor may read: the ministry, or the nodes of their grants."""
    paths = actor.root_paths("hierarchy.read")
    query = select(Node).order_by(Node.name)
    if paths is None:
        query = query.where(Node.parent_id.is_(None))
    else:
        # keep only the highest granted nodes (a grant below another adds nothing)
        tops = [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]
        query = query.where(Node.path.in_(tops))
    return _counts(session, list(session.scalars(query)))


def list_children(session: Session, actor: Actor, node: Node) -> list[NodeRow]:
    actor.require("hierarchy.read", node.path)
    rows = session.scalars(select(Node).where(Node.parent_id == node.id).order_by(Node.name))
    return _counts(session, list(rows))


def list_history(session: Session, actor: Actor, node: Node) -> list[NodeEvent]:
    actor.require("hierarchy.read", node.path)
    return list(
        session.scalars(select(NodeEvent).where(NodeEvent.node_id == node.id).order_by(NodeEvent.at.desc()))
    )


def _check_details(details: NodeDetails) -> None:
    if not details.name or not details.name.strip():
        raise FieldError("name", _l("Le nom est obligatoire."))
    if details.email and "@" not in details.email:
        raise FieldError("email", _l("Adresse e-mail invalide."))


def _log(session: Session, actor: Actor, node: Node, action: str, **changes: Any) -> None:
    session.add(NodeEvent(node_id=node.id, action=action, actor_id=actor.account_id, changes=changes))
    record_event(
        session,
        actor,
        f"hierarchy.{action}",
        target_type="node",
        target_id=node.public_id,
        code=node.code,
        **changes,
    )


def create_root(session: Session, actor: Actor, *, code: str, details: NodeDetails) -> Node:
    """Create the ministry (the one root of the tree)."""
    actor.require("hierarchy.manage")
    if session.scalar(select(Node.id).where(Node.parent_id.is_(None))):
        raise HierarchyRuleBroken(_l("Le ministère existe déjà : il n'y a qu'une racine."))
    return _insert(session, actor, None, NodeKind.ministry, code, details)


def create_child(session: Session, actor: Actor, *, parent: Node, code: str, details: NodeDetails) -> Node:
    """001_… §2: the ministry creates fédérations, a fédération ligues, a ligue associations."""
    actor.require("hierarchy.manage", parent.path)
    kind = parent.kind.child_kind
    if kind is None:
        raise HierarchyRuleBroken(_l("Rien ne peut être créé sous une association."))
    if parent.status is NodeStatus.closed:
        raise HierarchyRuleBroken(_l("Ce nœud est fermé : on ne peut plus rien y créer."))
    return _insert(session, actor, parent, kind, code, details)


def _insert(
    session: Session,
    actor: Actor,
    parent: Node | None,
    kind: NodeKind,
    code: str,
    details: NodeDetails,
) -> Node:
    code = (code or "").strip().upper()
    if not CODE_PATTERN.fullmatch(code):
        raise FieldError("code", _l("Code invalide : 2 à 30 caractères, lettres, chiffres et tirets."))
    if find_node_by_code(session, code):
        raise FieldError("code", _l("Ce code est déjà utilisé."))
    _check_details(details)
    node = Node(
        kind=kind, code=code, parent=parent, parent_id=parent.id if parent else None, **_clean(details)
    )
    session.add(node)
    session.flush()
    node.path = f"{parent.path if parent else '/'}{node.id}/"
    session.flush()
    _log(session, actor, node, "created", kind=kind.value, name=node.name)
    return node


def _clean(details: NodeDetails) -> dict[str, str | None]:
    return {f: (getattr(details, f) or "").strip() or None for f in EDITABLE_FIELDS}


def update_node(session: Session, actor: Actor, node: Node, details: NodeDetails) -> Node:
    """Rename a node or change its address and contacts; the history keeps the old values."""
    actor.require("hierarchy.manage", node.path)
    _check_details(details)
    changes = {}
    for name, value in _clean(details).items():
        if getattr(node, name) != value:
            changes[name] = [getattr(node, name), value]
            setattr(node, name, value)
    if changes:
        session.flush()
        _log(session, actor, node, "renamed" if "name" in changes else "updated", **changes)
    return node


def list_move_targets(session: Session, actor: Actor, node: Node) -> list[Node]:
    """Open nodes of the parent's kind, in the same tenant, where the actor may manage."""
    if node.parent is None:
        return []
    federation_paths = _tenant_federation_paths(session)
    tenant_id = _tenant_at(node.path, federation_paths)
    candidates = session.scalars(
        select(Node)
        .where(Node.kind == node.parent.kind, Node.status == NodeStatus.active, Node.id != node.parent_id)
        .order_by(Node.name)
    )
    return [
        c
        for c in candidates
        if actor.can("hierarchy.manage", c.path) and _tenant_at(c.path, federation_paths) == tenant_id
    ]


def move_node(session: Session, actor: Actor, node: Node, new_parent: Node) -> Node:
    """Move a node under another parent of the same kind, with its whole subtree; never across
    mutuals (their members' data live in separate schemas)."""
    actor.require("hierarchy.manage", node.path)
    actor.require("hierarchy.manage", new_parent.path)
    if node.parent is None or new_parent.kind is not node.parent.kind:
        raise HierarchyRuleBroken(_l("Un nœud ne peut être déplacé que sous un nœud du même niveau."))
    if new_parent.status is NodeStatus.closed:
        raise HierarchyRuleBroken(_l("Le nouveau parent est fermé."))
    if new_parent.is_within(node):
        raise HierarchyRuleBroken(_l("Un nœud ne peut pas être déplacé sous lui-même."))
    federation_paths = _tenant_federation_paths(session)
    if _tenant_at(node.path, federation_paths) != _tenant_at(new_parent.path, federation_paths):
        raise HierarchyRuleBroken(_l("Déplacement impossible vers une autre mutuelle."))
    old_parent, old_path = node.parent, node.path
    new_path = f"{new_parent.path}{node.id}/"
    session.execute(
        update(Node)
        .where(Node.path.startswith(old_path))
        .values(path=literal(new_path) + func.substr(Node.path, len(old_path) + 1))
        .execution_options(synchronize_session=False)
    )
    node.parent_id, node.parent = new_parent.id, new_parent
    session.flush()
    session.expire_all()
    _log(session, actor, node, "moved", parent=[old_parent.code, new_parent.code])
    return node


def close_node(session: Session, actor: Actor, node: Node, reason: str) -> Node:
    """Close a node (never delete): only once every child is closed; the reason is kept."""
    actor.require("hierarchy.manage", node.path)
    if not reason or not reason.strip():
        raise FieldError("reason", _l("Indiquez le motif de la fermeture."))
    if node.status is NodeStatus.closed:
        raise HierarchyRuleBroken(_l("Ce nœud est déjà fermé."))
    open_children = session.scalar(
        select(func.count()).where(Node.parent_id == node.id, Node.status == NodeStatus.active)
    )
    if open_children:
        raise HierarchyRuleBroken(_l("Fermez d'abord les nœuds qui dépendent de celui-ci."))
    node.status, node.closed_at = NodeStatus.closed, utcnow()
    session.flush()
    _log(session, actor, node, "closed", reason=reason.strip())
    return node
