"""audit trail is append-only

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SQLITE = """
CREATE TRIGGER ticket_events_no_{verb} BEFORE {VERB} ON ticket_events
BEGIN SELECT RAISE(ABORT, 'ticket_events is append-only'); END
"""

_POSTGRES_FUNCTION = """
CREATE FUNCTION ticket_events_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'ticket_events is append-only'; END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(_SQLITE.format(verb=verb, VERB=verb.upper()))
        return
    op.execute(_POSTGRES_FUNCTION)
    op.execute(
        "CREATE TRIGGER ticket_events_append_only BEFORE UPDATE OR DELETE ON ticket_events "
        "FOR EACH ROW EXECUTE FUNCTION ticket_events_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER ticket_events_no_{verb}")
        return
    op.execute("DROP TRIGGER ticket_events_append_only ON ticket_events")
    op.execute("DROP FUNCTION ticket_events_append_only()")
