"""supervision: indicator facts and per-node snapshots, population targets, alert rules and alerts, the
quarterly report archive (all in public: the ministry never reads a tenant schema at request time)

Revision ID: s0008
Revises: s0007
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "s0008"
down_revision = "s0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NODE = "public.hierarchy_nodes.id"


def upgrade() -> None:
    # Not in runner.TENANT_READABLE: tenant roles never read or write these; the runtime role writes them
    # outside any tenant context, after computing a tenant's figures inside it.
    op.create_table(
        "supervision_facts",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("public.tenants.id"), primary_key=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey(NODE), primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("measure", sa.String(40), primary_key=True),
        sa.Column("breakdown", sa.String(20), primary_key=True, server_default=""),
        sa.Column("value", sa.BigInteger, nullable=False),
        schema="public",
    )
    op.create_index(
        "ix_supervision_facts_node_month", "supervision_facts", ["node_id", "month"], schema="public"
    )
    op.create_table(
        "supervision_snapshots",
        sa.Column("node_id", sa.Integer, sa.ForeignKey(NODE), primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("measure", sa.String(40), primary_key=True),
        sa.Column("breakdown", sa.String(20), primary_key=True, server_default=""),
        sa.Column("value", sa.BigInteger, nullable=False),
        schema="public",
    )
    op.create_table(
        "supervision_refreshes",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("public.tenants.id"), primary_key=True),
        sa.Column("watermark", TS),
        sa.Column("first_month", sa.Date),
        sa.Column("last_month", sa.Date),
        sa.Column("months", sa.Integer, nullable=False, server_default="0"),
        sa.Column("facts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duration_ms", sa.Integer, nullable=False, server_default="0"),
        sa.Column("finished_at", TS),
        schema="public",
    )
    op.create_table(
        "supervision_targets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey(NODE), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("population", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by_label", sa.String(200), nullable=False),
        sa.UniqueConstraint("node_id", "year", name="uq_supervision_targets_node_year"),
        schema="public",
    )
    op.create_table(
        "supervision_alert_rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey(NODE), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("threshold", sa.Numeric(14, 2), nullable=False),
        sa.Column("applies_to", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by_label", sa.String(200), nullable=False),
        schema="public",
    )
    op.create_table(
        "supervision_alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("public.supervision_alert_rules.id"), nullable=False),
        sa.Column("node_id", sa.Integer, sa.ForeignKey(NODE), nullable=False, index=True),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("value", sa.Numeric(14, 2), nullable=False),
        sa.Column("threshold", sa.Numeric(14, 2), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("acknowledged_at", TS),
        sa.Column("acknowledged_by_id", sa.Integer, sa.ForeignKey("public.accounts.id")),
        sa.Column("acknowledged_by_label", sa.String(200)),
        sa.Column("comment", sa.String(1000)),
        sa.UniqueConstraint("rule_id", "node_id", "month", name="uq_supervision_alerts_rule_node_month"),
        schema="public",
    )
    op.create_table(
        "supervision_reports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey(NODE), nullable=False, index=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("quarter", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pdf_path", sa.String(300)),
        sa.Column("xlsx_path", sa.String(300)),
        sa.Column("error", sa.Text),
        sa.Column("automatic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("requested_by_id", sa.Integer, sa.ForeignKey("public.accounts.id")),
        sa.Column("requested_by_label", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        schema="public",
    )


def downgrade() -> None:
    for table in (
        "supervision_reports",
        "supervision_alerts",
        "supervision_alert_rules",
        "supervision_targets",
        "supervision_refreshes",
        "supervision_snapshots",
        "supervision_facts",
    ):
        op.drop_table(table, schema="public")
