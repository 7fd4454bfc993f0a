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
    """A claimed row, detached from its session: what the sender needs except the bytes.

    The rendered mail is read one at a time just before it is sent (`raw_of`), so a batch of
    large mails never sits in memory together.
    """

    id: int
    recipient: str
    message_id: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DailyCap:
    """How much automatic mail one address may get per local day, and why that much."""

    limit: int
    audience: str  # "customer" or "staff": names the cap in the suppression reason


_outbox = table(OutboxMail)
_INSERT = insert(_outbox)
# Every automatic mail counts, whatever its kind: a loop through staff notices is as much a
# loop as one through acknowledgements. Both queries are ranges of ix_outbox_recipient_cap
# (recipient, status, created_at), so the check never reads the rows a loop piled up.
_COUNTED = ("pending", "sending", "sent", "failed")
_QUEUED_SINCE = select(func.count()).where(
    _outbox.c.recipient == bindparam("recipient"),
    _outbox.c.status.in_(_COUNTED),
    _outbox.c.created_at >= bindparam("since"),
)
_SUPPRESSED_SINCE = (
    select(_outbox.c.id)
    .where(
        _outbox.c.recipient == bindparam("recipient"),
        _outbox.c.status == "suppressed",
        _outbox.c.created_at >= bindparam("since"),
    )
    .limit(1)
)


@dataclass(frozen=True, slots=True)
class Enqueued:
    status: str  # "pending", or "suppressed" by the daily cap
    error: str
    first_suppressed_today: bool = False  # the first row the cap stopped for this address today


def enqueue(
    session: Session,
    mail: Queued,
    ticket_id: int | None,
    now: datetime,
    day_start: datetime,
    cap: DailyCap,
) -> Enqueued:
    """Queue one mail; past the recipient's daily cap it is kept but suppressed, with why."""
    conn = session.connection()
    params = {"recipient": mail.recipient, "since": day_start}
    status, error, first = "pending", "", False
    if (conn.execute(_QUEUED_SINCE, params).scalar() or 0) >= cap.limit:
        status = "suppressed"
        error = f"daily cap of {cap.limit} automatic mails to this {cap.audience} address reached"
        first = conn.execute(_SUPPRESSED_SINCE, params).first() is None
    conn.execute(
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
    return Enqueued(status, error, first)


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
            _outbox.c.attempts,
            _outbox.c.created_at,
        )
    ).all()
    order = {row_id: n for n, row_id in enumerate(ids)}
    return sorted((Due(*row) for row in taken), key=lambda due: order[due.id])


def raw_of(session: Session, row_id: int) -> bytes | None:
    """The rendered mail of a row this worker holds; None when it is no longer ours."""
    raw: bytes | None = session.connection().scalar(
        select(_outbox.c.raw).where(_outbox.c.id == row_id, _outbox.c.status == "sending")
    )
    return raw


def waiting(session: Session) -> int:
    """Mail queued and not yet delivered or given up."""
    return int(
        session.connection().scalar(
            select(func.count(_outbox.c.id)).where(_outbox.c.status.in_(("pending", "sending")))
        )
        or 0
    )


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
