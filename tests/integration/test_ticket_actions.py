"""Staff act on a ticket: the state machine moves its clocks, the ledger and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from support import process
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import ADVISOR, GM, STORE_ORG, absence
from support.smtp_sink import SmtpSink

from daemon import acting, sweeps
from daemon.acting import ActError, act
from daemon.clocks import ClockKind
from daemon.lifecycle import Event, InvalidTransition
from daemon.store import clockrows, db
from daemon.store.models import MissedClock, OutboxMail, Ticket

SH = ZoneInfo("Asia/Shanghai")
REPAIR = "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def utc(day: int, hour: int, minute: int = 0) -> str:
    return local(day, hour, minute).astimezone(UTC).isoformat()


@pytest.fixture
def store(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG), clock)
    yield h
    h.close()


def file(h: Harness, text: str = REPAIR) -> str:
    number = h.deliver(complaint(text)).ticket
    assert number is not None
    return number


def do(h: Harness, number: str, event: Event, at: datetime | None = None, **kw: str) -> None:
    if at is not None:
        h.clock.set(at)
    act(h.deps, number, event, "zheng_hao", f"test: {event}", h.clock(), **kw)


def clocks(h: Harness, number: str) -> dict[str, dict[str, object]]:
    return {c["kind"]: c for c in h.ticket(number)["clocks"]}


def ledger(h: Harness) -> list[tuple[str, str, float]]:
    with h.session() as s:
        rows = s.scalars(select(MissedClock).order_by(MissedClock.id)).all()
        return [(r.clock, r.person, r.overdue_seconds) for r in rows]


def test_contact_stops_the_first_contact_clock(store):
    number = file(store)
    do(store, number, Event.CONTACT, local(23, 11))
    c = clocks(store, number)
    assert c["first_contact"]["state"] == "met"
    assert c["first_contact"]["next_action_at"] is None
    assert c["resolution"]["state"] == "running"
    assert store.ticket(number)["status"] == "contacted"


def test_the_transition_is_audited_with_actor_and_cause(store):
    number = file(store)
    act(store.deps, number, Event.CONTACT, "zheng_hao", "phoned the customer", store.clock())
    (last,) = [e for e in store.ticket(number)["events"] if e["kind"] == "transition"][-1:]
    assert last["actor"] == "zheng_hao"
    assert last["detail"]["cause"] == "phoned the customer"
    assert (last["detail"]["from"], last["detail"]["to"]) == ("assigned", "contacted")


def test_pause_keeps_the_remaining_time_and_resume_recomputes_the_due_time(store):
    number = file(store)  # resolution: 3 working days from Mon 10:00, 22.5 working hours
    do(store, number, Event.CONTACT, local(23, 10))
    do(store, number, Event.PAUSE, local(23, 11))  # one working hour used
    assert clocks(store, number)["resolution"]["state"] == "paused"
    assert clocks(store, number)["resolution"]["due_at"] is None
    do(store, number, Event.RESUME, local(25, 10))  # 21.5 working hours left from Wed 10:00
    resolution = clocks(store, number)["resolution"]
    assert (resolution["state"], resolution["due_at"]) == ("running", utc(30, 9))


def test_a_paused_clock_is_not_swept(store):
    number = file(store)
    do(store, number, Event.CONTACT, local(23, 10))
    do(store, number, Event.PAUSE, local(23, 11))
    store.clock.set(local(30, 12))
    report = sweeps.sweep(store.deps, store.clock())
    assert [a for a in report.actions if a.clock == "resolution"] == []


def test_reopen_restarts_the_resolution_clock(store):
    number = file(store)
    do(store, number, Event.CONTACT, local(23, 11))
    do(store, number, Event.RESOLVE, local(24, 9))
    assert clocks(store, number)["resolution"]["state"] == "met"
    assert clocks(store, number)["callback"]["state"] == "running"
    do(store, number, Event.REOPEN, local(25, 10))
    c = clocks(store, number)
    assert (c["resolution"]["state"], c["resolution"]["due_at"]) == ("running", utc(30, 10))
    assert c["resolution"]["started_at"] == utc(25, 10)
    assert c["callback"]["state"] == "met"
    assert store.ticket(number)["status"] == "reopened"


def test_closing_stops_every_clock_and_records_when(store):
    number = file(store)
    for event, day in ((Event.CONTACT, 23), (Event.RESOLVE, 24), (Event.CALLBACK, 24)):
        do(store, number, event, local(day, 15))
    do(store, number, Event.CLOSE, local(25, 9))
    ticket = store.ticket(number)
    assert ticket["closed_at"] == utc(25, 9)
    assert {c["state"] for c in ticket["clocks"]} == {"met"}
    assert {c["next_action_at"] for c in ticket["clocks"]} == {None}


def test_reopening_a_closed_ticket_clears_its_closing_time(store):
    number = file(store)
    for event in (Event.CONTACT, Event.RESOLVE, Event.CALLBACK, Event.CLOSE):
        do(store, number, event)
    do(store, number, Event.REOPEN, local(24, 9))
    assert store.ticket(number)["closed_at"] is None


def test_an_event_the_state_does_not_allow_is_refused_and_changes_nothing(store):
    number = file(store)
    with pytest.raises(InvalidTransition, match="resolve is not allowed in state assigned"):
        do(store, number, Event.RESOLVE)
    assert store.ticket(number)["status"] == "assigned"
    assert clocks(store, number)["resolution"]["state"] == "running"


def test_a_clock_met_late_before_any_sweep_is_written_to_the_ledger(store):
    number = file(store)
    do(store, number, Event.CONTACT, local(23, 14))  # due 12:00; lunch is not working time
    assert ledger(store) == [("first_contact", "zheng_hao", 1800.0)]
    assert [
        e["detail"]["clock"] for e in store.ticket(number)["events"] if e["kind"] == "breached"
    ] == ["first_contact"]


def test_stopping_a_breached_clock_settles_its_lateness_in_the_ledger(store):
    number = file(store)
    store.clock.set(local(23, 12, 1))
    sweeps.sweep(store.deps, store.clock())
    assert ledger(store) == [("first_contact", "zheng_hao", 0.0)]  # 12:01 is in the lunch break
    do(store, number, Event.CONTACT, local(23, 15))
    assert ledger(store) == [("first_contact", "zheng_hao", 5400.0)]


def test_mark_major_tells_the_general_manager_at_once_so_the_report_clock_is_met(store):
    number = file(store)
    do(store, number, Event.MARK_MAJOR, local(23, 11))
    assert clocks(store, number)["major_report"]["state"] == "met"


def test_mark_major_with_the_general_manager_away_starts_the_24_hour_clock_until_reported(
    tmp_path, db_url, sink, clock
):
    trip = absence("zhao_gang", "zhou_jie", "2026-11-20T00:00:00", "2026-11-30T00:00:00")
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG + trip), clock)
    try:
        number = file(h)
        do(h, number, Event.MARK_MAJOR, local(23, 11))
        major = clocks(h, number)["major_report"]
        assert major["state"] == "running"
        assert datetime.fromisoformat(str(major["due_at"])) == local(24, 11)
        do(h, number, Event.REPORT_MAJOR, local(23, 12))
        assert clocks(h, number)["major_report"]["state"] == "met"
    finally:
        h.close()


def test_assign_hands_the_ticket_to_the_named_person_and_tells_them(store, sink):
    number = file(store)
    store.send_outbox()
    do(store, number, Event.ASSIGN, handler="wang_lei")
    assert store.ticket(number)["assignment"]["handler"] == "wang_lei"
    store.send_outbox()
    (notice,) = sink.to(ADVISOR)
    assert number in notice.message["Subject"]


def test_assign_refuses_a_person_named_in_the_complaint(store):
    number = file(store, "服务顾问王磊不接电话，" + REPAIR)
    with pytest.raises(ActError, match="named in the complaint"):
        do(store, number, Event.ASSIGN, handler="wang_lei")


def test_acting_on_an_unknown_ticket_says_so(store):
    with pytest.raises(ActError, match="no ticket TS-209901-0001"):
        do(store, "TS-209901-0001", Event.CONTACT)


# -- the command ----------------------------------------------------------------------------------


def test_tickets_act_command_prints_the_transition_and_the_clocks_as_json(store):
    number = file(store)
    result = process.run_json(
        "tickets", "act", number, "contact", "--by", "zheng_hao", "--cause", "phoned",
        "--at", "2026-11-23T11:00", "--json", "--config", store.config_path,
    )  # fmt: skip
    assert (result["from"], result["to"]) == ("assigned", "contacted")
    assert result["clocks"] == [
        {
            "kind": "first_contact",
            "change": "stopped",
            "due_at": "2026-11-23T12:00:00+08:00",
            "late_seconds": 0.0,
        }
    ]
    (event,) = [e for e in store.ticket(number)["events"] if e["actor"] == "zheng_hao"]
    assert event["detail"]["cause"] == "phoned"


def test_tickets_act_mark_major_queues_the_general_managers_notice_in_the_same_command(store):
    number = file(store)
    result = process.run_json(
        "tickets", "act", number, "mark_major", "--by", "zhou_jie", "--cause", "press",
        "--at", "2026-11-23T11:00", "--json", "--config", store.config_path,
    )  # fmt: skip
    assert [c["kind"] for c in result["clocks"]] == ["major_report", "major_report"]
    assert [c["change"] for c in result["clocks"]] == ["started", "stopped"]
    with store.session() as s:
        rows = s.scalars(select(OutboxMail).where(OutboxMail.recipient == GM)).all()
        assert [(r.kind, r.created_at) for r in rows] == [("inform", local(23, 11))]


def test_tickets_act_command_explains_a_refused_event(store):
    number = file(store)
    result = process.run(
        "tickets", "act", number, "close", "--config", store.config_path, check=False
    )
    assert result.returncode == 1
    assert f"complaintd: {number}: close is not allowed in state assigned" in result.stderr
    assert "allowed: assign, acknowledge, contact" in result.stderr


# -- clocks written as statements ------------------------------------------------------------------


def _ticket_id(h: Harness, number: str) -> int:
    with h.session() as s:
        return s.scalars(select(Ticket.id).where(Ticket.number == number)).one()


def test_clock_rows_loaded_before_an_action_are_read_again_after_it(store: Harness) -> None:
    ticket_id = _ticket_id(store, file(store))
    with store.store.transaction() as s:
        loaded = clockrows.of_ticket(s, ticket_id)  # kept: the session maps them while held
        before = {row.kind: row.stopped_at for row in loaded}
        with acting.holding(s, ticket_id) as held:
            acting.act_in(s, store.deps, held, Event.CONTACT, "zheng_hao", "已致电", store.clock())
        after = {row.kind: row.stopped_at for row in clockrows.of_ticket(s, ticket_id)}
    assert before["first_contact"] is None
    assert after["first_contact"] == store.clock()


def test_the_clocks_a_ticket_is_held_with_move_as_their_rows_do(store: Harness) -> None:
    ticket_id = _ticket_id(store, file(store))
    with store.store.transaction() as s:
        with acting.holding(s, ticket_id) as held:
            acting.act_in(s, store.deps, held, Event.CONTACT, "zheng_hao", "已致电", store.clock())
        assert "first_contact" not in dict(held.running())
        assert held.clocks == clockrows.states(s, ticket_id)


def _contact(s: Session, h: Harness, held: acting.Held, cause: str = "已致电") -> None:
    acting.act_in(s, h.deps, held, Event.CONTACT, "zheng_hao", cause, h.clock())


def test_a_ticket_read_after_a_rolled_back_action_is_as_stored(store: Harness) -> None:
    ticket_id = _ticket_id(store, file(store))

    def contact_then_fail(s: Session) -> None:
        with db.savepoint(s):
            with acting.holding(s, ticket_id) as held:
                _contact(s, store, held)
            assert held.ticket.status == "contacted"
            raise LookupError("the message fails after the action was written")

    with store.store.transaction() as s:
        ticket = s.get_one(Ticket, ticket_id)
        with pytest.raises(LookupError):
            contact_then_fail(s)
        assert ticket.status == "assigned"
        assert clockrows.states(s, ticket_id)[ClockKind.FIRST_CONTACT].stopped_at is None


def test_an_action_that_fails_leaves_the_ticket_as_stored(store: Harness) -> None:
    ticket_id = _ticket_id(store, file(store))

    def contact_twice(s: Session) -> None:
        with db.savepoint(s), acting.holding(s, ticket_id) as held:
            _contact(s, store, held)
            _contact(s, store, held, "再次")

    with store.store.transaction() as s:
        with pytest.raises(InvalidTransition):
            contact_twice(s)
        assert s.get_one(Ticket, ticket_id).status == "assigned"
