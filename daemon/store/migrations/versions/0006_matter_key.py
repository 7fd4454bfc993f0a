"""the matter a ticket is about, indexed for counting group complaints

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tickets", sa.Column("matter_key", sa.String(200), nullable=False, server_default="")
    )
    op.create_index("ix_tickets_matter", "tickets", ["matter_key", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_matter", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("matter_key")
