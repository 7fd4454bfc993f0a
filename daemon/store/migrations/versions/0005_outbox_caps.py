"""index for the daily cap on automatic mail per recipient

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_recipient_cap", "outbox", ["recipient", "status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_recipient_cap", table_name="outbox")
