"""Alembic environment of the shared history (schema ``public``); the runner passes the connection."""

from alembic import context

import app.models  # noqa: F401 - registers every shared table on the metadata
from app.database import SharedModel

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SharedModel.metadata,
    version_table_schema="public",
    include_schemas=False,
)
with context.begin_transaction():
    context.run_migrations()
