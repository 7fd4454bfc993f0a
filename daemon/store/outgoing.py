"""The outbox queue: enqueue in the caller's transaction, claim, and record each attempt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from daemon.store.models import OutboxMail, one_of, table


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
# Every automatic mail counts, whatever its kind: a loop through staff notices is as much a
# loop as one through acknowledgements. Both queries are ranges of ix_outbox_recipient_cap
# (recipient, status, created_at), so the check never reads the rows a loop piled up.
_COUNTED = ("pending", "sending", "sent", "failed")
_capped = (
    select(func.count())
    .where(
        _outbox.c.recipient == bindparam("cap_recipient"),
        one_of(_outbox.c.status, _COUNTED),
        _outbox.c.created_at >= bindparam("cap_since"),
    )
    .scalar_subquery()
) >= bindparam("cap_limit")
# The cap is checked by the insert itself: one statement per queued mail.
_INSERT = (
    insert(_outbox)
    .values(
        status=case((_capped, "suppressed"), else_="pending"),
        last_error=case((_capped, bindparam("cap_error")), else_=""),
    )
    .returning(_outbox.c.id, _outbox.c.status, _outbox.c.last_error)
)
_SUPPRESSED_BEFORE = (
    select(_outbox.c.id)
    .where(
        _outbox.c.recipient == bindparam("recipient"),
        _outbox.c.status == "suppressed",
        _outbox.c.created_at >= bindparam("since"),
        _outbox.c.id != bindparam("row"),
    )
    .limit(1)
)


@dataclass(frozen=True, slots=True)
class Enqueued:
    row: int  # the outbox row's id
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
    error = f"daily cap of {cap.limit} automatic mails to this {cap.audience} address reached"
    row_id, status, error = conn.execute(
        _INSERT,
        {
            "ticket_id": ticket_id,
            "kind": mail.kind,
            "recipient": mail.recipient,
            "message_id": mail.message_id,
            "subject": mail.subject,
            "raw": mail.raw,
            "auto_reply": mail.auto_reply,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "cap_recipient": mail.recipient,
            "cap_since": day_start,
            "cap_limit": cap.limit,
            "cap_error": error,
        },
    ).one()
    first = False
    if status == "suppressed":
        params = {"recipient": mail.recipient, "since": day_start, "row": row_id}
        first = conn.execute(_SUPPRESSED_BEFORE, params).first() is None
    return Enqueued(row_id, status, error, first)


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


# Recording an attempt is a statement or two on a row the worker holds: a session's
# connection, or a connection of the worker's own that commits each statement as it goes.
Db = Session | Connection


def _conn(db: Db) -> Connection:
    return db.connection() if isinstance(db, Session) else db


_RAW = select(_outbox.c.raw).where(_outbox.c.id == bindparam("row"), _outbox.c.status == "sending")


def raw_of(db: Db, row_id: int) -> bytes | None:
    """The rendered mail of a row this worker holds; None when it is no longer ours."""
    raw: bytes | None = _conn(db).scalar(_RAW, {"row": row_id})
    return raw


def waiting(session: Session) -> int:
    """Mail queued and not yet delivered or given up."""
    return int(
        session.connection().scalar(
            select(func.count(_outbox.c.id)).where(_outbox.c.status.in_(("pending", "sending")))
        )
        or 0
    )


_FINISH = update(_outbox).where(_outbox.c.id == bindparam("row"), _outbox.c.status == "sending")
_SENT = _FINISH.values(
    lease_until=None, attempts=_outbox.c.attempts + 1, status="sent", last_error=""
)


def _finish(db: Db, row_id: int, **values: object) -> None:
    """Record one attempt on a row this worker holds (status 'sending')."""
    _conn(db).execute(
        update(_outbox)
        .where(_outbox.c.id == row_id, _outbox.c.status == "sending")
        .values(lease_until=None, attempts=_outbox.c.attempts + 1, **values)
    )


def mark_sent(db: Db, row_id: int, now: datetime) -> None:
    # Once per mail delivered: one statement compiled once.
    _conn(db).execute(_SENT, {"row": row_id, "sent_at": now})


def mark_sent_many(db: Db, sent: Sequence[tuple[int, datetime]]) -> None:
    """Record mail the server accepted, written down earlier (daemon.outbox.SentLog)."""
    if sent:
        _conn(db).execute(_SENT, [{"row": row_id, "sent_at": at} for row_id, at in sent])


def mark_retry(db: Db, row_id: int, retry_at: datetime, error: str) -> None:
    _finish(db, row_id, status="pending", next_attempt_at=retry_at, last_error=error[:2000])


def mark_failed(db: Db, row_id: int, error: str) -> None:
    _finish(db, row_id, status="failed", last_error=error[:2000])


def renew(db: Db, row_ids: Sequence[int], until: datetime) -> None:
    """Keep claimed rows ours a while longer (the worker is still going through its batch)."""
    _conn(db).execute(
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
