"""The outbox queue: enqueue in the caller's transaction, claim, and record each attempt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from daemon.store.models import OutboxMail, table


@dataclass(frozen=True, slots=True)
class Queued:
    """A rendered mail ready to be stored as an outbox row."""

    kind: str
    recipient: str
    message_id: str
    subject: str
    raw: bytes
    auto_reply: bool


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed row, detached from its session, for the sender to work on."""

    id: int
    recipient: str
    message_id: str
    raw: bytes
    attempts: int
    created_at: datetime


_outbox = table(OutboxMail)
_INSERT = insert(_outbox)
_AUTO_REPLIES_SINCE = select(func.count(_outbox.c.id)).where(
    _outbox.c.recipient == bindparam("recipient"),
    _outbox.c.auto_reply.is_(True),
    _outbox.c.status != "suppressed",
    _outbox.c.created_at >= bindparam("since"),
)


@dataclass(frozen=True, slots=True)
class Enqueued:
    status: str  # "pending", or "suppressed" by the daily cap
    error: str


def enqueue(
    session: Session,
    mail: Queued,
    ticket_id: int | None,
    now: datetime,
    day_start: datetime,
    daily_cap: int,
) -> Enqueued:
    """Queue one mail; automatic replies over the recipient's daily cap are kept but suppressed."""
    status, error = "pending", ""
    if mail.auto_reply:
        sent_today = (
            session.connection()
            .execute(_AUTO_REPLIES_SINCE, {"recipient": mail.recipient, "since": day_start})
            .scalar()
        )
        if (sent_today or 0) >= daily_cap:
            status = "suppressed"
            error = f"daily cap of {daily_cap} automatic replies to this address reached"
    session.connection().execute(
        _INSERT,
        {
            "ticket_id": ticket_id,
            "kind": mail.kind,
            "recipient": mail.recipient,
            "message_id": mail.message_id,
            "subject": mail.subject,
            "raw": mail.raw,
            "status": status,
            "auto_reply": mail.auto_reply,
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": error,
            "created_at": now,
        },
    )
    return Enqueued(status, error)


def claim_due(session: Session, now: datetime, limit: int, lease: timedelta) -> list[Due]:
    """Take due rows for this worker; a crashed worker's rows come back when its lease ends."""
    conn = session.connection()
    conn.execute(
        update(_outbox)
        .where(_outbox.c.status == "sending", _outbox.c.lease_until < now)
        .values(status="pending", lease_until=None)
    )
    ids: Sequence[int] = conn.scalars(
        select(_outbox.c.id)
        .where(_outbox.c.status == "pending", _outbox.c.next_attempt_at <= now)
        .order_by(_outbox.c.next_attempt_at, _outbox.c.id)
        .limit(limit)
    ).all()
    if not ids:
        return []
    # The status guard makes the claim safe when another instance races for the same rows.
    taken = conn.execute(
        update(_outbox)
        .where(_outbox.c.id.in_(ids), _outbox.c.status == "pending")
        .values(status="sending", lease_until=now + lease)
        .returning(
            _outbox.c.id,
            _outbox.c.recipient,
            _outbox.c.message_id,
            _outbox.c.raw,
            _outbox.c.attempts,
            _outbox.c.created_at,
        )
    ).all()
    order = {row_id: n for n, row_id in enumerate(ids)}
    return sorted((Due(*row) for row in taken), key=lambda due: order[due.id])


def _finish(session: Session, row_id: int, **values: object) -> None:
    """Record one attempt on a row this worker holds (status 'sending')."""
    session.connection().execute(
        update(_outbox)
        .where(_outbox.c.id == row_id, _outbox.c.status == "sending")
        .values(lease_until=None, attempts=_outbox.c.attempts + 1, **values)
    )


def mark_sent(session: Session, row_id: int, now: datetime) -> None:
    _finish(session, row_id, status="sent", sent_at=now, last_error="")


def mark_retry(session: Session, row_id: int, retry_at: datetime, error: str) -> None:
    _finish(session, row_id, status="pending", next_attempt_at=retry_at, last_error=error[:2000])


def mark_failed(session: Session, row_id: int, error: str) -> None:
    _finish(session, row_id, status="failed", last_error=error[:2000])


def renew(session: Session, row_ids: Sequence[int], until: datetime) -> None:
    """Keep claimed rows ours a while longer (the worker is still going through its batch)."""
    session.connection().execute(
        update(_outbox)
        .where(_outbox.c.id.in_(list(row_ids)), _outbox.c.status == "sending")
        .values(lease_until=until)
    )


def release(session: Session, row_ids: Sequence[int]) -> None:
    """Hand back claimed rows untouched (the worker is stopping before it tried them)."""
    session.connection().execute(
        update(_outbox)
        .where(_outbox.c.id.in_(list(row_ids)), _outbox.c.status == "sending")
        .values(status="pending", lease_until=None)
    )
