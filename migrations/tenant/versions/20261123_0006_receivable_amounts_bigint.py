"""subsidy receivables: amounts as bigint

A funder's receivable is one month of a whole mutual's subsidies: at the scale the platform is built for
(1,000,000 households; a yearly product called in one month) it passes 2,147,483,647 F CFA, the limit of an
integer column. Dues stay integer (one household's due is far below it).

Revision ID: t0006
Revises: t0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("amount", "received_amount"):
        op.alter_column("subsidy_receivables", column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    for column in ("amount", "received_amount"):
        op.alter_column("subsidy_receivables", column, type_=sa.Integer(), existing_type=sa.BigInteger())
