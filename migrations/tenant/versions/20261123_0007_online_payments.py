"""online payments: payments, their events, the webhook inbox, the sandbox's ledger

Revision ID: t0007
Revises: t0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "t0007"
down_revision = "t0006"
branch_labels = None
depends_on = None


def _fk(target: str, name: str) -> sa.ForeignKey:
    return sa.ForeignKey(target, name=name)


def upgrade() -> None:
    op.create_table(
        "online_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_online_payments"),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column(
            "member_id",
            sa.Integer(),
            _fk("members.id", "fk_online_payments_member_id_members"),
            nullable=False,
        ),
        sa.Column("provider", sa.String(30), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("provider_ref", sa.String(120)),
        sa.Column("redirect_url", sa.String(1000)),
        sa.Column("instructions", sa.String(1000)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("succeeded_at", sa.DateTime(timezone=True)),
        sa.Column("refunded_amount", sa.Integer(), nullable=False),
        sa.Column(
            "contribution_payment_id",
            sa.Integer(),
            _fk("contribution_payments.id", "fk_online_payments_contribution_payment"),
        ),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("flag_reason", sa.String(300)),
        sa.Column("started_by_label", sa.String(200), nullable=False),
        sa.UniqueConstraint("public_id", name="uq_online_payments_public_id"),
        sa.UniqueConstraint("provider", "provider_ref", name="uq_online_payments_provider"),
    )
    op.create_index("ix_online_payments_member_id", "online_payments", ["member_id"])
    op.create_index("ix_online_payments_status", "online_payments", ["status", "created_at"])
    op.create_table(
        "online_payment_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_online_payment_events"),
        sa.Column(
            "payment_id",
            sa.Integer(),
            _fk("online_payments.id", "fk_online_payment_events_payment_id_online_payments"),
            nullable=False,
        ),
        sa.Column("from_status", sa.String(20), nullable=False),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("provider_event_id", sa.String(200)),
        sa.Column("note", sa.String(300)),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_online_payment_events_payment_id", "online_payment_events", ["payment_id"])
    op.create_table(
        "payment_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_inbox"),
        sa.Column("provider", sa.String(30), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("parsed", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.String(500)),
        sa.UniqueConstraint("provider", "event_id", name="uq_payment_inbox_provider"),
    )
    op.create_table(
        "sandbox_charges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_charges"),
        sa.Column("provider_ref", sa.String(120), nullable=False),
        sa.Column("payment_public_id", sa.String(32), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("refunded_amount", sa.Integer(), nullable=False),
        sa.Column("return_url", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("provider_ref", name="uq_sandbox_charges_provider_ref"),
    )


def downgrade() -> None:
    op.drop_table("sandbox_charges")
    op.drop_table("payment_inbox")
    op.drop_index("ix_online_payment_events_payment_id", "online_payment_events")
    op.drop_table("online_payment_events")
    op.drop_index("ix_online_payments_status", "online_payments")
    op.drop_index("ix_online_payments_member_id", "online_payments")
    op.drop_table("online_payments")
