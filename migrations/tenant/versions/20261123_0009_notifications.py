"""notifications: the outbox grows events, members, locales, delivery status and retries; member preferences

Revision ID: t0009
Revises: t0008
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "t0009"
down_revision = "t0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NEW_COLUMNS = (
    ("subject", sa.String(200)),
    ("event", sa.String(40)),
    ("locale", sa.String(5)),
    ("dedupe_key", sa.String(120)),
    ("claimed_at", TS),
    ("sent_at", TS),
    ("read_at", TS),
    ("next_attempt_at", TS),
    ("last_error", sa.String(500)),
    ("provider", sa.String(30)),
    ("provider_message_id", sa.String(120)),
    ("created_by_label", sa.String(200)),
)


def upgrade() -> None:
    for name, kind in NEW_COLUMNS:
        op.add_column("outbox_messages", sa.Column(name, kind))
    op.add_column(
        "outbox_messages",
        sa.Column(
            "member_id", sa.Integer, sa.ForeignKey("members.id", name="fk_outbox_messages_member_id_members")
        ),
    )
    op.create_unique_constraint("uq_outbox_messages_dedupe_key", "outbox_messages", ["dedupe_key"])
    op.create_index("ix_outbox_messages_member_id", "outbox_messages", ["member_id"])
    op.create_index("ix_outbox_messages_event", "outbox_messages", ["event"])
    op.create_index("ix_outbox_messages_provider_message_id", "outbox_messages", ["provider_message_id"])
    op.create_index("ix_outbox_messages_status", "outbox_messages", ["status", "next_attempt_at"])
    op.create_table(
        "member_preferences",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "member_id",
            sa.Integer,
            sa.ForeignKey("members.id", name="fk_member_preferences_member_id_members"),
            nullable=False,
        ),
        sa.Column("locale", sa.String(5), nullable=False),
        sa.Column("email", sa.String(200)),
        sa.Column("sms_enabled", sa.Boolean, nullable=False),
        sa.Column("email_enabled", sa.Boolean, nullable=False),
        sa.Column("portal_enabled", sa.Boolean, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by_label", sa.String(200), nullable=False),
        sa.UniqueConstraint("member_id", name="uq_member_preferences_member_id"),
    )


def downgrade() -> None:
    op.drop_table("member_preferences")
    op.drop_index("ix_outbox_messages_status", "outbox_messages")
    op.drop_index("ix_outbox_messages_provider_message_id", "outbox_messages")
    op.drop_index("ix_outbox_messages_event", "outbox_messages")
    op.drop_index("ix_outbox_messages_member_id", "outbox_messages")
    op.drop_constraint("uq_outbox_messages_dedupe_key", "outbox_messages")
    op.drop_column("outbox_messages", "member_id")
    for name, _kind in reversed(NEW_COLUMNS):
        op.drop_column("outbox_messages", name)
