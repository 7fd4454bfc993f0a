"""retention may replace personal fields in the audit trail, and nothing else

Revision ID: 0012
Revises: 0011

The audit trail stays append-only, except that a transaction holding a row in
audit_redaction_permits may rewrite an entry's actor and detail (store/retention.py inserts
the row and deletes it before it commits). Its id, ticket, time, kind and message stay.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_SQLITE_STRICT = """
CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
BEGIN SELECT RAISE(ABORT, 'ticket_events is append-only'); END
"""

_SQLITE_REDACTABLE = """
CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
WHEN NOT EXISTS (SELECT 1 FROM audit_redaction_permits)
    OR NEW.id IS NOT OLD.id OR NEW.ticket_id IS NOT OLD.ticket_id OR NEW.at IS NOT OLD.at
    OR NEW.kind IS NOT OLD.kind OR NEW.message_row IS NOT OLD.message_row
BEGIN SELECT RAISE(ABORT, 'ticket_events is append-only'); END
"""

_POSTGRES_STRICT = """
CREATE OR REPLACE FUNCTION ticket_events_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'ticket_events is append-only'; END
$$ LANGUAGE plpgsql
"""

_POSTGRES_REDACTABLE = """
CREATE OR REPLACE FUNCTION ticket_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM audit_redaction_permits)
        AND NEW.id = OLD.id AND NEW.ticket_id = OLD.ticket_id AND NEW.at = OLD.at
        AND NEW.kind = OLD.kind AND NEW.message_row IS NOT DISTINCT FROM OLD.message_row
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ticket_events is append-only';
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "audit_redaction_permits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_redaction_permits")),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER ticket_events_no_update")
        op.execute(_SQLITE_REDACTABLE)
        return
    op.execute(_POSTGRES_REDACTABLE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER ticket_events_no_update")
        op.execute(_SQLITE_STRICT)
    else:
        op.execute(_POSTGRES_STRICT)
    op.drop_table("audit_redaction_permits")
