"""staff sign in with their phone number too: one account per number

Revision ID: s0005
Revises: s0004
Create Date: 2026-11-23
"""

from alembic import op

revision = "s0005"
down_revision = "s0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Numbers typed before were free text; they become E.164 when edited. NULLs stay allowed (e-mail only).
    op.create_unique_constraint("uq_accounts_phone", "accounts", ["phone"], schema="public")


def downgrade() -> None:
    op.drop_constraint("uq_accounts_phone", "accounts", schema="public")
