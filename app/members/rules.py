"""A mutual's enrolment rules and lists, from its ``settings`` table with sensible defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.errors import FieldError
from app.members.numbers import prefix_for
from app.security.actor import Actor
from tenants.context import TenantRef
from tenants.models import TenantSetting

#: Trades per sector (the client's first sector is artisanat); "autre" lets an agent type another one.
TRADES: dict[str, tuple[str, ...]] = {
    "artisanat": (
        "bijoutier", "boulanger", "brodeur", "coiffeur", "cordonnier", "couturier", "ébéniste", "électricien",
        "forgeron", "maçon", "maroquinier", "mécanicien", "menuisier", "peintre", "plombier", "potier",
        "sculpteur", "soudeur", "tailleur", "teinturier", "tisserand", "vannier", "autre",
    ),
    "commerce": (
        "boutiquier", "commerçant", "grossiste", "marchand ambulant", "restauratrice", "tablier",
        "vendeuse de poisson", "vendeuse de légumes", "autre",
    ),
    "transport": (
        "apprenti", "charretier", "chauffeur", "conducteur de moto-taxi", "coxeur", "mécanicien auto",
        "propriétaire de véhicule", "autre",
    ),
}  # fmt: skip

#: Senegal's regions (for lists and the demo).
REGIONS = (
    "Dakar", "Diourbel", "Fatick", "Kaffrine", "Kaolack", "Kédougou", "Kolda", "Louga", "Matam",
    "Saint-Louis", "Sédhiou", "Tambacounda", "Thiès", "Ziguinchor",
)  # fmt: skip

RELATIONSHIP_LABELS = {
    "principal": _l("Adhérent"),
    "spouse": _l("Conjoint(e)"),
    "child": _l("Enfant"),
    "other": _l("Autre ayant droit"),
}
STATUS_LABELS = {
    "pending": _l("En attente"),
    "active": _l("Actif"),
    "suspended": _l("Suspendu"),
    "left": _l("Parti"),
    "deceased": _l("Décédé"),
}


@dataclass(frozen=True)
class MemberRules:
    number_prefix: str
    child_age_limit: int = 21
    #: The adhérent and all ayants droit still covered (not left nor deceased).
    max_household_size: int = 10
    card_validity_months: int = 12
    consent_version: str = "2026-01"


def member_rules(session: Session, tenant: TenantRef) -> MemberRules:
    """Read ``members.*`` settings of the current tenant (the session must be in its scope)."""
    stored = {
        row.key.removeprefix("members."): row.value
        for row in session.scalars(select(TenantSetting).where(TenantSetting.key.startswith("members.")))
    }
    defaults = MemberRules(number_prefix=prefix_for(tenant.slug))
    known = {k: v for k, v in stored.items() if k in MemberRules.__dataclass_fields__}
    return MemberRules(**{**defaults.__dict__, **known})


def trades_for(sector: str) -> tuple[str, ...]:
    return TRADES.get(sector, ("autre",))


#: (field, lowest, highest) of the numeric rules an administrator may set.
_BOUNDS = {"child_age_limit": (1, 30), "max_household_size": (1, 40), "card_validity_months": (1, 60)}


def update_rules(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    *,
    child_age_limit: str,
    max_household_size: str,
    card_validity_months: str,
    consent_version: str,
) -> MemberRules:
    """Change the mutual's rules (checked, audited with before/after). The number prefix never changes:
    numbers already printed on cards carry it."""
    actor.require("members.manage")
    before = member_rules(session, tenant)
    values: dict[str, object] = {}
    for name, raw in (
        ("child_age_limit", child_age_limit),
        ("max_household_size", max_household_size),
        ("card_validity_months", card_validity_months),
    ):
        low, high = _BOUNDS[name]
        if not (raw or "").strip().isdigit() or not low <= int(raw) <= high:
            raise FieldError(name, _l("Nombre entier entre %(low)s et %(high)s.", low=low, high=high))
        values[name] = int(raw)
    version = (consent_version or "").strip()
    if not re.fullmatch(r"[\w.-]{1,20}", version):
        raise FieldError(
            "consent_version", _l("Version du texte : 1 à 20 lettres, chiffres, points ou tirets.")
        )
    values["consent_version"] = version
    for name, value in values.items():
        row = session.get(TenantSetting, f"members.{name}")
        if row is None:
            session.add(TenantSetting(key=f"members.{name}", value=value))
        else:
            row.value = value
    session.flush()
    after = member_rules(session, tenant)
    changed = {k for k in values if getattr(before, k) != getattr(after, k)}
    if changed:
        record_event(
            session, actor, "members.rules_changed", target_type="settings", target_id="members",
            before={k: getattr(before, k) for k in changed}, after={k: getattr(after, k) for k in changed},
        )  # fmt: skip
    return after
