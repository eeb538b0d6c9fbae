"""The provider register and provider staff accounts.

Providers belong to the whole mutual: they are managed with ``providers.manage`` held on the mutual's branch
(its fédération node, or above) and read with ``care.read``. Provider staff are public staff accounts with
the ``provider_staff`` profile on the mutual's node and a ``provider_users`` row: ``provider_scope`` answers
their provider, and every care service narrows what they see and do to it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.care.models import CareProvider, PayoutMethod, ProviderKind, ProviderStatus, ProviderUser
from app.coverage.products import branch_path
from app.errors import FieldError, Forbidden, NotFound
from app.phones import normalise_phone
from app.security import accounts
from app.security.actor import Actor
from app.security.models import Account
from app.security.profiles import get_profile
from hierarchy.models import Node
from tenants.context import TenantRef, apply_context, current_tenant_of
from tenants.models import Tenant

MANAGE = "providers.manage"
READ = "care.read"
STAFF_PROFILE = "provider_staff"

KIND_LABELS = {
    ProviderKind.hospital: _l("Hôpital"),
    ProviderKind.health_centre: _l("Centre de santé"),
    ProviderKind.health_post: _l("Poste de santé"),
    ProviderKind.pharmacy: _l("Pharmacie"),
    ProviderKind.laboratory: _l("Laboratoire"),
    ProviderKind.imaging: _l("Imagerie"),
    ProviderKind.optician: _l("Opticien"),
    ProviderKind.dentist: _l("Cabinet dentaire"),
    ProviderKind.other: _l("Autre"),
}
STATUS_LABELS = {
    ProviderStatus.active: _l("Actif"),
    ProviderStatus.suspended: _l("Suspendu"),
    ProviderStatus.closed: _l("Fermé"),
}
PAYOUT_LABELS = {
    PayoutMethod.bank_transfer: _l("Virement bancaire"),
    PayoutMethod.wave: _l("Wave"),
    PayoutMethod.orange_money: _l("Orange Money"),
}
#: The 14 regions of Senegal (the national mutual's conventions cover them all).
REGIONS = (
    "Dakar", "Diourbel", "Fatick", "Kaffrine", "Kaolack", "Kédougou", "Kolda", "Louga", "Matam",
    "Saint-Louis", "Sédhiou", "Tambacounda", "Thiès", "Ziguinchor",
)  # fmt: skip
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,29}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- reach -------------------------------------------------------------------------------------------------


def holds_in_branch(actor: Actor, permission: str, branch: str) -> bool:
    """``permission`` on the mutual's branch, above it, or on a node inside it."""
    if actor.is_platform_admin:
        return True
    return any(
        permission in perms and (branch.startswith(path) or path.startswith(branch))
        for path, perms in actor.scopes
    )


def require_in_branch(session: Session, tenant: TenantRef, actor: Actor, permission: str) -> None:
    if not holds_in_branch(actor, permission, branch_path(session, tenant)):
        raise Forbidden(_l("Vous n'avez pas le droit d'effectuer cette action ici."))


def provider_scope(session: Session, actor: Actor) -> int | None:
    """The provider a provider staff account is limited to; None for the mutual's own staff."""
    if actor.account_id is None:
        return None
    return session.scalar(select(ProviderUser.provider_id).where(ProviderUser.account_id == actor.account_id))


def is_provider_staff(session: Session, actor: Actor) -> bool:
    return provider_scope(session, actor) is not None


def require_provider(session: Session, actor: Actor, provider_id: int | None) -> None:
    """Provider staff act only for their own provider (anything else reads as not found)."""
    own = provider_scope(session, actor)
    if own is not None and provider_id != own:
        raise NotFound(_l("Prestataire introuvable."))


# --- register ----------------------------------------------------------------------------------------------


@dataclass
class ProviderInput:
    code: str
    name: str
    kind: str
    region: str = ""
    commune: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""
    status: str = "active"
    payout_method: str = "bank_transfer"
    payout_account: str = ""


