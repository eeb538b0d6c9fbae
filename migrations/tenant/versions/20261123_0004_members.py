"""members: adhérents and ayants droit, status history, consent, enrolment drafts, imports, card keys

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "t0004"
down_revision = "t0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.execute("CREATE SEQUENCE member_number_seq")
    op.create_table(
        "members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("number", sa.String(24), nullable=False, unique=True),
        sa.Column("principal_id", sa.Integer, sa.ForeignKey("members.id"), index=True),
        sa.Column("relationship", sa.String(20), nullable=False),
        sa.Column("last_name", sa.String(80), nullable=False),
        sa.Column("first_names", sa.String(120), nullable=False),
        sa.Column("sex", sa.String(20), nullable=False),
        sa.Column("birth_date", sa.Date),
        sa.Column("birth_year", sa.Integer, nullable=False),
        sa.Column("birth_place", sa.String(120)),
        sa.Column("national_id", sa.String(20), unique=True),
        sa.Column("phone", sa.String(20), index=True),
        sa.Column("phone_alt", sa.String(20)),
        sa.Column("address", sa.String(200)),
        sa.Column("commune", sa.String(80)),
        sa.Column("region", sa.String(80)),
        sa.Column("trade", sa.String(60)),
        sa.Column("association_id", sa.Integer, nullable=False, index=True),
        sa.Column("enrolled_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_changed_at", TS, nullable=False),
        sa.Column("photo_path", sa.String(200)),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("name_trigrams", ARRAY(sa.String(3)), nullable=False),
        sa.Column("external_ref", sa.String(60), unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by_id", sa.Integer),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_members_name_trigrams", "members", ["name_trigrams"], postgresql_using="gin")
    op.create_index("ix_members_birth", "members", ["name_key", "birth_year"])
    op.create_table(
        "member_status_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("effective_on", sa.Date, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_id", sa.Integer),
        sa.Column("actor_label", sa.String(200), nullable=False),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
        sa.Column("text_version", sa.String(20), nullable=False),
        sa.Column("given_on", sa.Date, nullable=False),
        sa.Column("collected_by_id", sa.Integer),
        sa.Column("collected_by_label", sa.String(200), nullable=False),
        sa.Column("scan_path", sa.String(200)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("withdrawn_at", TS),
        sa.Column("withdrawn_by_label", sa.String(200)),
        sa.Column("withdrawal_reason", sa.String(500)),
    )
    op.create_table(
        "enrolment_drafts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("account_id", sa.Integer, nullable=False, index=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("step", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id")),
    )
    op.create_table(
        "member_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("stored_path", sa.String(300), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("association_id", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total_rows", sa.Integer, nullable=False),
        sa.Column("processed_rows", sa.Integer, nullable=False),
        sa.Column("created_count", sa.Integer, nullable=False),
        sa.Column("skipped_count", sa.Integer, nullable=False),
        sa.Column("rejected_count", sa.Integer, nullable=False),
        sa.Column("report_path", sa.String(300)),
        sa.Column("error", sa.Text),
        sa.Column("created_by_id", sa.Integer),
        sa.Column("created_by_label", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
    )
    op.create_table(
        "card_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kid", sa.String(40), nullable=False, unique=True),
        sa.Column("public_key_pem", sa.Text, nullable=False),
        sa.Column("private_key_ciphertext", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retired_at", TS),
    )


def downgrade() -> None:
    for table in (
        "card_keys",
        "member_imports",
        "enrolment_drafts",
        "consents",
        "member_status_events",
        "members",
    ):
        op.drop_table(table)
    op.execute("DROP SEQUENCE member_number_seq")
