"""Run both Alembic histories: ``public`` first, then every tenant schema under its owner role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from app.database import runtime_role, safe_identifier, tenant_group_role
from tenants.context import TenantRef, apply_context

HERE = Path(__file__).resolve().parent
SHARED, TENANT = HERE / "shared", HERE / "tenant"
#: Shared tables a tenant role may read while serving that tenant (the rest stays out of its reach).
TENANT_READABLE = ("tenants", "hierarchy_nodes", "grants", "profiles", "profile_permissions", "permissions")
#: Accounts are readable by tenant roles without their secrets (the ORM defers ``password_hash``).
ACCOUNT_COLUMNS_HIDDEN_FROM_TENANTS = ("password_hash",)


class MigrationRefused(RuntimeError):
    pass


@dataclass(frozen=True)
class Step:
    schema: str
    before: str | None
    after: str | None


def _config(location: Path, connection: Connection, **attributes: object) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.attributes.update(connection=connection, **attributes)
    return cfg


def head(location: Path = SHARED) -> str:
    return ScriptDirectory(str(location)).get_current_head() or ""


def current_revision(connection: Connection, schema: str) -> str | None:
    ctx = MigrationContext.configure(connection, opts={"version_table_schema": schema})
    return ctx.get_current_revision()


def ensure_roles(connection: Connection, app_password: str | None) -> None:
    """Create (or update) the runtime login role and the tenant group role of this database."""
    url = connection.engine.url
    app_role, group = runtime_role(url), tenant_group_role(url)
    existing = set(connection.scalars(text("SELECT rolname FROM pg_roles")).all())
    if group not in existing:
        connection.exec_driver_sql(f'CREATE ROLE "{group}" NOLOGIN')
    # NOINHERIT: the runtime role holds tenant privileges only after SET ROLE to that tenant.
    verb = "ALTER" if app_role in existing else "CREATE"
    connection.exec_driver_sql(f'{verb} ROLE "{app_role}" LOGIN NOINHERIT')
    if app_password is not None:
        connection.execute(text(f'ALTER ROLE "{app_role}" PASSWORD :p'), {"p": app_password})
    database = safe_identifier(url.database or "")
    connection.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO "{app_role}", "{group}"')


def grant_shared_privileges(connection: Connection) -> None:
    """Grant the shared tables explicitly: the runtime role reads and writes them (but only appends to
    the audit log); tenant roles read the registry, hierarchy and accounts and append to the audit log."""
    url = connection.engine.url
    app_role, group = runtime_role(url), tenant_group_role(url)
    tables = set(
        connection.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
    )
    connection.exec_driver_sql(f'GRANT USAGE ON SCHEMA public TO "{app_role}", "{group}"')
    connection.exec_driver_sql(
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app_role}"'
    )
    connection.exec_driver_sql(
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{app_role}", "{group}"'
    )
    if "audit_events" in tables:
        connection.exec_driver_sql(f'REVOKE UPDATE, DELETE ON public.audit_events FROM "{app_role}"')
        connection.exec_driver_sql(f'GRANT SELECT, INSERT ON public.audit_events TO "{group}"')
    if "staff_messages" in tables:  # notify_staff from inside a mutual's work (delivery runs as the app role)
        connection.exec_driver_sql(f'GRANT SELECT, INSERT ON public.staff_messages TO "{group}"')
    for table in TENANT_READABLE:
        if table in tables:
            connection.exec_driver_sql(f'GRANT SELECT ON public."{table}" TO "{group}"')
    if "accounts" in tables:
        connection.exec_driver_sql(f'REVOKE SELECT ON public.accounts FROM "{group}"')
        columns = connection.scalars(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = 'accounts' ORDER BY ordinal_position"
            )
        ).all()
        visible = ", ".join(
            f'"{safe_identifier(c)}"' for c in columns if c not in ACCOUNT_COLUMNS_HIDDEN_FROM_TENANTS
        )
        connection.exec_driver_sql(f'GRANT SELECT ({visible}) ON public.accounts TO "{group}"')


def sync_permission_catalog(connection: Connection) -> None:
    """Record permission codes new to this database and seed the built-in profiles (idempotent)."""
    from sqlalchemy.orm import Session

    from app.security.profiles import sync_catalog

    with Session(bind=connection) as session:
        sync_catalog(session)
        session.flush()


def list_tenants(connection: Connection) -> list[TenantRef]:
    exists = connection.scalar(text("SELECT to_regclass('public.tenants') IS NOT NULL"))
    if not exists:
        return []
    rows = connection.execute(
        text("SELECT id, slug, name, schema_name, owner_role FROM public.tenants ORDER BY slug")
    )
    return [TenantRef(id=r[0], slug=r[1], name=r[2], schema=r[3], role=r[4]) for r in rows]


def _audit_table(connection: Connection, tenant: TenantRef) -> str | None:
    """``"t_x".audit_events`` if the tenant's audit table exists (quoted, from validated names)."""
    table = f'"{safe_identifier(tenant.schema)}".audit_events'
    return table if connection.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}) else None


