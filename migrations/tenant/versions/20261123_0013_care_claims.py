"""care claims: provider invoices (bordereaux), care records and lines with their controls and review,
payment batches, ceiling alerts

Revision ID: t0013
Revises: t0012
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0013"
down_revision = "t0012"
branch_labels = None
depends_on = None


def _fk(target: str, name: str) -> sa.ForeignKey:
    return sa.ForeignKey(target, name=name)


def _id(table: str) -> list:
    return [sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name=f"pk_{table}")]


def upgrade() -> None:
    op.create_table(
        "payment_batches",
        *_id("payment_batches"),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_label", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("public_id", name="uq_payment_batches_public_id"),
        sa.UniqueConstraint("number", name="uq_payment_batches_number"),
    )
    op.create_table(
        "care_invoices",
        *_id("care_invoices"),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column(
            "provider_id",
            sa.Integer(),
            _fk("care_providers.id", "fk_care_invoices_provider_id_care_providers"),
            nullable=False,
        ),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("external_ref", sa.String(80)),
        sa.Column("amount_asked", sa.BigInteger(), nullable=False),
        sa.Column("amount_accepted", sa.BigInteger(), nullable=False),
        sa.Column("member_share", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_label", sa.String(200), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        sa.Column("checked_at", sa.DateTime(timezone=True)),
        sa.Column("validated_at", sa.DateTime(timezone=True)),
        sa.Column("validated_by_label", sa.String(200)),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Column(
            "payment_batch_id",
            sa.Integer(),
            _fk("payment_batches.id", "fk_care_invoices_payment_batch_id_payment_batches"),
        ),
        sa.UniqueConstraint("public_id", name="uq_care_invoices_public_id"),
        sa.UniqueConstraint("number", name="uq_care_invoices_number"),
    )
    op.create_index("ix_care_invoices_provider_id", "care_invoices", ["provider_id"])
    op.create_index("ix_care_invoices_status", "care_invoices", ["status", "provider_id"])
    op.create_index("ix_care_invoices_payment_batch_id", "care_invoices", ["payment_batch_id"])
    op.create_index(
        "uq_care_invoices_provider_ref",
        "care_invoices",
        ["provider_id", "external_ref"],
        unique=True,
        postgresql_where=sa.text("external_ref IS NOT NULL"),
    )
    op.create_table(
        "care_records",
        *_id("care_records"),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column(
            "invoice_id", sa.Integer(), _fk("care_invoices.id", "fk_care_records_invoice_id_care_invoices")
        ),
        sa.Column(
            "provider_id",
            sa.Integer(),
            _fk("care_providers.id", "fk_care_records_provider_id_care_providers"),
            nullable=False,
        ),
        sa.Column(
            "member_id", sa.Integer(), _fk("members.id", "fk_care_records_member_id_members"), nullable=False
        ),
        sa.Column("care_date", sa.Date(), nullable=False),
        sa.Column("prescriber", sa.String(200), nullable=False),
        sa.Column("diagnosis", sa.String(300)),
        sa.Column(
            "guarantee_letter_id",
            sa.Integer(),
            _fk("guarantee_letters.id", "fk_care_records_guarantee_letter_id_guarantee_letters"),
        ),
        sa.Column("external_ref", sa.String(80)),
        sa.Column("entered_by_label", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("public_id", name="uq_care_records_public_id"),
        sa.UniqueConstraint("provider_id", "external_ref", name="uq_care_records_provider_ref"),
    )
    op.create_index("ix_care_records_invoice_id", "care_records", ["invoice_id"])
    op.create_index("ix_care_records_member_date", "care_records", ["member_id", "care_date"])
    op.create_index("ix_care_records_provider_date", "care_records", ["provider_id", "care_date"])
    op.create_table(
        "care_lines",
        *_id("care_lines"),
        sa.Column(
            "record_id",
            sa.Integer(),
            _fk("care_records.id", "fk_care_lines_record_id_care_records"),
            nullable=False,
        ),
        sa.Column(
            "benefit_id",
            sa.Integer(),
            _fk("benefits.id", "fk_care_lines_benefit_id_benefits"),
            nullable=False,
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_asked", sa.Integer(), nullable=False),
        sa.Column("amount_asked", sa.BigInteger(), nullable=False),
        sa.Column("agreed_unit_price", sa.Integer()),
        sa.Column("quantity_accepted", sa.Integer(), nullable=False),
        sa.Column("amount_accepted", sa.BigInteger(), nullable=False),
        sa.Column("member_share", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason_codes", postgresql.ARRAY(sa.String(40)), nullable=False),
        sa.Column(
            "product_benefit_id",
            sa.Integer(),
            _fk("product_benefits.id", "fk_care_lines_product_benefit_id_product_benefits"),
        ),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("review_status", sa.String(20), nullable=False),
        sa.Column("reviewed_by_label", sa.String(200)),
        sa.Column("review_note", sa.String(500)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_care_lines_record_id", "care_lines", ["record_id"])
    op.create_index("ix_care_lines_benefit_id", "care_lines", ["benefit_id"])
    op.create_index("ix_care_lines_product_benefit_id", "care_lines", ["product_benefit_id"])
    op.create_index(
        "ix_care_lines_review_queue",
        "care_lines",
        ["id"],
        postgresql_where=sa.text("review_status = 'pending'"),
    )
    op.create_table(
        "ceiling_alerts",
        *_id("ceiling_alerts"),
        sa.Column(
            "member_id",
            sa.Integer(),
            _fk("members.id", "fk_ceiling_alerts_member_id_members"),
            nullable=False,
        ),
        sa.Column(
            "product_benefit_id",
            sa.Integer(),
            _fk("product_benefits.id", "fk_ceiling_alerts_product_benefit_id_product_benefits"),
            nullable=False,
        ),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("consumed", sa.BigInteger(), nullable=False),
        sa.Column("ceiling", sa.BigInteger(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint(
            "member_id", "product_benefit_id", "year", name="uq_ceiling_alerts_member_rule_year"
        ),
    )
    op.create_index("ix_ceiling_alerts_member_id", "ceiling_alerts", ["member_id"])


def downgrade() -> None:
    op.drop_table("ceiling_alerts")
    op.drop_table("care_lines")
    op.drop_table("care_records")
    op.drop_table("care_invoices")
    op.drop_table("payment_batches")
