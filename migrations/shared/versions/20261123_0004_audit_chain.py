"""audit log: hash chain, actor's grants, outcome and request columns

Revision ID: s0004
Revises: s0003
Create Date: 2026-11-23

Rows already in the table keep NULL chain columns: the migration cannot know the HMAC key (it lives
outside the database), so ``mbolo db upgrade`` chains them afterwards (``app.audit.services.seal_unchained``).
``actor_grants`` and ``outcome`` get server defaults so that code still running during an upgrade can
keep inserting.
"""

import sqlalchemy as sa
from alembic import op

revision = "s0004"
down_revision = "s0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("audit_events", "id", type_=sa.BigInteger, schema="public")
    op.execute("ALTER SEQUENCE public.audit_events_id_seq AS bigint")
    for column in (
        sa.Column("seq", sa.BigInteger),
        sa.Column("prev_hash", sa.String(64)),
        sa.Column("hash", sa.String(64)),
        sa.Column("actor_grants", sa.String(500), nullable=False, server_default=""),
        sa.Column("outcome", sa.String(10), nullable=False, server_default="success"),
        sa.Column("user_agent", sa.String(300)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("method", sa.String(10)),
        sa.Column("path", sa.String(300)),
    ):
        op.add_column("audit_events", column, schema="public")
    op.create_unique_constraint("uq_audit_events_seq", "audit_events", ["seq"], schema="public")
    op.create_index("ix_audit_events_request_id", "audit_events", ["request_id"], schema="public")


def downgrade() -> None:
    op.drop_index("ix_audit_events_request_id", "audit_events", schema="public")
    op.drop_constraint("uq_audit_events_seq", "audit_events", schema="public")
    for name in (
        "path",
        "method",
        "request_id",
        "user_agent",
        "outcome",
        "actor_grants",
        "hash",
        "prev_hash",
        "seq",
    ):
        op.drop_column("audit_events", name, schema="public")
    op.execute("ALTER SEQUENCE public.audit_events_id_seq AS integer")
    op.alter_column("audit_events", "id", type_=sa.Integer, schema="public")
