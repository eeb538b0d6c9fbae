"""hierarchy nodes and the tenant registry

Revision ID: s0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "s0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hierarchy_nodes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("code", sa.String(30), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("public.hierarchy_nodes.id"), index=True),
        sa.Column("path", sa.String(400), nullable=False, index=True),
        sa.Column("region", sa.String(80)),
        sa.Column("department", sa.String(80)),
        sa.Column("commune", sa.String(80)),
        sa.Column("address", sa.String(300)),
        sa.Column("phone", sa.String(30)),
        sa.Column("email", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("kind IN ('ministry', 'federation', 'league', 'association')", name="kind"),
        sa.CheckConstraint("(kind = 'ministry') = (parent_id IS NULL)", name="root_is_ministry"),
        schema="public",
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("slug", sa.String(30), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sector", sa.String(40), nullable=False),
        sa.Column(
            "federation_id",
            sa.Integer,
            sa.ForeignKey("public.hierarchy_nodes.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("schema_name", sa.String(40), nullable=False, unique=True),
        sa.Column("owner_role", sa.String(63), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("slug ~ '^[a-z0-9_]{2,30}$'", name="slug_format"),
        schema="public",
    )


def downgrade() -> None:
    op.drop_table("tenants", schema="public")
    op.drop_table("hierarchy_nodes", schema="public")
