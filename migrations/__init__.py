"""Alembic, two histories: ``shared`` (the public schema) and ``tenant`` (each tenant schema, under
that tenant's owner role). ``migrations.runner`` drives both; ``mbolo db upgrade|downgrade`` calls it."""
