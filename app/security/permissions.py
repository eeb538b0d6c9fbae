"""The permission registry, the built-in profiles and the ``@requires`` / ``@public`` view marks.

Every endpoint carries ``view.permission`` (a code below, or ``PUBLIC``); ``tests/app/security`` walks the
URL map and fails on any endpoint without one. Profiles become editable in the security issue; until then
they are the fixed bundles below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from flask import abort, g, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

if TYPE_CHECKING:
    from app.security.actor import Actor

PUBLIC = "public"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Permission:
    code: str
    label: object


PERMISSIONS = {
    p.code: p
    for p in (
        Permission("hierarchy.read", _l("Consulter la hiérarchie")),
        Permission("hierarchy.manage", _l("Créer, renommer, déplacer et fermer des nœuds")),
        Permission("tenants.read", _l("Consulter les mutuelles")),
        Permission("tenants.create", _l("Créer une mutuelle")),
        Permission("tenants.manage", _l("Suspendre, réactiver ou archiver une mutuelle")),
        Permission("notifications.read", _l("Consulter les messages envoyés")),
        Permission("notifications.send", _l("Envoyer un message")),
        Permission("audit.read", _l("Consulter le journal d'audit")),
    )
}

PROFILES: dict[str, tuple[object, frozenset[str]]] = {
    "platform_admin": (_l("Administrateur plateforme"), frozenset(PERMISSIONS)),
    "supervisor": (
        _l("Superviseur"),
        frozenset({"hierarchy.read", "tenants.read", "notifications.read", "audit.read"}),
    ),
    "mutual_manager": (
        _l("Gestionnaire de mutuelle"),
        frozenset(
            {"hierarchy.read", "hierarchy.manage", "tenants.read", "notifications.read", "notifications.send"}
        ),
    ),
    "association_agent": (
        _l("Agent d'association"),
        frozenset({"hierarchy.read", "tenants.read", "notifications.send"}),
    ),
}


def profile_permissions(profile: str) -> frozenset[str]:
    return PROFILES.get(profile, ("", frozenset()))[1]


def requires(permission: str) -> Callable[[F], F]:
    """Mark and guard a view: signed-in staff holding ``permission`` on at least one node.
    Node-level scope is checked again by the service that acts on a given node."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                from app.extensions import login_manager

                return login_manager.unauthorized()
            if not current_actor().can(permission):
                abort(403)
            return view(*args, **kwargs)

        guarded.permission = permission  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def current_actor() -> Actor:
    """The signed-in staff member as an ``Actor``, built once per request (views pass it to services)."""
    from app.security.actor import actor_for

    if "mbolo_actor" not in g:
        g.mbolo_actor = actor_for(current_user, request.remote_addr)
    return g.mbolo_actor


def public(view: F) -> F:
    """Mark a view as open to anyone (sign-in page, health checks, static files)."""
    view.permission = PUBLIC  # type: ignore[attr-defined]
    return view
