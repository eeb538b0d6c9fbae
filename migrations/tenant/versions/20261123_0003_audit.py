"""the tenant's audit log (its own hash chain)

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-23

Created by the tenant's role; the runner then gives the table to the database owner and leaves the
tenant's role SELECT and INSERT only (``migrations.runner.secure_tenant_audit``).
"""

import sqlalchemy as sa
from alembic import op

revision = "t0003"
down_revision = "t0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer),
        sa.Column("actor_label", sa.String(200), nullable=False),
        sa.Column("actor_grants", sa.String(500), nullable=False, server_default=""),
        sa.Column("tenant_slug", sa.String(30)),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target_type", sa.String(40)),
        sa.Column("target_id", sa.String(64)),
        sa.Column("outcome", sa.String(10), nullable=False, server_default="success"),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("ip_address", sa.String(64)),
        sa.Column("user_agent", sa.String(300)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("method", sa.String(10)),
        sa.Column("path", sa.String(300)),
        sa.UniqueConstraint("seq", name="uq_audit_events_seq"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    op.create_index("ix_audit_events_tenant_slug", "audit_events", ["tenant_slug"])
    op.create_index("ix_audit_events_request_id", "audit_events", ["request_id"])


def downgrade() -> None:
    op.drop_table("audit_events")
