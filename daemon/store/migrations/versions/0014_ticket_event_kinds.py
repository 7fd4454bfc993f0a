"""a ticket's audit entries of one kind, read on every reply and sweep

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# "The mails this customer was sent since the resolution", "who was told on this clock": one
# ticket's entries of one kind since a time. Without statistics SQLite would rather range over every
# ticket's entries of that kind (ix_ticket_events_kind_at), which grows with the desk's history.
NAME = "ix_ticket_events_ticket_kind_at"


def upgrade() -> None:
    op.create_index(NAME, "ticket_events", ["ticket_id", "kind", "at"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="ticket_events")
