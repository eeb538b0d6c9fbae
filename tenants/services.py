"""Tenant lifecycle: create (provision role + schema at head), suspend, reactivate, archive (data kept)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.database import role_prefix, utcnow
from app.errors import FieldError, NotFound
from app.security.actor import Actor
from hierarchy.models import Node, NodeKind, NodeStatus
from tenants.context import TenantRef
from tenants.errors import TenantTransitionRefused
from tenants.models import Tenant, TenantStatus
from tenants.provisioning import provision_schema
from tenants.slugs import owner_role_name, schema_name, validate_slug

SECTORS = {
    "artisanat": _l("Artisanat"),
    "commerce": _l("Commerce"),
    "transport": _l("Transport"),
    "agriculture": _l("Agriculture"),
    "peche": _l("Pêche"),
    "autre": _l("Autre"),
}

TRANSITIONS = {
    TenantStatus.active: {TenantStatus.suspended, TenantStatus.archived},
    TenantStatus.suspended: {TenantStatus.active, TenantStatus.archived},
    TenantStatus.archived: set(),
}


def list_tenants(session: Session, actor: Actor) -> list[Tenant]:
    """The tenants whose fédération lies in the actor's reach."""
    tenants = session.scalars(select(Tenant).order_by(Tenant.slug)).all()
    return [t for t in tenants if actor.can("tenants.read", t.federation.path)]


def find_tenant(session: Session, slug: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.slug == slug))


def get_tenant(session: Session, slug: str) -> Tenant:
    tenant = find_tenant(session, slug)
    if tenant is None:
        raise NotFound(_l("Cette mutuelle n'existe pas."))
    return tenant


def list_free_federations(session: Session, actor: Actor) -> list[Node]:
    """Open fédérations without a mutual yet, where the actor may create one."""
    taken = select(Tenant.federation_id)
    nodes = session.scalars(
        select(Node)
        .where(Node.kind == NodeKind.federation, Node.status == NodeStatus.active, Node.id.not_in(taken))
        .order_by(Node.name)
    )
    return [n for n in nodes if actor.can("tenants.create", n.path)]


def check_new_tenant(
    session: Session, actor: Actor, *, slug: str, name: str, sector: str, federation_code: str
) -> tuple[str, Node]:
    """Every rule a new mutual must pass (views check them before asking for the step-up too)."""
    slug = validate_slug((slug or "").strip())
    if not name or not name.strip():
        raise FieldError("name", _l("Le nom est obligatoire."))
    if sector not in SECTORS:
        raise FieldError("sector", _l("Secteur inconnu."))
    federation = session.scalar(select(Node).where(Node.code == (federation_code or "").upper()))
    if federation is None or federation.kind is not NodeKind.federation:
        raise FieldError("federation", _l("Choisissez une fédération existante."))
    actor.require("tenants.create", federation.path)
    if federation.status is NodeStatus.closed:
        raise FieldError("federation", _l("Cette fédération est fermée."))
    if session.scalar(select(Tenant.id).where(Tenant.federation_id == federation.id)):
        raise FieldError("federation", _l("Cette fédération a déjà sa mutuelle."))
    if find_tenant(session, slug):
        raise FieldError("slug", _l("Cet identifiant est déjà pris."))
    return slug, federation


def create_tenant(
    owner_engine: Engine, actor: Actor, *, slug: str, name: str, sector: str, federation_code: str
) -> TenantRef:
    """Register a mutual and provision its role and schema at head, atomically.

    Runs in its own transaction on the owner connection (creating roles and schemas is beyond the
    runtime role's rights); PostgreSQL DDL is transactional, so a failure leaves nothing behind.
    """
    with owner_engine.connect() as connection, Session(bind=connection) as session:
        slug, federation = check_new_tenant(
            session, actor, slug=slug, name=name, sector=sector, federation_code=federation_code
        )
        tenant = Tenant(
            slug=slug,
            name=name.strip(),
            sector=sector,
            federation_id=federation.id,
            schema_name=schema_name(slug),
            owner_role=owner_role_name(role_prefix(connection.engine.url), slug),
        )
        session.add(tenant)
        session.flush()
        ref = TenantRef.of(tenant)
        provision_schema(session.connection(), ref)
        record_event(
            session,
            actor,
            "tenants.created",
            target_type="tenant",
            target_id=slug,
            tenant_slug=slug,
            name=tenant.name,
            sector=sector,
            federation=federation.code,
        )
        session.commit()
    return ref


def change_status(
    session: Session, actor: Actor, tenant: Tenant, status: TenantStatus, reason: str
) -> Tenant:
    """Suspend, reactivate or archive a tenant. Nothing is deleted: the schema and its data stay."""
    actor.require("tenants.manage", tenant.federation.path)
    if not reason or not reason.strip():
        raise FieldError("reason", _l("Indiquez le motif."))
    if status not in TRANSITIONS[tenant.status]:
        raise TenantTransitionRefused(_l("Ce changement de statut n'est pas possible."))
    previous = tenant.status
    tenant.status, tenant.status_changed_at = status, utcnow()
    session.flush()
    record_event(
        session,
        actor,
        f"tenants.{status.value}",
        target_type="tenant",
        target_id=tenant.slug,
        tenant_slug=tenant.slug,
        previous=previous.value,
        reason=reason.strip(),
    )
    return tenant
