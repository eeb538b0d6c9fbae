"""care providers: the provider register, versioned conventions and their prices, provider staff, guarantee
letters, eligibility checks

Revision ID: t0012
Revises: t0011
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "t0012"
down_revision = "t0011"
branch_labels = None
depends_on = None


def _fk(target: str, name: str) -> sa.ForeignKey:
    return sa.ForeignKey(target, name=name)


def _id(table: str) -> list:
    return [sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name=f"pk_{table}")]


def upgrade() -> None:
    op.create_table(
        "care_providers",
        *_id("care_providers"),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("code", sa.String(30), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("region", sa.String(80), nullable=False),
        sa.Column("commune", sa.String(80), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("phone", sa.String(20)),
        sa.Column("email", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("payout_method", sa.String(20), nullable=False),
        sa.Column("payout_account", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("public_id", name="uq_care_providers_public_id"),
        sa.UniqueConstraint("code", name="uq_care_providers_code"),
    )
    op.create_table(
        "conventions",
        *_id("conventions"),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column(
            "provider_id",
            sa.Integer(),
            _fk("care_providers.id", "fk_conventions_provider_id_care_providers"),
            nullable=False,
        ),
        sa.Column("reference", sa.String(60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date()),
        sa.Column("pricing", sa.String(20), nullable=False),
        sa.Column("reference_rate_pct", sa.Integer(), nullable=False),
        sa.Column("payment_delay_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("document_path", sa.String(300)),
        sa.Column(
            "supersedes_id", sa.Integer(), _fk("conventions.id", "fk_conventions_supersedes_id_conventions")
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("public_id", name="uq_conventions_public_id"),
    )
    op.create_index("ix_conventions_provider_dates", "conventions", ["provider_id", "starts_on"])
    op.create_table(
        "convention_prices",
        *_id("convention_prices"),
        sa.Column(
            "convention_id",
            sa.Integer(),
            _fk("conventions.id", "fk_convention_prices_convention_id_conventions"),
            nullable=False,
        ),
        sa.Column(
            "benefit_id",
            sa.Integer(),
            _fk("benefits.id", "fk_convention_prices_benefit_id_benefits"),
            nullable=False,
        ),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.UniqueConstraint("convention_id", "benefit_id", name="uq_convention_prices_convention_id"),
    )
    op.create_index("ix_convention_prices_benefit_id", "convention_prices", ["benefit_id"])
    op.create_table(
        "provider_users",
        *_id("provider_users"),
        sa.Column(
            "provider_id",
            sa.Integer(),
            _fk("care_providers.id", "fk_provider_users_provider_id_care_providers"),
            nullable=False,
        ),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", name="uq_provider_users_account_id"),
    )
    op.create_index("ix_provider_users_provider_id", "provider_users", ["provider_id"])
    op.create_table(
        "guarantee_letters",
        *_id("guarantee_letters"),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("number", sa.String(30), nullable=False),
        sa.Column(
            "member_id",
            sa.Integer(),
            _fk("members.id", "fk_guarantee_letters_member_id_members"),
            nullable=False,
        ),
        sa.Column(
            "provider_id",
            sa.Integer(),
            _fk("care_providers.id", "fk_guarantee_letters_provider_id_care_providers"),
            nullable=False,
        ),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("estimated_amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decided_by_label", sa.String(200)),
        sa.Column("decision_note", sa.String(500)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_label", sa.String(200), nullable=False),
        sa.UniqueConstraint("public_id", name="uq_guarantee_letters_public_id"),
        sa.UniqueConstraint("number", name="uq_guarantee_letters_number"),
    )
    op.create_index("ix_guarantee_letters_member_id", "guarantee_letters", ["member_id"])
    op.create_index("ix_guarantee_letters_provider_id", "guarantee_letters", ["provider_id"])
    op.create_index("ix_guarantee_letters_status", "guarantee_letters", ["status", "created_at"])
    op.create_table(
        "guarantee_letter_items",
        *_id("guarantee_letter_items"),
        sa.Column(
            "letter_id",
            sa.Integer(),
            _fk("guarantee_letters.id", "fk_guarantee_letter_items_letter_id_guarantee_letters"),
            nullable=False,
        ),
        sa.Column(
            "benefit_id",
            sa.Integer(),
            _fk("benefits.id", "fk_guarantee_letter_items_benefit_id_benefits"),
            nullable=False,
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Integer(), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("approved", sa.Boolean()),
        sa.Column("consumed_quantity", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_guarantee_letter_items_letter_id", "guarantee_letter_items", ["letter_id"])
    op.create_table(
        "eligibility_checks",
        *_id("eligibility_checks"),
        sa.Column(
            "member_id",
            sa.Integer(),
            _fk("members.id", "fk_eligibility_checks_member_id_members"),
            nullable=False,
        ),
        sa.Column(
            "provider_id",
            sa.Integer(),
            _fk("care_providers.id", "fk_eligibility_checks_provider_id_care_providers"),
        ),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("covered", sa.Boolean(), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("actor_label", sa.String(200), nullable=False),
    )
    op.create_index("ix_eligibility_checks_member", "eligibility_checks", ["member_id", "checked_at"])
    op.create_index("ix_eligibility_checks_provider_id", "eligibility_checks", ["provider_id"])


def downgrade() -> None:
    for table in (
        "eligibility_checks",
        "guarantee_letter_items",
        "guarantee_letters",
        "provider_users",
        "convention_prices",
        "conventions",
        "care_providers",
    ):
        op.drop_table(table)
