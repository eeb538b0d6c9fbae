"""complaints: members' complaints and their timeline (SLA settings live in the ``settings`` table)

Revision ID: t0011
Revises: t0010
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "t0011"
down_revision = "t0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_complaints"),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(20), nullable=False),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", name="fk_complaints_member_id_members"),
            nullable=False,
        ),
        sa.Column("association_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("photo_path", sa.String(200)),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("escalation_level", sa.SmallInteger(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True)),
        sa.Column("assigned_to_id", sa.Integer()),
        sa.Column("assigned_to_label", sa.String(200)),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_by_id", sa.Integer()),
        sa.Column("filed_by_label", sa.String(200), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reopened_count", sa.SmallInteger(), nullable=False),
        sa.Column("rating", sa.SmallInteger()),
        sa.Column("rating_comment", sa.String(500)),
        sa.Column("rated_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("public_id", name="uq_complaints_public_id"),
        sa.UniqueConstraint("reference", name="uq_complaints_reference"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_complaints_rating"),
        sa.CheckConstraint("escalation_level BETWEEN 0 AND 2", name="ck_complaints_escalation_level"),
    )
    op.create_index("ix_complaints_member_id", "complaints", ["member_id"])
    op.create_index("ix_complaints_queue", "complaints", ["status", "association_id"])
    op.create_index("ix_complaints_filed_at", "complaints", ["filed_at"])
    op.create_table(
        "complaint_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_complaint_events"),
        sa.Column(
            "complaint_id",
            sa.Integer(),
            sa.ForeignKey("complaints.id", name="fk_complaint_events_complaint_id_complaints"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20)),
        sa.Column("author_id", sa.Integer()),
        sa.Column("author_label", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_complaint_events_complaint_id", "complaint_events", ["complaint_id"])


def downgrade() -> None:
    op.drop_index("ix_complaint_events_complaint_id", "complaint_events")
    op.drop_table("complaint_events")
    op.drop_index("ix_complaints_filed_at", "complaints")
    op.drop_index("ix_complaints_queue", "complaints")
    op.drop_index("ix_complaints_member_id", "complaints")
    op.drop_table("complaints")
