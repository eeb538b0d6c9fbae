"""staff notifications: messages to staff accounts (e-mail, else SMS) with their delivery status

Revision ID: s0007
Revises: s0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "s0007"
down_revision = "s0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Tenant roles may INSERT and SELECT (runner.grant_shared_privileges): a mutual's work notifies managers.
    op.create_table(
        "staff_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("public.accounts.id"), nullable=False, index=True),
        sa.Column("tenant_id", sa.Integer),
        sa.Column("event", sa.String(40), nullable=False, index=True),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("locale", sa.String(5), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("claimed_at", TS),
        sa.Column("sent_at", TS),
        sa.Column("delivered_at", TS),
        sa.Column("read_at", TS),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS),
        sa.Column("last_error", sa.String(500)),
        sa.Column("provider", sa.String(30)),
        sa.Column("provider_message_id", sa.String(120), index=True),
        sa.Column("created_by_label", sa.String(200), nullable=False),
        schema="public",
    )


def downgrade() -> None:
    op.drop_table("staff_messages", schema="public")
