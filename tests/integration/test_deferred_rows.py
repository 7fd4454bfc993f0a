"""Rows held back in a block (a filing batch, a staff reply's commands): written in one
statement per table as the block ends, in the order they came, and not at all when it fails;
a savepoint in the block takes back its own rows and no others."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.harness import Harness
from support.mail import complaint

from daemon import events
from daemon.store import clockrows, db, deferred, records
from daemon.store.models import Ticket, TicketClock, TicketCounter, TicketEvent


def a_ticket(h: Harness) -> int:
    h.deliver(complaint("刹车异响，多次维修没有解决"))
    with h.session() as s:
        return s.scalars(select(Ticket.id)).one()


def notes(s: Session, ticket_id: int) -> list[Any]:
    rows = s.scalars(
        select(TicketEvent.detail)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == events.Kind.NOTE)
        .order_by(TicketEvent.id)
    )
    return [d["text"] for d in rows]


def test_entries_in_a_block_are_written_as_it_ends_in_their_order(harness: Harness) -> None:
    ticket_id = a_ticket(harness)
    with harness.store.transaction() as s:
        with deferred.batch(s):
            for text in ("一", "二", "三"):
                records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note(text))
            assert notes(s, ticket_id) == []
        assert notes(s, ticket_id) == ["一", "二", "三"]


def test_a_read_in_the_block_sees_its_entries_once_they_are_flushed(harness: Harness) -> None:
    ticket_id = a_ticket(harness)
    with harness.store.transaction() as s:
        with deferred.batch(s):
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("一"))
            deferred.flush(s)
            assert notes(s, ticket_id) == ["一"]
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("二"))
        assert notes(s, ticket_id) == ["一", "二"]


def test_a_block_that_fails_writes_none_of_its_entries(harness: Harness) -> None:
    ticket_id = a_ticket(harness)

    def fail(s: Session) -> None:
        with s.begin_nested(), deferred.batch(s):
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("一"))
            raise LookupError("a command cannot be applied")

    with harness.store.transaction() as s:
        with pytest.raises(LookupError):
            fail(s)
        records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("二"))
        assert notes(s, ticket_id) == ["二"]


def test_a_block_inside_a_block_keeps_the_order_of_both(harness: Harness) -> None:
    ticket_id = a_ticket(harness)
    with harness.store.transaction() as s:
        with deferred.batch(s):
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("一"))
            with deferred.batch(s):
                records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("二"))
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("三"))
        assert notes(s, ticket_id) == ["一", "二", "三"]


def test_a_savepoint_rolled_back_in_a_block_takes_back_only_its_own_entries(
    harness: Harness,
) -> None:
    ticket_id = a_ticket(harness)

    def refused(s: Session) -> None:
        with db.savepoint(s):
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("二"))
            raise LookupError("a command cannot be applied")

    with harness.store.transaction() as s:
        with deferred.batch(s):
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("一"))
            with pytest.raises(LookupError):
                refused(s)
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("三"))
        assert notes(s, ticket_id) == ["一", "三"]


def test_a_savepoint_that_succeeds_in_a_block_leaves_its_entries_to_the_block(
    harness: Harness,
) -> None:
    ticket_id = a_ticket(harness)
    with harness.store.transaction() as s:
        with deferred.batch(s):
            with db.savepoint(s):
                records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("一"))
            assert notes(s, ticket_id) == []
        assert notes(s, ticket_id) == ["一"]


def test_clocks_held_in_a_block_are_read_back_by_their_ticket(harness: Harness) -> None:
    ticket_id = a_ticket(harness)
    with harness.store.transaction() as s:
        started = list(clockrows.states(s, ticket_id).values())
        s.query(TicketClock).filter(TicketClock.ticket_id == ticket_id).delete()
        with deferred.batch(s):
            clockrows.insert_new(s, ticket_id, [(state, None) for state in started])
            held = select(TicketClock.id).where(TicketClock.ticket_id == ticket_id)
            assert s.scalars(held).all() == []  # not written yet
            assert set(clockrows.states(s, ticket_id)) == {c.kind for c in started}


def serial_of(number: str) -> int:
    return int(number[-4:])


def test_serials_handed_out_in_a_block_follow_on_and_the_last_is_written_as_it_ends(
    harness: Harness,
) -> None:
    with harness.store.transaction() as s:
        before = serial_of(records.next_number(s, "TS", "202612", 4))
        with deferred.batch(s):
            numbers = [serial_of(records.next_number(s, "TS", "202612", 4)) for _ in range(3)]
        counter = s.get_one(TicketCounter, "202612")
        assert numbers == [before + 1, before + 2, before + 3]
        assert counter.last_serial == before + 3


def test_a_serial_taken_back_with_its_savepoint_is_handed_out_again(harness: Harness) -> None:
    def refused(s: Session) -> int:
        with db.savepoint(s):
            records.next_number(s, "TS", "202612", 4)
            raise LookupError("the message cannot be filed")

    with harness.store.transaction() as s, deferred.batch(s):
        first = serial_of(records.next_number(s, "TS", "202612", 4))
        with pytest.raises(LookupError):
            refused(s)
        assert serial_of(records.next_number(s, "TS", "202612", 4)) == first + 1
