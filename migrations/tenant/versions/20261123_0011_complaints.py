"""complaints (placeholder: filled by the issue that owns it)

Revision ID: t0011
Revises: t0010
Create Date: 2026-11-23
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "t0011"
down_revision = "t0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
