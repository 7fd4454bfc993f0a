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
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.status == "sending", OutboxMail.lease_until < now)
        .values(status="pending", lease_until=None)
    )
    ids: Sequence[int] = session.scalars(
        select(OutboxMail.id)
        .where(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now)
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
        .limit(limit)
    ).all()
    claimed: list[Due] = []
    for row_id in ids:
        # The status guard makes the claim safe when another instance races for the row.
        taken = session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == row_id, OutboxMail.status == "pending")
            .values(status="sending", lease_until=now + lease)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            row = session.get_one(OutboxMail, row_id)
            claimed.append(
                Due(row.id, row.recipient, row.message_id, row.raw, row.attempts, row.created_at)
            )
    return claimed


def mark_sent(session: Session, row_id: int, now: datetime) -> None:
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == row_id, OutboxMail.status == "sending")
        .values(
            status="sent",
            sent_at=now,
            lease_until=None,
            attempts=OutboxMail.attempts + 1,
            last_error="",
        )
    )


def mark_retry(session: Session, row_id: int, retry_at: datetime, error: str) -> None:
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == row_id, OutboxMail.status == "sending")
        .values(
            status="pending",
            next_attempt_at=retry_at,
            lease_until=None,
            attempts=OutboxMail.attempts + 1,
            last_error=error[:2000],
        )
    )


def mark_failed(session: Session, row_id: int, error: str) -> None:
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == row_id, OutboxMail.status == "sending")
        .values(
            status="failed",
            lease_until=None,
            attempts=OutboxMail.attempts + 1,
            last_error=error[:2000],
        )
    )


def renew(session: Session, row_ids: Sequence[int], until: datetime) -> None:
    """Keep claimed rows ours a while longer (the worker is still going through its batch)."""
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.id.in_(list(row_ids)), OutboxMail.status == "sending")
        .values(lease_until=until)
    )


def release(session: Session, row_id: int) -> None:
    """Hand back a claimed row untouched (the worker is stopping before it tried)."""
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == row_id, OutboxMail.status == "sending")
        .values(status="pending", lease_until=None)
    )
