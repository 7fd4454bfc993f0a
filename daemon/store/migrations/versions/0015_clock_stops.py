"""clock stops: every time a clock stopped, kept when a reopened ticket restarts the clock

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daemon.store.models

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_Instant = daemon.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "clock_stops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("clock", sa.String(30), nullable=False),
        sa.Column("stopped_at", _Instant(timezone=True), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_clock_stops_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clock_stops")),
    )
    op.create_index(op.f("ix_clock_stops_ticket_id"), "clock_stops", ["ticket_id"])
    op.create_index(op.f("ix_clock_stops_stopped_at"), "clock_stops", ["stopped_at"])
    # The stops known so far are the ones the clocks still show: a stop a reopening wrote over
    # before this revision is gone.
    op.execute(
        "INSERT INTO clock_stops (ticket_id, clock, stopped_at, on_time) "
        "SELECT ticket_id, kind, stopped_at, breached_at IS NULL FROM clocks "
        "WHERE stopped_at IS NOT NULL ORDER BY id"
    )


def downgrade() -> None:
    op.drop_table("clock_stops")
