"""staff security: editable profiles, grants by profile, invitations, TOTP, step-up approvals, alerts

Revision ID: s0003
Revises: s0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "s0003"
down_revision = "s0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
#: The profiles grants already used; their permissions are filled by ``app.security.profiles.sync_catalog``.
EXISTING = (
    ("platform_admin", "Administrateur plateforme"),
    ("supervisor", "Superviseur"),
    ("mutual_manager", "Gestionnaire de mutuelle"),
    ("association_agent", "Agent d'association"),
)


def upgrade() -> None:
    for name, column in (
        ("ui_density", sa.Column("ui_density", sa.String(20), nullable=False, server_default="comfortable")),
        ("ui_text_size", sa.Column("ui_text_size", sa.String(20), nullable=False, server_default="normal")),
        ("created_by_id", sa.Column("created_by_id", sa.Integer, sa.ForeignKey("public.accounts.id"))),
        ("password_changed_at", sa.Column("password_changed_at", TS)),
        ("failed_sign_ins", sa.Column("failed_sign_ins", sa.Integer, nullable=False, server_default="0")),
        ("locked_until", sa.Column("locked_until", TS)),
        ("session_epoch", sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0")),
    ):
        assert column.name == name
        op.add_column("accounts", column, schema="public")
    op.alter_column("accounts", "password_hash", nullable=True, schema="public")

    op.create_table(
        "permissions",
        sa.Column("code", sa.String(60), primary_key=True),
        sa.Column("first_seen_at", TS, nullable=False),
        schema="public",
    )
    profiles = op.create_table(
        "profiles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("built_in", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        schema="public",
    )
    op.create_table(
        "profile_permissions",
        sa.Column(
            "profile_id",
            sa.Integer,
            sa.ForeignKey("public.profiles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("permission", sa.String(60), sa.ForeignKey("public.permissions.code"), primary_key=True),
        schema="public",
    )
    op.bulk_insert(profiles, [{"code": code, "name": name, "built_in": True} for code, name in EXISTING])

    op.add_column("grants", sa.Column("profile_id", sa.Integer), schema="public")
    op.add_column(
        "grants", sa.Column("created_by_id", sa.Integer, sa.ForeignKey("public.accounts.id")), schema="public"
    )
    op.execute("UPDATE public.grants g SET profile_id = p.id FROM public.profiles p WHERE p.code = g.profile")
    op.execute("DELETE FROM public.grants WHERE profile_id IS NULL")
    op.alter_column("grants", "profile_id", nullable=False, schema="public")
    op.create_foreign_key(
        "fk_grants_profile_id_profiles",
        "grants",
        "profiles",
        ["profile_id"],
        ["id"],
        source_schema="public",
        referent_schema="public",
    )
    op.create_index("ix_grants_profile_id", "grants", ["profile_id"], schema="public")
    op.drop_constraint("uq_grants_account_id", "grants", schema="public")  # s0002's, over the profile code
    op.drop_column("grants", "profile", schema="public")
    op.create_unique_constraint(
        "uq_grants_account_id", "grants", ["account_id", "node_id", "profile_id"], schema="public"
    )

    op.create_table(
        "account_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("public.accounts.id"), nullable=False, index=True),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by_id", sa.Integer, sa.ForeignKey("public.accounts.id")),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS),
        schema="public",
    )
    op.create_table(
        "totp_credentials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("public.accounts.id"), nullable=False, unique=True),
        sa.Column("secret_ciphertext", sa.String(400), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("confirmed_at", TS),
        sa.Column("last_used_step", sa.BigInteger),
        sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", TS),
        schema="public",
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("public.accounts.id"), nullable=False, index=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("used_at", TS),
        schema="public",
    )
    op.create_table(
        "stepup_approvals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token", sa.String(43), nullable=False, unique=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("public.accounts.id"), nullable=False, index=True),
        sa.Column("operation", sa.String(60), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("payload", sa.JSON),
        sa.Column("action_url", sa.String(500), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("approved_at", TS),
        sa.Column("consumed_at", TS),
        schema="public",
    )
    op.create_table(
        "security_alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(200), nullable=False, index=True),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("first_event_at", TS, nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("acknowledged_at", TS),
        sa.Column("acknowledged_by_id", sa.Integer, sa.ForeignKey("public.accounts.id")),
        sa.Column("comment", sa.String(500), nullable=False, server_default=""),
        schema="public",
    )


def downgrade() -> None:
    for table in (
        "security_alerts",
        "stepup_approvals",
        "recovery_codes",
        "totp_credentials",
        "account_tokens",
    ):
        op.drop_table(table, schema="public")
    op.add_column("grants", sa.Column("profile", sa.String(40)), schema="public")
    op.execute("UPDATE public.grants g SET profile = p.code FROM public.profiles p WHERE p.id = g.profile_id")
    op.drop_constraint("uq_grants_account_id", "grants", schema="public")
    op.drop_column("grants", "profile_id", schema="public")
    op.drop_column("grants", "created_by_id", schema="public")
    op.alter_column("grants", "profile", nullable=False, schema="public")
    op.create_unique_constraint(
        "grants_account_id_node_id_profile_key",
        "grants",
        ["account_id", "node_id", "profile"],
        schema="public",
    )
    op.drop_table("profile_permissions", schema="public")
    op.drop_table("profiles", schema="public")
    op.drop_table("permissions", schema="public")
    op.execute("UPDATE public.accounts SET password_hash = '!' WHERE password_hash IS NULL")
    op.alter_column("accounts", "password_hash", nullable=False, schema="public")
    for name in (
        "session_epoch",
        "locked_until",
        "failed_sign_ins",
        "password_changed_at",
        "created_by_id",
        "ui_text_size",
        "ui_density",
    ):
        op.drop_column("accounts", name, schema="public")
