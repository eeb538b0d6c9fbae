"""staff accounts, grants, node history and the audit log

Revision ID: s0002
Revises: s0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "s0002"
down_revision = "s0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(200), unique=True),
        sa.Column("phone", sa.String(30)),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("is_platform_admin", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        schema="public",
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("public.accounts.id"), nullable=False, index=True),
        sa.Column(
            "node_id", sa.Integer, sa.ForeignKey("public.hierarchy_nodes.id"), nullable=False, index=True
        ),
        sa.Column("profile", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", "node_id", "profile"),
        schema="public",
    )
    op.create_table(
        "hierarchy_node_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "node_id",
            sa.Integer,
            sa.ForeignKey("public.hierarchy_nodes.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("actor_id", sa.Integer, sa.ForeignKey("public.accounts.id")),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        schema="public",
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor_id", sa.Integer),
        sa.Column("actor_label", sa.String(200), nullable=False),
        sa.Column("tenant_slug", sa.String(30), index=True),
        sa.Column("action", sa.String(60), nullable=False, index=True),
        sa.Column("target_type", sa.String(40)),
        sa.Column("target_id", sa.String(64)),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("ip_address", sa.String(64)),
        schema="public",
    )


def downgrade() -> None:
    op.drop_table("audit_events", schema="public")
    op.drop_table("hierarchy_node_events", schema="public")
    op.drop_table("grants", schema="public")
    op.drop_table("accounts", schema="public")