def _checked(session: Session, data: ProviderInput, provider: CareProvider | None) -> dict:
    code = (data.code or "").strip().upper()
    if not _CODE.fullmatch(code):
        raise FieldError("code", _l("Code de 2 à 30 caractères : lettres, chiffres et tirets."))
    taken = session.scalar(select(CareProvider.id).where(CareProvider.code == code))
    if taken is not None and (provider is None or taken != provider.id):
        raise FieldError("code", _l("Ce code est déjà utilisé par un autre prestataire."))
    name = (data.name or "").strip()
    if not name:
        raise FieldError("name", _l("Indiquez le nom du prestataire."))
    try:
        kind = ProviderKind(data.kind)
    except ValueError as exc:
        raise FieldError("kind", _l("Choisissez le type de prestataire.")) from exc
    region = (data.region or "").strip()
    if region and region not in REGIONS:
        raise FieldError("region", _l("Choisissez une région du Sénégal."))
    email = (data.email or "").strip().lower() or None
    if email and not _EMAIL.fullmatch(email):
        raise FieldError("email", _l("Adresse e-mail invalide."))
    try:
        status = ProviderStatus(data.status or "active")
    except ValueError as exc:
        raise FieldError("status", _l("Statut inconnu.")) from exc
    try:
        payout = PayoutMethod(data.payout_method or "bank_transfer")
    except ValueError as exc:
        raise FieldError("payout_method", _l("Mode de paiement inconnu.")) from exc
    return {
        "code": code, "name": name, "kind": kind, "region": region, "commune": (data.commune or "").strip(),
        "address": (data.address or "").strip(), "phone": normalise_phone(data.phone, field="phone"),
        "email": email, "status": status, "payout_method": payout,
        "payout_account": (data.payout_account or "").strip(),
    }  # fmt: skip


def _snapshot(p: CareProvider) -> dict:
    return {
        "code": p.code, "name": p.name, "kind": str(p.kind), "region": p.region, "commune": p.commune,
        "address": p.address, "phone": p.phone, "email": p.email, "status": str(p.status),
        "payout_method": str(p.payout_method), "payout_account": p.payout_account,
    }  # fmt: skip


def create_provider(session: Session, tenant: TenantRef, actor: Actor, data: ProviderInput) -> CareProvider:
    require_in_branch(session, tenant, actor, MANAGE)
    provider = CareProvider(**_checked(session, data, None))
    session.add(provider)
    session.flush()
    record_event(
        session, actor, "care.provider_created", target_type="care_provider", target_id=provider.public_id,
        after=_snapshot(provider),
    )  # fmt: skip
    return provider


def update_provider(
    session: Session, tenant: TenantRef, actor: Actor, provider: CareProvider, data: ProviderInput
) -> CareProvider:
    require_in_branch(session, tenant, actor, MANAGE)
    before = _snapshot(provider)
    for key, value in _checked(session, data, provider).items():
        setattr(provider, key, value)
    session.flush()
    record_event(
        session, actor, "care.provider_updated", target_type="care_provider", target_id=provider.public_id,
        before=before, after=_snapshot(provider),
    )  # fmt: skip
    return provider


def list_providers(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    *,
    q: str = "",
    kind: str = "",
    region: str = "",
    status: str = "",
) -> list[CareProvider]:
    """The register (provider staff: their own provider only)."""
    query = select(CareProvider).order_by(CareProvider.region, CareProvider.name)
    own = provider_scope(session, actor)
    if own is not None:
        query = query.where(CareProvider.id == own)
    else:
        require_in_branch(session, tenant, actor, READ)
    if q.strip():
        pattern = f"%{q.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(CareProvider.name).like(pattern),
                func.lower(CareProvider.code).like(pattern),
                func.lower(CareProvider.commune).like(pattern),
            )
        )
    if kind:
        query = query.where(CareProvider.kind == kind)
    if region:
        query = query.where(CareProvider.region == region)
    if status:
        query = query.where(CareProvider.status == status)
    return list(session.scalars(query.limit(500)))


def get_provider(session: Session, tenant: TenantRef, actor: Actor, public_id: str) -> CareProvider:
    provider = session.scalar(select(CareProvider).where(CareProvider.public_id == public_id))
    if provider is None:
        raise NotFound(_l("Prestataire introuvable."))
    own = provider_scope(session, actor)
    if own is not None:
        require_provider(session, actor, provider.id)
    else:
        require_in_branch(session, tenant, actor, READ)
    return provider