def secure_tenant_audit(connection: Connection, tenant: TenantRef) -> None:
    """Make the tenant's audit log append-only for the tenant's role (and so for requests acting as it).

    Tenant migrations run as the tenant's role, which would own the table it creates and could rewrite
    it. Run as the owner connection (no tenant role set), this gives the table and its id sequence to
    the owner and leaves the tenant role SELECT and INSERT. Idempotent. The tenant role still owns the
    schema, so it could DROP the whole table: ``mbolo audit verify`` reports a missing or re-created table
    (owner, privileges) and the exported heads reveal the lost rows.
    """
    apply_context(connection, None)  # RESET ROLE: the owner (a superuser, or a member of each tenant role)
    table = _audit_table(connection, tenant)
    if table is None:
        return
    role = safe_identifier(tenant.role)
    connection.exec_driver_sql(f"ALTER TABLE {table} OWNER TO CURRENT_USER")  # its sequence follows
    connection.exec_driver_sql(f'REVOKE ALL ON {table} FROM "{role}"')
    connection.exec_driver_sql(f'GRANT SELECT, INSERT ON {table} TO "{role}"')
    sequence = connection.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
    if sequence:  # a name quoted by PostgreSQL itself
        connection.exec_driver_sql(f'REVOKE ALL ON SEQUENCE {sequence} FROM "{role}"')
        connection.exec_driver_sql(f'GRANT USAGE ON SEQUENCE {sequence} TO "{role}"')


def _lend_audit_to_tenant(connection: Connection, tenant: TenantRef) -> None:
    """For the length of a migration (one transaction, the table locked), hand the audit table back to
    the tenant's role so its migrations may alter or drop it; ``secure_tenant_audit`` takes it back."""
    apply_context(connection, None)
    table = _audit_table(connection, tenant)
    if table is not None:
        connection.exec_driver_sql(f'ALTER TABLE {table} OWNER TO "{safe_identifier(tenant.role)}"')


def migrate_tenant(connection: Connection, tenant: TenantRef, revision: str = "head") -> Step:
    """Move one tenant schema to ``revision``, as the tenant's owner role, inside the open transaction;
    then make its audit log append-only again (``secure_tenant_audit``)."""
    apply_context(connection, tenant)
    before = current_revision(connection, tenant.schema)
    if revision != "head" or before != head(TENANT):
        _lend_audit_to_tenant(connection, tenant)
        apply_context(connection, tenant)
    cfg = _config(TENANT, connection, schema=tenant.schema)
    if revision.startswith("-"):
        if before is not None:
            command.downgrade(cfg, revision)
    else:
        command.upgrade(cfg, revision)
    after = current_revision(connection, tenant.schema)
    apply_context(connection, None)
    secure_tenant_audit(connection, tenant)
    return Step(tenant.schema, before, after)


def upgrade_all(
    engine: Engine, *, app_password: str | None = None, report: Callable[[Step], None] = print
) -> list[Step]:
    """Migrate ``public`` then every tenant to head; one transaction per schema."""
    steps = []
    with engine.begin() as connection:
        ensure_roles(connection, app_password)
        before = current_revision(connection, "public")
        command.upgrade(_config(SHARED, connection), "head")
        grant_shared_privileges(connection)
        sync_permission_catalog(connection)
        steps.append(Step("public", before, current_revision(connection, "public")))
        report(steps[-1])
        tenants = list_tenants(connection)
    for tenant in tenants:
        with engine.begin() as connection:
            steps.append(migrate_tenant(connection, tenant))
            report(steps[-1])
    return steps


def downgrade_all(engine: Engine, *, report: Callable[[Step], None] = print) -> list[Step]:
    """Step every tenant back one revision, then ``public``."""
    steps = []
    with engine.begin() as connection:
        tenants = list_tenants(connection)
        shared_now = current_revision(connection, "public")
        shared_base = ScriptDirectory(str(SHARED)).get_revision(shared_now) if shared_now else None
        if tenants and shared_base is not None and shared_base.down_revision is None:
            raise MigrationRefused(
                "refusing to drop the tenant registry while tenants exist (public is at its first revision)"
            )
    for tenant in tenants:
        with engine.begin() as connection:
            steps.append(migrate_tenant(connection, tenant, "-1"))
            report(steps[-1])
    with engine.begin() as connection:
        before = current_revision(connection, "public")
        if before is not None:
            command.downgrade(_config(SHARED, connection), "-1")
        grant_shared_privileges(connection)
        steps.append(Step("public", before, current_revision(connection, "public")))
        report(steps[-1])
    return steps


def pending_schemas(engine: Engine) -> list[str]:
    """Schemas not at their history's head (empty when everything is migrated)."""
    shared_head, tenant_head = head(SHARED), head(TENANT)
    behind = []
    with engine.begin() as connection:
        if current_revision(connection, "public") != shared_head:
            return ["public"]
        for tenant in list_tenants(connection):
            apply_context(connection, tenant)
            if current_revision(connection, tenant.schema) != tenant_head:
                behind.append(tenant.schema)
            apply_context(connection, None)
    return behind
