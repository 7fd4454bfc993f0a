"""Scheduled reports sent: one row per (kind, period), so each is sent once however many
daemons share the database and however often they restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from daemon.store.models import DIALECT_INSERTS, Base, table


class ReportRun(Base):
    """A report recorded as sent: its mails were queued in the same transaction."""

    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("kind", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "weekly" | "monthly"
    period: Mapped[str] = mapped_column(String(20))  # "2025-W14" | "2025-03"
    due_at: Mapped[datetime | None]
    sent_at: Mapped[datetime]
    mails: Mapped[int] = mapped_column(Integer, default=0)  # outbox rows queued
    sent_by: Mapped[str] = mapped_column(String(200), default="")  # "daemon" or "cli:<user>"


_runs = table(ReportRun)


def sent_at(session: Session, kind: str, period: str) -> datetime | None:
    """When the period's report was sent; None when it has not been."""
    found: datetime | None = session.scalar(
        select(_runs.c.sent_at).where(_runs.c.kind == kind, _runs.c.period == period)
    )
    return found


def claim(
    session: Session,
    kind: str,
    period: str,
    due_at: datetime | None,
    now: datetime,
    mails: int,
    sent_by: str,
) -> bool:
    """Record the period's report as sent in the caller's transaction; False when another
    instance already has (or is doing so right now: PostgreSQL makes this insert wait for that
    transaction, then skip), in which case the caller must roll back its mails."""
    conn = session.connection()
    statement = (
        DIALECT_INSERTS[conn.dialect.name](_runs)
        .values(kind=kind, period=period, due_at=due_at, sent_at=now, mails=mails, sent_by=sent_by)
        .on_conflict_do_nothing(index_elements=["kind", "period"])
        .returning(_runs.c.id)  # rowcount is not reliable here across drivers; a row is
    )
    return conn.execute(statement).first() is not None
