"""``Actor``: who acts, and what they may do where — a plain value services receive explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.errors import Forbidden
from app.security.permissions import PERMISSIONS


@dataclass(frozen=True)
class Actor:
    account_id: int | None
    label: str
    ip_address: str | None = None
    is_platform_admin: bool = False
    #: (node path, permissions) per grant: a grant covers its node's subtree only.
    scopes: tuple[tuple[str, frozenset[str]], ...] = field(default=())
    #: "profile code@node code" per grant, for the audit log ("who, with which profile, where").
    grants_label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        """The platform itself (CLI, demo, tasks): may do everything, audited under ``label``."""
        return cls(account_id=None, label=label, is_platform_admin=True)

    def can(self, permission: str, node_path: str | None = None) -> bool:
        """True if a grant gives ``permission`` on the node at ``node_path`` (or anywhere if None)."""
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        if self.is_platform_admin:
            return True
        return any(
            permission in perms and (node_path is None or node_path.startswith(path))
            for path, perms in self.scopes
        )

    def require(self, permission: str, node_path: str | None = None) -> None:
        if not self.can(permission, node_path):
            from flask_babel import lazy_gettext as _l

            raise Forbidden(_l("Vous n'avez pas le droit d'effectuer cette action ici."))

    def root_paths(self, permission: str) -> list[str] | None:
        """Subtree roots where ``permission`` holds; None means everywhere."""
        if self.is_platform_admin:
            return None
        return sorted({path for path, perms in self.scopes if permission in perms})


def actor_for(account: object, ip_address: str | None = None) -> Actor:
    return Actor(
        account_id=account.id,  # type: ignore[attr-defined]
        label=account.login_label,  # type: ignore[attr-defined]
        ip_address=ip_address,
        is_platform_admin=account.is_platform_admin,  # type: ignore[attr-defined]
        scopes=tuple(
            (g.node.path, g.profile.permissions)
            for g in account.grants  # type: ignore[attr-defined]
        ),
        grants_label=", ".join(
            f"{g.profile.code}@{g.node.code}"
            for g in account.grants  # type: ignore[attr-defined]
        ),
    )
