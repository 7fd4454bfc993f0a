"""The recorded calendar, and moving the open clocks when the effective calendar differs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import events, recalendar
from daemon.recalendar import CalendarChange, CalendarSnapshot, ClockMove
from daemon.store import clockrows, records
from daemon.store.db import Store
from daemon.store.models import DIALECT_INSERTS, CalendarRecord, table
from daemon.workdays import BusinessCalendar

_ROW = 1  # the table holds one row


@dataclass(frozen=True, slots=True)
class Recalendared:
    """What comparing the calendar at start or reload found and did."""

    change: CalendarChange
    recomputed: int  # open clocks looked at again (0 when nothing that matters changed)
    moved: tuple[tuple[str, ClockMove], ...]  # (ticket number, move), oldest ticket first


def recorded(session: Session, now: datetime) -> CalendarSnapshot | None:
    """The recorded calendar (None: none yet), its row locked until the transaction ends, so
    instances starting together recompute one after the other."""
    session.execute(
        DIALECT_INSERTS[session.get_bind().dialect.name](table(CalendarRecord))
        .values(id=_ROW, snapshot={}, recorded_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    row = session.scalar(select(CalendarRecord).where(CalendarRecord.id == _ROW).with_for_update())
    assert row is not None
    return CalendarSnapshot.from_json(row.snapshot) if row.snapshot else None


def record(session: Session, snap: CalendarSnapshot, now: datetime) -> None:
    row = session.get(CalendarRecord, _ROW)
    assert row is not None  # made by recorded()
    row.snapshot = snap.as_json()
    row.recorded_at = now


def recompute_if_changed(
    store: Store, calendar: BusinessCalendar, versions: str, now: datetime, today: date
) -> Recalendared:
    """Compare the effective calendar with the recorded one; when a day, the office hours or
    an unrecorded year could matter, move every open clock whose due time differs, audit each
    move on its ticket, and record the calendar. One transaction."""
    with store.transaction() as session:
        before = recorded(session, now)
        rows = clockrows.running(session)
        states = [clockrows.state_of(row) for _, _, row in rows]
        wanted = recalendar.years_to_record(states, today)
        # Years recorded before stay recorded (they are what a change is found against), back
        # to the earliest year still wanted.
        kept = {y for y in (before.years if before else ()) if y >= wanted[0]}
        years = set(wanted) | kept
        current = recalendar.snapshot(calendar, sorted(years), versions)
        change = recalendar.compare(before, current, recalendar.clock_years(states))
        moved: list[tuple[str, ClockMove]] = []
        if change.matters:
            for (ticket_id, number, row), state in zip(rows, states, strict=True):
                move = recalendar.move(state, change, calendar)
                if move is None:
                    continue
                clockrows.write(row, move.state, move.next_action_at)
                audit = events.ClockMoved(
                    move.kind.value, move.rule, move.before, move.after, move.because
                )
                records.add_event(session, ticket_id, now, events.DAEMON, audit)
                moved.append((number, move))
        if before != current:
            record(session, current, now)
    return Recalendared(change, len(states) if change.matters else 0, tuple(moved))
