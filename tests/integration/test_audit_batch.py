"""Audit entries held back in a batch (a staff reply's commands add several): written in one
statement as the batch ends, in the order they were added, and not at all when it fails."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.harness import Harness
from support.mail import complaint

from daemon import events
from daemon.store import records
from daemon.store.models import Ticket, TicketEvent


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


def test_entries_in_a_batch_are_written_as_it_ends_in_their_order(harness: Harness) -> None:
    ticket_id = a_ticket(harness)
    with harness.store.transaction() as s:
        with records.batched(s):
            for text in ("一", "二", "三"):
                records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note(text))
            assert notes(s, ticket_id) == []
        assert notes(s, ticket_id) == ["一", "二", "三"]


def test_a_read_in_the_batch_sees_its_entries_once_they_are_written(harness: Harness) -> None:
    ticket_id = a_ticket(harness)
    with harness.store.transaction() as s:
        with records.batched(s):
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("一"))
            records.written(s)
            assert notes(s, ticket_id) == ["一"]
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("二"))
        assert notes(s, ticket_id) == ["一", "二"]


def test_a_batch_that_fails_writes_none_of_its_entries(harness: Harness) -> None:
    ticket_id = a_ticket(harness)

    def fail(s: Session) -> None:
        with s.begin_nested(), records.batched(s):
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("一"))
            raise LookupError("a command cannot be applied")

    with harness.store.transaction() as s:
        with pytest.raises(LookupError):
            fail(s)
        records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("二"))
        assert notes(s, ticket_id) == ["二"]


def test_a_batch_inside_a_batch_keeps_the_order_of_both(harness: Harness) -> None:
    ticket_id = a_ticket(harness)
    with harness.store.transaction() as s:
        with records.batched(s):
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("一"))
            with records.batched(s):
                records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("二"))
            records.add_event(s, ticket_id, harness.clock(), "zheng_hao", events.Note("三"))
        assert notes(s, ticket_id) == ["一", "二", "三"]
