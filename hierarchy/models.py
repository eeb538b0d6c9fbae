"""Hierarchy nodes and their history."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import SharedModel, new_public_id, utcnow


class NodeKind(enum.StrEnum):
    ministry = "ministry"
    federation = "federation"
    league = "league"
    association = "association"

    @property
    def label(self) -> str:
        return str(KIND_LABELS[self])

    @property
    def child_kind(self) -> NodeKind | None:
        """001_… §2: the ministry creates fédérations, a fédération ligues, a ligue associations."""
        return CHILD_KIND[self]


KIND_LABELS = {
    NodeKind.ministry: _l("Ministère"),
    NodeKind.federation: _l("Fédération"),
    NodeKind.league: _l("Ligue"),
    NodeKind.association: _l("Association"),
}
CHILD_KIND: dict[NodeKind, NodeKind | None] = {
    NodeKind.ministry: NodeKind.federation,
    NodeKind.federation: NodeKind.league,
    NodeKind.league: NodeKind.association,
    NodeKind.association: None,
}


class NodeStatus(enum.StrEnum):
    active = "active"
    closed = "closed"  #: never deleted: closed nodes keep their history and data


class Node(SharedModel):
    __tablename__ = "hierarchy_nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    kind: Mapped[NodeKind] = mapped_column(Enum(NodeKind, native_enum=False, length=20))
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("hierarchy_nodes.id"), index=True)
    #: Materialised path of ids, "/1/4/9/": a subtree is a prefix match, cheap to count and to scope.
    path: Mapped[str] = mapped_column(String(400), index=True, default="/")
    region: Mapped[str | None] = mapped_column(String(80))
    department: Mapped[str | None] = mapped_column(String(80))
    commune: Mapped[str | None] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[NodeStatus] = mapped_column(
        Enum(NodeStatus, native_enum=False, length=20), default=NodeStatus.active
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    parent: Mapped[Node | None] = relationship(remote_side=[id], lazy="joined", join_depth=1)

    def is_within(self, ancestor: Node) -> bool:
        return self.path.startswith(ancestor.path)


class NodeEvent(SharedModel):
    """One change to a node: who, when, what it was, what it became."""

    __tablename__ = "hierarchy_node_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_nodes.id"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor = relationship("Account", lazy="joined")
