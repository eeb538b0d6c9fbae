"""care signals: fraud and abuse signals for the médecin-conseil (medical control)

Revision ID: t0014
Revises: t0013
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "t0014"
down_revision = "t0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_care_signals"),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column(
            "provider_id",
            sa.Integer(),
            sa.ForeignKey("care_providers.id", name="fk_care_signals_provider_id_care_providers"),
        ),
        sa.Column(
            "member_id", sa.Integer(), sa.ForeignKey("members.id", name="fk_care_signals_member_id_members")
        ),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("value", sa.Integer()),
        sa.Column("threshold", sa.Integer()),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("closed_by_label", sa.String(200)),
        sa.Column("close_comment", sa.String(1000)),
        sa.UniqueConstraint("public_id", name="uq_care_signals_public_id"),
        sa.UniqueConstraint("key", name="uq_care_signals_key"),
    )
    op.create_index("ix_care_signals_status", "care_signals", ["status", "raised_at"])
    op.create_index("ix_care_signals_provider_id", "care_signals", ["provider_id"])
    op.create_index("ix_care_signals_member_id", "care_signals", ["member_id"])


def downgrade() -> None:
    op.drop_table("care_signals")
