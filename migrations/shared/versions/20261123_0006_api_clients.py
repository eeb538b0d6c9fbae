"""API clients (OAuth 2 client credentials) and their access tokens, both stored hashed

Revision ID: s0006
Revises: s0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "s0006"
down_revision = "s0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Not in runner.TENANT_READABLE: tenant roles never read them (the client is resolved before the tenant).
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_id", sa.String(40), nullable=False, unique=True),
        sa.Column("client_secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("public.accounts.id"), nullable=False, index=True),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by_id", sa.Integer, sa.ForeignKey("public.accounts.id")),
        sa.Column("created_by_label", sa.String(200), nullable=False),
        sa.Column("revoked_at", TS),
        sa.Column("last_used_at", TS),
        schema="public",
    )
    op.create_index(
        "uq_api_clients_active_name",
        "api_clients",
        ["name"],
        unique=True,
        schema="public",
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "api_client_id", sa.Integer, sa.ForeignKey("public.api_clients.id"), nullable=False, index=True
        ),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
        schema="public",
    )


def downgrade() -> None:
    op.drop_table("api_tokens", schema="public")
    op.drop_index("uq_api_clients_active_name", "api_clients", schema="public")
    op.drop_table("api_clients", schema="public")
