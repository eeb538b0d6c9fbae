"""Alembic environment of the tenant history.

The runner opens the transaction with the tenant's context already set (owner role + search_path), so
tables are created in the tenant schema and owned by the tenant's role; the version table lives there too.
"""

from alembic import context

import app.models  # noqa: F401 - registers every tenant table on the metadata
from app.database import TenantModel

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=TenantModel.metadata,
    version_table_schema=context.config.attributes["schema"],
)
with context.begin_transaction():
    context.run_migrations()
