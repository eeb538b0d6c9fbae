"""The permission registry, the built-in profiles' defaults and the ``@requires`` / ``@public`` view marks.

Every endpoint carries ``view.permission`` (a code below, or ``PUBLIC``); ``tests/app/security`` walks the
URL map and fails on any endpoint without one. Profiles live in the database (``app.security.profiles``) and
are edited by administrators; ``BUILT_IN_PROFILES`` only seeds them. A permission marked ``critical`` guards
functions that also need a step-up approval (``app.security.stepup``), so its holders must enrol TOTP.
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
#: Any signed-in staff member (their own account pages): no permission beyond being signed in.
SIGNED_IN = "signed_in"
#: A member signed in to the portal of their mutual (``portal.auth.member_required``), not a staff member.
MEMBER = "member"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Permission:
    code: str
    label: object
    critical: bool = False


PERMISSIONS = {
    p.code: p
    for p in (
        Permission("hierarchy.read", _l("Consulter la hiérarchie")),
        Permission("hierarchy.manage", _l("Créer, renommer, déplacer et fermer des nœuds")),
        Permission("tenants.read", _l("Consulter les mutuelles")),
        Permission("tenants.create", _l("Créer une mutuelle"), critical=True),
        Permission("tenants.manage", _l("Suspendre, réactiver ou archiver une mutuelle"), critical=True),
        Permission("accounts.read", _l("Consulter les comptes du personnel")),
        Permission("accounts.manage", _l("Inviter, désactiver et débloquer des comptes")),
        Permission("grants.manage", _l("Attribuer et retirer des profils"), critical=True),
        Permission("profiles.manage", _l("Créer et modifier les profils"), critical=True),
        Permission("mfa.reset", _l("Réinitialiser la double authentification d'un compte"), critical=True),
        Permission("audit.read", _l("Consulter le journal d'audit")),
        Permission("audit.export", _l("Exporter le journal d'audit"), critical=True),
        Permission("security.read", _l("Consulter les événements de sécurité de la plateforme")),
        Permission("notifications.read", _l("Consulter les messages envoyés")),
        Permission("notifications.send", _l("Envoyer un message")),
        Permission("members.read", _l("Consulter les adhérents et ayants droit")),
        Permission("members.enrol", _l("Enrôler des adhérents et ayants droit")),
        Permission("members.manage", _l("Modifier, suspendre et radier des adhérents")),
        Permission("products.manage", _l("Paramétrer les produits et les tarifs"), critical=True),
        Permission("contributions.read", _l("Consulter les cotisations")),
        Permission("contributions.record", _l("Encaisser des cotisations")),
        Permission("payments.read", _l("Consulter les paiements")),
        Permission("payments.validate", _l("Valider des paiements"), critical=True),
        Permission("payments.refund", _l("Rembourser un paiement"), critical=True),
        Permission("payments.configure", _l("Modifier les comptes marchands"), critical=True),
        Permission("care.read", _l("Consulter les prises en charge")),
        Permission("care.record", _l("Saisir des prestations et des factures")),
        Permission("care.validate_invoice", _l("Valider des factures de prestataires"), critical=True),
        Permission("care.medical_control", _l("Contrôle médical et accords préalables")),
        Permission("care.check_eligibility", _l("Vérifier les droits d'un bénéficiaire au guichet")),
        Permission("providers.manage", _l("Gérer les prestataires et leurs conventions")),
        Permission("complaints.read", _l("Consulter les réclamations")),
        Permission("complaints.handle", _l("Traiter les réclamations")),
        Permission("complaints.configure", _l("Régler les délais de traitement des réclamations")),
        Permission("reports.read", _l("Consulter les indicateurs et rapports")),
        Permission("alerts.manage", _l("Régler et acquitter les alertes, produire les rapports")),
        Permission("data.export", _l("Exporter des données personnelles en masse"), critical=True),
    )
}

_READ_CONSOLIDATED = {
    "hierarchy.read", "tenants.read", "reports.read", "audit.read", "members.read",
    "contributions.read", "payments.read", "care.read", "complaints.read", "notifications.read",
}  # fmt: skip

#: code → (name, default permissions). Seeded once; administrators may edit them afterwards.
BUILT_IN_PROFILES: dict[str, tuple[object, frozenset[str]]] = {
    "platform_admin": (_l("Administrateur plateforme"), frozenset(PERMISSIONS)),
    "supervisor": (_l("Superviseur"), frozenset(_READ_CONSOLIDATED | {"alerts.manage"})),
    "mutual_manager": (
        _l("Gestionnaire de mutuelle"),
        frozenset(
            _READ_CONSOLIDATED
            | {
                "hierarchy.manage",
                "accounts.read",
                "accounts.manage",
                "grants.manage",
                "notifications.send",
                "members.enrol",
                "members.manage",
                "products.manage",
                "contributions.record",
                "payments.validate",
                "payments.refund",
                "complaints.handle",
                "complaints.configure",
                "care.record",
                "care.check_eligibility",
                "care.validate_invoice",
                "providers.manage",
                "alerts.manage",
                "data.export",
            }
        )
        - {"audit.read"},
    ),  # fmt: skip
    "association_agent": (
        _l("Agent d'association"),
        frozenset(
            {
                "hierarchy.read",
                "tenants.read",
                "members.read",
                "members.enrol",
                "contributions.read",
                "contributions.record",
                "payments.read",
                "complaints.read",
                "complaints.handle",
                "notifications.send",
            }
        ),
    ),  # fmt: skip
    "medical_adviser": (
        _l("Médecin-conseil"),
        frozenset(
            {
                "hierarchy.read",
                "tenants.read",
                "members.read",
                "care.read",
                "care.medical_control",
                "care.check_eligibility",
                "care.validate_invoice",
                "reports.read",
            }
        ),
    ),  # fmt: skip
    "accountant": (
        _l("Comptable"),
        frozenset(
            {
                "hierarchy.read",
                "tenants.read",
                "contributions.read",
                "contributions.record",
                "payments.read",
                "payments.validate",
                "payments.refund",
                "care.read",
                "reports.read",
            }
        ),
    ),  # fmt: skip
    "customer_service": (
        _l("Agent service client"),
        frozenset(
            {
                "hierarchy.read",
                "tenants.read",
                "members.read",
                "contributions.read",
                "payments.read",
                "complaints.read",
                "complaints.handle",
                "notifications.send",
            }
        ),
    ),  # fmt: skip
    "provider_staff": (
        _l("Personnel d'un prestataire de soins"),
        # Limited to their own establishment by the care services (provider_users), not by the node alone.
        frozenset({"care.check_eligibility", "care.record"}),
    ),  # fmt: skip
}


def critical_permissions() -> frozenset[str]:
    return frozenset(code for code, p in PERMISSIONS.items() if p.critical)


def requires(permission: str) -> Callable[[F], F]:
    """Mark and guard a view: signed-in staff holding ``permission`` on at least one node (``SIGNED_IN``:
    any signed-in staff member). Node-level scope is checked again by the service acting on a given node."""
    if permission not in PERMISSIONS and permission != SIGNED_IN:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                from app.extensions import login_manager

                return login_manager.unauthorized()
            if permission != SIGNED_IN and not current_actor().can(permission):
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
