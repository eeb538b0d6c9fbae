"""The tenant context of a database session, applied per transaction.

A session carries at most one ``TenantRef`` in ``session.info``. At the start of every transaction (and at
once if one is open) the connection runs ``SET LOCAL ROLE <tenant owner>`` and
``SET LOCAL search_path TO <tenant schema>, public``; both end with the transaction, commit or rollback,
so a pooled connection never carries a tenant into another request. Without a context the search path is
``public`` only and the runtime role has no right on any tenant schema: PostgreSQL refuses, and the ORM
refuses earlier with ``NoTenantContext``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, scoped_session

from app.database import TenantModel, safe_identifier

_INFO_KEY = "mbolo_tenant"


class NoTenantContext(RuntimeError):
    """A tenant table was used outside any tenant context."""

    def __init__(self, what: str = "") -> None:
        super().__init__(
            "Tenant table used without a tenant context"
            + (f" ({what})" if what else "")
            + ": wrap the work in tenants.context.tenant_scope(session, tenant)"
        )


@dataclass(frozen=True)
class TenantRef:
    """What code needs to act in one tenant: a plain value, safe to pass to tasks and services."""

    id: int
    slug: str
    name: str
    schema: str
    role: str

    @classmethod
    def of(cls, tenant: object) -> TenantRef:
        return cls(
            id=tenant.id,  # type: ignore[attr-defined]
            slug=tenant.slug,  # type: ignore[attr-defined]
            name=tenant.name,  # type: ignore[attr-defined]
            schema=tenant.schema_name,  # type: ignore[attr-defined]
            role=tenant.owner_role,  # type: ignore[attr-defined]
        )


def _unwrap(session: Session | scoped_session[Session]) -> Session:
    return session() if isinstance(session, scoped_session) else session


def current_tenant_of(session: Session | scoped_session[Session]) -> TenantRef | None:
    return _unwrap(session).info.get(_INFO_KEY)


def apply_context(connection: Connection, tenant: TenantRef | None) -> None:
    """Issue the SET LOCAL statements for ``tenant`` (or for no tenant) on the open transaction."""
    if tenant is None:
        connection.exec_driver_sql("SET LOCAL ROLE NONE")
        connection.exec_driver_sql("SET LOCAL search_path TO public")
        return
    role, schema = safe_identifier(tenant.role), safe_identifier(tenant.schema)
    connection.exec_driver_sql(f'SET LOCAL ROLE "{role}"')
    connection.exec_driver_sql(f'SET LOCAL search_path TO "{schema}", public')


def bind_tenant(session: Session | scoped_session[Session], tenant: TenantRef | None) -> None:
    """Make ``tenant`` the session's context from now on, including the open transaction if any."""
    session = _unwrap(session)
    if session.in_transaction():
        if _transaction_failed(session):
            session.rollback()  # aborted by an error: it ends here, the next one starts in the new context
        else:
            session.flush()  # pending writes belong to the context they were made in
    if tenant != current_tenant_of(session):
        _forget_tenant_objects(session)
    if tenant is None:
        session.info.pop(_INFO_KEY, None)
    else:
        session.info[_INFO_KEY] = tenant
    if session.in_transaction():
        apply_context(session.connection(), tenant)


def _forget_tenant_objects(session: Session) -> None:
    """Ids repeat from one tenant schema to the next: drop tenant rows from the identity map so that
    ``session.get`` in the new context asks the database instead of answering with the old tenant's row."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, TenantModel) and obj in session:  # an earlier expunge may have taken it along
            session.expunge(obj)


def _transaction_failed(session: Session) -> bool:
    from psycopg.pq import TransactionStatus

    raw = session.connection().connection.dbapi_connection
    return raw is not None and raw.info.transaction_status == TransactionStatus.INERROR


@contextmanager
def tenant_scope(session: Session | scoped_session[Session], tenant: TenantRef) -> Iterator[TenantRef]:
    """Run the block in ``tenant``'s context, then restore the previous one (even after an error)."""
    session = _unwrap(session)
    previous = current_tenant_of(session)
    bind_tenant(session, tenant)
    try:
        yield tenant
    except BaseException:
        session.rollback()  # an error inside a tenant's work ends its transaction: nothing half-done stays
        raise
    finally:
        bind_tenant(session, previous)


@event.listens_for(Session, "after_begin")
def _set_context_on_begin(session: Session, _transaction: object, connection: Connection) -> None:
    apply_context(connection, current_tenant_of(session))


@event.listens_for(Session, "do_orm_execute")
def _refuse_tenant_query_without_context(state: ORMExecuteState) -> None:
    if current_tenant_of(state.session) is not None:
        return
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, TenantModel):
            raise NoTenantContext(mapper.class_.__name__)


@event.listens_for(Session, "before_flush")
def _refuse_tenant_write_without_context(session: Session, _ctx: object, _instances: object) -> None:
    if current_tenant_of(session) is not None:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, TenantModel):
            raise NoTenantContext(type(obj).__name__)
