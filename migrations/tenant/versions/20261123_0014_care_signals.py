"""care signals (placeholder: filled by the issue that owns it)

Revision ID: t0014
Revises: t0013
Create Date: 2026-11-23
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "t0014"
down_revision = "t0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