def provider_choices(session: Session, actor: Actor, *, active_only: bool = True) -> list[CareProvider]:
    """Providers an actor may pick in a form (provider staff: their own)."""
    query = select(CareProvider).order_by(CareProvider.name)
    if active_only:
        query = query.where(CareProvider.status == ProviderStatus.active)
    own = provider_scope(session, actor)
    if own is not None:
        query = query.where(CareProvider.id == own)
    return list(session.scalars(query))


# --- provider staff ----------------------------------------------------------------------------------------


@contextmanager
def _public_writes(session: Session) -> Iterator[None]:
    """Accounts and grants live in ``public``, beyond the tenant role's reach: they are written under the
    runtime role for a moment, in the same transaction (as ``app.security.stepup`` does for approvals)."""
    tenant = current_tenant_of(session)
    if tenant is None:
        yield
        return
    session.flush()
    connection = session.connection()
    apply_context(connection, None)
    try:
        yield
        session.flush()
    finally:
        apply_context(connection, tenant)


def mutual_node(session: Session, tenant: TenantRef) -> Node:
    record = session.get(Tenant, tenant.id)
    if record is None:
        raise NotFound(_l("Mutuelle introuvable."))
    return record.federation


def check_staff_invitation(
    session: Session, tenant: TenantRef, actor: Actor, provider: CareProvider, *, full_name: str,
    email: str | None, phone: str | None,
) -> None:  # fmt: skip
    """The rules of a provider staff invitation (checked before the step-up too)."""
    require_in_branch(session, tenant, actor, MANAGE)
    if provider.status != ProviderStatus.active:
        raise FieldError("full_name", _l("Ce prestataire n'est pas actif."))
    with _public_writes(session):
        accounts.check_invitation(
            session, actor, full_name=full_name, email=email, phone=phone, node=mutual_node(session, tenant),
            profile=get_profile(session, STAFF_PROFILE),
        )  # fmt: skip


def invite_staff(
    session: Session, tenant: TenantRef, actor: Actor, provider: CareProvider, *, full_name: str,
    email: str | None, phone: str | None, locale: str = "fr",
) -> accounts.IssuedLink:  # fmt: skip
    """An account for a provider's staff member: the ``provider_staff`` profile on the mutual's node and a
    ``provider_users`` row limiting it to ``provider``. Returns the invitation link to hand over."""
    check_staff_invitation(session, tenant, actor, provider, full_name=full_name, email=email, phone=phone)
    with _public_writes(session):
        link = accounts.invite(
            session, actor, full_name=full_name, email=email, phone=phone, locale=locale,
            node=mutual_node(session, tenant), profile=get_profile(session, STAFF_PROFILE),
        )  # fmt: skip
        account_id, account_public_id = link.account.id, link.account.public_id
    session.add(ProviderUser(provider_id=provider.id, account_id=account_id))
    session.flush()
    record_event(
        session, actor, "care.provider_staff_invited", target_type="care_provider",
        target_id=provider.public_id,
        after={"account": account_public_id},
    )  # fmt: skip
    return link


def attach_account(
    session: Session, tenant: TenantRef, actor: Actor, provider: CareProvider, account_id: int
) -> None:
    """Tie an existing account to a provider (the demo, the CLI)."""
    require_in_branch(session, tenant, actor, MANAGE)
    session.add(ProviderUser(provider_id=provider.id, account_id=account_id))
    session.flush()
    record_event(
        session, actor, "care.provider_staff_attached", target_type="care_provider",
        target_id=provider.public_id, after={"account_id": account_id},
    )  # fmt: skip


@dataclass(frozen=True)
class StaffMember:
    account_id: int
    full_name: str
    login: str
    status: str


def staff_of(session: Session, provider: CareProvider) -> list[StaffMember]:
    ids = list(
        session.scalars(select(ProviderUser.account_id).where(ProviderUser.provider_id == provider.id))
    )
    if not ids:
        return []
    rows = session.execute(
        select(Account.id, Account.full_name, Account.email, Account.phone, Account.status).where(
            Account.id.in_(ids)
        )
    ).all()
    return [StaffMember(r.id, r.full_name, r.email or r.phone or "", str(r.status)) for r in rows]
