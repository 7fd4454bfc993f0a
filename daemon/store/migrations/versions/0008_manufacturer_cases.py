"""manufacturer cases, one per (oem, case_id) with its ticket, and the feeds' counts

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daemon.store.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_Instant = daemon.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "manufacturer_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("oem", sa.String(40), nullable=False),
        sa.Column("case_id", sa.String(100), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(100), nullable=False),
        sa.Column("level", sa.String(40), nullable=False),
        sa.Column("status", sa.String(60), nullable=False),
        sa.Column("dispatched_at", _Instant(timezone=True), nullable=False),
        sa.Column("deadline", _Instant(timezone=True), nullable=True),
        sa.Column("survey_score", sa.Float(), nullable=True),
        sa.Column("zero_complaint", sa.Boolean(), nullable=False),
        sa.Column("customer_name", sa.String(200), nullable=False),
        sa.Column("customer_phone", sa.String(60), nullable=False),
        sa.Column("customer_email", sa.String(320), nullable=False),
        sa.Column("vin", sa.String(40), nullable=False),
        sa.Column("plate", sa.String(40), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", _Instant(timezone=True), nullable=False),
        sa.Column("updated_at", _Instant(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_manufacturer_cases_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manufacturer_cases")),
        sa.UniqueConstraint("oem", "case_id", name=op.f("uq_manufacturer_cases_oem_case_id")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_manufacturer_cases_ticket_id")),
    )
    op.create_table(
        "feed_states",
        sa.Column("feed", sa.String(100), nullable=False),
        sa.Column("last_import_at", _Instant(timezone=True), nullable=True),
        sa.Column("last_source", sa.Text(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("newest_dispatched_at", _Instant(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_error_at", _Instant(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_feed_states")),
    )


def downgrade() -> None:
    op.drop_table("feed_states")
    op.drop_table("manufacturer_cases")
