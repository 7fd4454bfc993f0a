"""feeds: the write-back queue, webhook deliveries taken, and an http feed's cursor

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daemon.store.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_Instant = daemon.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "writeback_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(100), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _Instant(timezone=True), nullable=False),
        sa.Column("lease_until", _Instant(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", _Instant(timezone=True), nullable=False),
        sa.Column("sent_at", _Instant(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_writeback_queue_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_writeback_queue")),
    )
    op.create_index("ix_writeback_queue_due", "writeback_queue", ["state", "next_attempt_at"])
    op.create_index(op.f("ix_writeback_queue_ticket_id"), "writeback_queue", ["ticket_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(100), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("received_at", _Instant(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "feed", "delivery_id", name=op.f("uq_webhook_deliveries_feed_delivery_id")
        ),
    )
    with op.batch_alter_table("feed_states") as batch:
        batch.add_column(sa.Column("cursor", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("feed_states") as batch:
        batch.drop_column("cursor")
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_writeback_queue_ticket_id"), table_name="writeback_queue")
    op.drop_index("ix_writeback_queue_due", table_name="writeback_queue")
    op.drop_table("writeback_queue")
