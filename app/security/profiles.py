"""Profiles: bundles of permissions kept in the database and edited by administrators.

``sync_catalog`` runs after every ``mbolo db upgrade``: a permission code seen for the first time is
recorded and given to the built-in profiles whose defaults include it; nothing an administrator removed or
added earlier is touched.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.errors import DomainError, FieldError, NotFound
from app.security.actor import Actor
from app.security.models import Grant, KnownPermission, Profile
from app.security.permissions import BUILT_IN_PROFILES, PERMISSIONS

_CODE = re.compile(r"^[a-z][a-z0-9_]{2,39}$")


def sync_catalog(session: Session) -> list[str]:
    """Record new permission codes and seed the built-in profiles; return the codes added."""
    known = set(session.scalars(select(KnownPermission.code)))
    new_codes = sorted(set(PERMISSIONS) - known)
    rows = {code: KnownPermission(code=code) for code in new_codes}
    session.add_all(rows.values())
    session.flush()
    everything = {p.code: p for p in session.scalars(select(KnownPermission))}
    for code, (name, defaults) in BUILT_IN_PROFILES.items():
        profile = session.scalar(select(Profile).where(Profile.code == code))
        if profile is None:
            profile = Profile(code=code, name=str(name), built_in=True)
            session.add(profile)
            grant_now = defaults  # a new built-in profile starts with all its defaults
        else:
            grant_now = defaults & set(new_codes)
        for permission in sorted(grant_now - profile.permissions):
            profile.permission_rows.append(everything[permission])
    session.flush()
    return new_codes


def list_profiles(session: Session) -> list[Profile]:
    return list(session.scalars(select(Profile).order_by(Profile.built_in.desc(), Profile.name)))


def get_profile(session: Session, code: str) -> Profile:
    profile = session.scalar(select(Profile).where(Profile.code == code))
    if profile is None:
        raise NotFound(_l("Profil introuvable."))
    return profile


def grant_counts(session: Session) -> dict[int, int]:
    rows = session.execute(select(Grant.profile_id, func.count().label("count")).group_by(Grant.profile_id))
    return {row.profile_id: row.count for row in rows}


def checked_permissions(permissions: list[str] | set[str]) -> set[str]:
    unknown = set(permissions) - set(PERMISSIONS)
    if unknown:
        raise FieldError(
            "permissions", _l("Permission inconnue : %(codes)s", codes=", ".join(sorted(unknown)))
        )
    if not permissions:
        raise FieldError("permissions", _l("Choisissez au moins une permission."))
    return set(permissions)


def check_new_profile(session: Session, *, code: str, permissions: list[str]) -> tuple[str, set[str]]:
    """The rules of a new profile (checked before the step-up too, so errors show at once)."""
    code = (code or "").strip().lower()
    if not _CODE.fullmatch(code):
        raise FieldError("code", _l("Code : 3 à 40 caractères, lettres minuscules, chiffres et « _ »."))
    if session.scalar(select(Profile.id).where(Profile.code == code)) is not None:
        raise FieldError("code", _l("Ce code de profil existe déjà."))
    return code, checked_permissions(permissions)


def create_profile(
    session: Session, actor: Actor, *, code: str, name: str, description: str, permissions: list[str]
) -> Profile:
    actor.require("profiles.manage")
    code, chosen = check_new_profile(session, code=code, permissions=permissions)
    profile = Profile(code=code, name=name.strip(), description=(description or "").strip())
    profile.permission_rows = list(
        session.scalars(select(KnownPermission).where(KnownPermission.code.in_(chosen)))
    )
    session.add(profile)
    session.flush()
    record_event(
        session, actor, "security.profile_created", target_type="profile", target_id=code,
        after={"name": profile.name, "permissions": sorted(chosen)}, platform=True,
    )  # fmt: skip
    return profile


def update_profile(
    session: Session, actor: Actor, profile: Profile, *, name: str, description: str, permissions: list[str]
) -> Profile:
    """Change a profile's name and permissions; every grant of the profile changes with it."""
    actor.require("profiles.manage")
    chosen = checked_permissions(permissions)
    before = {
        "name": profile.name,
        "description": profile.description,
        "permissions": sorted(profile.permissions),
    }
    profile.name, profile.description = name.strip(), (description or "").strip()
    profile.permission_rows = list(
        session.scalars(select(KnownPermission).where(KnownPermission.code.in_(chosen)))
    )
    session.flush()
    after = {"name": profile.name, "description": profile.description, "permissions": sorted(chosen)}
    record_event(
        session, actor, "security.profile_updated", target_type="profile", target_id=profile.code,
        before=before, after=after, platform=True,
    )  # fmt: skip
    return profile


def delete_profile(session: Session, actor: Actor, profile: Profile) -> None:
    actor.require("profiles.manage")
    if profile.built_in:
        raise DomainError(_l("Un profil prédéfini peut être modifié mais pas supprimé."))
    if session.scalar(select(func.count()).select_from(Grant).where(Grant.profile_id == profile.id)):
        raise DomainError(_l("Ce profil est encore attribué : retirez d'abord ses attributions."))
    record_event(
        session, actor, "security.profile_deleted", target_type="profile", target_id=profile.code,
        before={"name": profile.name, "permissions": sorted(profile.permissions)}, platform=True,
    )  # fmt: skip
    session.delete(profile)
    session.flush()
