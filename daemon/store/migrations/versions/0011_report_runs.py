"""report runs: one row per scheduled report sent, unique per (kind, period)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daemon.store.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_Instant = daemon.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("due_at", _Instant(timezone=True), nullable=True),
        sa.Column("sent_at", _Instant(timezone=True), nullable=False),
        sa.Column("mails", sa.Integer(), nullable=False),
        sa.Column("sent_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_runs")),
        sa.UniqueConstraint("kind", "period", name=op.f("uq_report_runs_kind_period")),
    )


def downgrade() -> None:
    op.drop_table("report_runs")
