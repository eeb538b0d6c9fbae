"""Create a tenant's role and schema and bring the schema to head, inside the caller's transaction.

We migrate rather than clone a template schema: the tenant history is the single source of truth, and
``bench/tenant_provisioning.py`` measures it well under the 2 s target.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.database import runtime_role, safe_identifier, tenant_group_role
from migrations.runner import migrate_tenant
from tenants.context import TenantRef


def provision_schema(connection: Connection, tenant: TenantRef) -> None:
    """Role ``<db>_t_<slug>`` (member of the tenant group) owns schema ``t_<slug>``; the runtime role may
    SET ROLE to it but, being NOINHERIT, holds none of its rights otherwise."""
    url = connection.engine.url
    role, schema = safe_identifier(tenant.role), safe_identifier(tenant.schema)
    group, app_role = tenant_group_role(url), runtime_role(url)
    connection.exec_driver_sql(f'CREATE ROLE "{role}" NOLOGIN IN ROLE "{group}"')
    connection.exec_driver_sql(f'GRANT "{role}" TO "{app_role}"')
    if not connection.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")):
        connection.exec_driver_sql(f'GRANT "{role}" TO CURRENT_USER')
    connection.exec_driver_sql(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"')
    migrate_tenant(connection, tenant)
