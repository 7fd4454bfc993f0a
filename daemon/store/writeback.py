"""What feeds keep beyond cases: the write-back queue of status posts to manufacturers, the
webhook deliveries already taken (by their id), and an http feed's cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from daemon.store.cases import FeedState
from daemon.store.db import Store
from daemon.store.models import Base


class WritebackPost(Base):
    """One status post to a manufacturer: pending until sent, failed when it refused it."""

    __tablename__ = "writeback_queue"
    __table_args__ = (Index("ix_writeback_queue_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed: Mapped[str] = mapped_column(String(100))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    case_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(40))  # our status: acknowledged, contacted...
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending -> sent | failed (the manufacturer refused it: a 4xx)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    # Taken by one worker until then; a worker that died leaves it to the next after it.
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """A webhook delivery taken, by the sender's delivery id: a replay is answered, not filed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("feed", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed: Mapped[str] = mapped_column(String(100))
    delivery_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class Post:
    """A claimed post, detached from its session."""

    id: int
    feed: str
    case_id: str
    status: str
    body: dict[str, Any]
    attempts: int


def enqueue(
    session: Session, feed: str, ticket_id: int, case_id: str, status: str, body: dict[str, Any],
    now: datetime,
) -> None:  # fmt: skip
    """Queue a post in the caller's transaction: it exists exactly when the change it reports."""
    session.add(
        WritebackPost(
            feed=feed,
            ticket_id=ticket_id,
            case_id=case_id,
            status=status,
            body=body,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            last_error="",
            created_at=now,
        )
    )


def claim(store: Store, now: datetime, lease: timedelta, limit: int = 50) -> list[Post]:
    """Due posts, oldest first, each leased to this worker so no other sends it meanwhile."""
    with store.transaction() as session:
        query = (
            select(WritebackPost)
            .where(
                WritebackPost.state == "pending",
                WritebackPost.next_attempt_at <= now,
                or_(WritebackPost.lease_until.is_(None), WritebackPost.lease_until <= now),
            )
            .order_by(WritebackPost.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        for row in rows:
            row.lease_until = now + lease
        return [Post(r.id, r.feed, r.case_id, r.status, dict(r.body), r.attempts) for r in rows]


def sent(store: Store, post_id: int, now: datetime) -> None:
    with store.transaction() as session:
        session.execute(
            update(WritebackPost)
            .where(WritebackPost.id == post_id)
            .values(
                state="sent", sent_at=now, lease_until=None, attempts=WritebackPost.attempts + 1
            )
        )


def retry(store: Store, post_id: int, at: datetime, error: str) -> None:
    with store.transaction() as session:
        session.execute(
            update(WritebackPost)
            .where(WritebackPost.id == post_id)
            .values(
                next_attempt_at=at,
                lease_until=None,
                last_error=error[:4000],
                attempts=WritebackPost.attempts + 1,
            )
        )


def release(store: Store, post_id: int) -> None:
    """Give back a claimed post not tried (the worker is stopping): due again at once."""
    with store.transaction() as session:
        session.execute(
            update(WritebackPost).where(WritebackPost.id == post_id).values(lease_until=None)
        )


def failed(store: Store, post_id: int, error: str) -> None:
    with store.transaction() as session:
        session.execute(
            update(WritebackPost)
            .where(WritebackPost.id == post_id)
            .values(
                state="failed",
                lease_until=None,
                last_error=error[:4000],
                attempts=WritebackPost.attempts + 1,
            )
        )


def counts(session: Session) -> dict[tuple[str, str], int]:
    """(feed, state) -> how many posts."""
    query = select(WritebackPost.feed, WritebackPost.state, func.count()).group_by(
        WritebackPost.feed, WritebackPost.state
    )
    return {(feed, state): int(n) for feed, state, n in session.execute(query)}


def delivery_seen(store: Store, feed: str, delivery_id: str) -> bool:
    with store.reading() as session:
        found = session.scalar(
            select(WebhookDelivery.id).where(
                WebhookDelivery.feed == feed, WebhookDelivery.delivery_id == delivery_id
            )
        )
    return found is not None


def delivery_taken(store: Store, feed: str, delivery_id: str, now: datetime) -> None:
    """Remember a delivery whose records are committed; a concurrent twin already did."""
    try:
        with store.transaction() as session:
            session.add(WebhookDelivery(feed=feed, delivery_id=delivery_id, received_at=now))
    except IntegrityError:
        pass


def cursor_of(store: Store, feed: str) -> str:
    with store.reading() as session:
        state = session.get(FeedState, feed)
        return state.cursor if state is not None else ""


def save_cursor(store: Store, feed: str, cursor: str) -> None:
    """The feed's cursor for its next poll (its counts row exists once a page was imported)."""
    with store.transaction() as session:
        state = session.get(FeedState, feed, with_for_update=True)
        if state is None:
            state = FeedState(
                feed=feed, last_source="", imported=0, updated=0, quarantined=0, last_error=""
            )
            session.add(state)
        state.cursor = cursor
