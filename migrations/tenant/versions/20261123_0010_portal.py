"""portal: members' portal access (activation, optional password, session epoch) and one-time sign-in codes

Revision ID: t0010
Revises: t0009
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "t0010"
down_revision = "t0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_portal_access"),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", name="fk_portal_access_member_id_members"),
            nullable=False,
        ),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("password_set_at", sa.DateTime(timezone=True)),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True)),
        sa.Column("share_household", sa.Boolean(), nullable=False),
        sa.Column("failed_passwords", sa.SmallInteger(), nullable=False),
        sa.UniqueConstraint("member_id", name="uq_portal_access_member_id"),
    )
    op.create_table(
        "portal_sign_in_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_portal_sign_in_codes"),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", name="fk_portal_sign_in_codes_member_id_members"),
            nullable=False,
        ),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("requested_ip", sa.String(45)),
    )
    op.create_index("ix_portal_sign_in_codes_member", "portal_sign_in_codes", ["member_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_portal_sign_in_codes_member", table_name="portal_sign_in_codes")
    op.drop_table("portal_sign_in_codes")
    op.drop_table("portal_access")
