"""manufacturer cases: the zero-complaint re-survey (score, result, penalty, when); feeds: since
when a feed has been failing

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daemon.store.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_Instant = daemon.store.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("manufacturer_cases") as batch:
        batch.add_column(sa.Column("resurvey_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("zero_complaint_result", sa.String(20), nullable=True))
        batch.add_column(sa.Column("zero_complaint_penalty", sa.Float(), nullable=True))
        batch.add_column(sa.Column("resurveyed_at", _Instant(timezone=True), nullable=True))
    with op.batch_alter_table("feed_states") as batch:
        batch.add_column(sa.Column("failing_since", _Instant(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed_states") as batch:
        batch.drop_column("failing_since")
    with op.batch_alter_table("manufacturer_cases") as batch:
        batch.drop_column("resurveyed_at")
        batch.drop_column("zero_complaint_penalty")
        batch.drop_column("zero_complaint_result")
        batch.drop_column("resurvey_score")
