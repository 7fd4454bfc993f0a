"""health rows for every worker, with the daemon's last report

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daemon.store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailbox_states") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="mailbox")
        )
        batch.add_column(
            sa.Column("heartbeat_at", daemon.store.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("reported_at", daemon.store.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("mailbox_states") as batch:
        batch.drop_column("reported_at")
        batch.drop_column("heartbeat_at")
        batch.drop_column("kind")
