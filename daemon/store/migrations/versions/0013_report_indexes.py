"""report summary: the time columns a period's figures are read by

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# A period's transitions, answers and survey mails (ticket_events by kind and time), the clocks
# met in it (clocks.stopped_at) and the tickets closed since its start (tickets.closed_at): the
# cost of a week's report stays flat however many tickets were closed before it.
INDEXES = (
    ("ix_ticket_events_kind_at", "ticket_events", ["kind", "at"]),
    ("ix_clocks_stopped_at", "clocks", ["stopped_at"]),
    ("ix_tickets_closed_at", "tickets", ["closed_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
