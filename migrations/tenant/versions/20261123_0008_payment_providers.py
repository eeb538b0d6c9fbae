"""online payments: merchant credentials (encrypted), reconciliation runs and their differences, Orange
Money's notification token hash

Revision ID: t0008
Revises: t0007
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "t0008"
down_revision = "t0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("online_payments", sa.Column("notif_token_sha256", sa.String(64)))
    op.create_index("ix_online_payments_notif_token_sha256", "online_payments", ["notif_token_sha256"])
    op.create_table(
        "provider_credentials",
        sa.Column("provider", sa.String(30), primary_key=True),
        sa.Column("ciphertext", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by_label", sa.String(200), nullable=False),
    )
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("provider", sa.String(30), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("matched", sa.Integer, nullable=False),
        sa.Column("differences", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS),
    )
    op.create_table(
        "reconciliation_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("reconciliation_runs.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("provider_ref", sa.String(200)),
        sa.Column("payment_id", sa.Integer, sa.ForeignKey("online_payments.id")),
        sa.Column("our_amount", sa.Integer),
        sa.Column("their_amount", sa.Integer),
        sa.Column("resolved_at", TS),
        sa.Column("resolved_by_label", sa.String(200)),
        sa.Column("comment", sa.String(500)),
    )


def downgrade() -> None:
    op.drop_table("reconciliation_items")
    op.drop_table("reconciliation_runs")
    op.drop_table("provider_credentials")
    op.drop_index("ix_online_payments_notif_token_sha256", "online_payments")
    op.drop_column("online_payments", "notif_token_sha256")
