"""Clocks swept end to end: reminders, the escalation ladder, upgrades and the missed-clock
ledger, with time-travelling sweeps, real SMTP and both database backends."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select
from support import process
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import (
    DEPUTY,
    GM,
    SERVICE_DIRECTOR,
    SERVICE_MANAGER,
    STORE_ORG,
    absence,
)
from support.smtp_sink import Received, SmtpSink

from daemon import acting, sweeps
from daemon.lifecycle import Event
from daemon.store.models import (
    Customer,
    MissedClock,
    OutboxMail,
    Ticket,
    TicketClock,
    TicketEvent,
)

SH = ZoneInfo("Asia/Shanghai")
# The clocks as Chinese staff mail names them (templates/labels.zh-CN.toml).
CLOCK_ZH = {"first_contact": "首次联系客户", "resolution": "处理完毕"}
HANDLER = DEPUTY  # feng_yu, the service advisor after-sales complaints go to here
CS_DIRECTOR = "li.na@dealer.example"
STAND_IN = "chen.jing@dealer.example"

# Seed 000, article 5: tier 1 the service advisor, tier 2 the department manager, tier 3 the
# general manager, the customer-service director in every tier.
CLOCK_ORG = (
    STORE_ORG
    + f"""
[[org.people]]
key = "li_na"
name = "李娜"
email = "{CS_DIRECTOR}"
role = "customer_service_director"
department = "customer_care"
manager = "zhao_gang"

[[org.people]]
key = "chen_jing"
name = "陈静"
email = "{STAND_IN}"
role = "service_manager"
department = "after_sales"
manager = "qian_hong"

[[org.routing]]
department = "after_sales"
role = "service_advisor"

[[org.routing]]
department = "sales"
role = "retail_manager"

[[org.routing]]
role = "customer_care_manager"
"""
)

REPAIR = "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。"
MAJOR = "刹车失灵差点出事故！你们再不处理我就找媒体曝光，并向12315投诉。"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def _harness(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock, extra: str = ""
) -> Harness:
    return Harness(write_config(tmp_path, db_url, sink.port, CLOCK_ORG + extra), clock)


@pytest.fixture
def store(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    h = _harness(tmp_path, db_url, sink, clock)
    yield h
    h.close()


def file(h: Harness, text: str = REPAIR, **kw: str) -> str:
    number = h.deliver(complaint(text, **kw)).ticket
    assert number is not None
    h.send_outbox()
    return number


def sweep_until(h: Harness, until: datetime, minutes: int = 1) -> list[sweeps.SweepAction]:
    """Sweep every `minutes` from now to `until`, as the daemon would; every action taken."""
    done: list[sweeps.SweepAction] = []
    while h.clock() < until:
        h.clock.set(min(h.clock() + timedelta(minutes=minutes), until))
        done.extend(sweeps.sweep(h.deps, h.clock()).actions)
    h.send_outbox()
    return done


def reminders(sink: SmtpSink, address: str, clock: str = "first_contact") -> list[Received]:
    return [
        m
        for m in sink.to(address)
        if "催办" in m.message["Subject"] and f"“{CLOCK_ZH[clock]}”" in m.text
    ]


def escalations(sink: SmtpSink, address: str) -> list[Received]:
    return [m for m in sink.to(address) if "上报" in m.message["Subject"]]


def _step_of(mail: Received) -> int:
    found = re.search(r"第 (\d) 级", mail.message["Subject"])
    assert found is not None
    return int(found.group(1))


def events(h: Harness, number: str, kind: str) -> list[dict[str, object]]:
    return [e["detail"] for e in h.ticket(number)["events"] if e["kind"] == kind]


# -- reminders ------------------------------------------------------------------------------------


def test_handler_is_reminded_at_half_and_four_fifths_of_first_contact_once_each(store, sink):
    file(store)
    done = sweep_until(store, local(23, 11, 59))
    (half, four_fifths) = reminders(sink, HANDLER)
    assert "已用50%" in half.message["Subject"]
    assert "已用80%" in four_fifths.message["Subject"]
    reminded = [a for a in done if a.action == "remind"]
    assert [(a.clock, a.to) for a in reminded] == [("first_contact", (HANDLER,))] * 2


def test_reminder_says_when_it_is_due_how_much_is_left_and_how_to_act(store, sink):
    number = file(store)
    sweep_until(store, local(23, 11, 0), minutes=60)
    (mail,) = reminders(sink, HANDLER)
    assert "截止时间 11月23日 12:00（北京时间）" in mail.text
    assert "剩余 1 小时 0 分钟" in mail.text
    assert f"complaintd tickets act {number} contact" in mail.text
    assert REPAIR in mail.text


# -- the ladder -----------------------------------------------------------------------------------


def test_breach_goes_to_manager_then_director_then_general_manager_each_once(store, sink):
    file(store)
    done = sweep_until(store, local(24, 18, 0))
    steps = [(a.step, a.to[0]) for a in done if a.action == "escalate"]
    assert steps == [(1, SERVICE_MANAGER), (2, SERVICE_DIRECTOR), (3, GM)]
    for address, step in ((SERVICE_MANAGER, 1), (SERVICE_DIRECTOR, 2), (GM, 3)):
        (mail,) = escalations(sink, address)
        assert f"第 {step} 级" in mail.message["Subject"]


def test_no_step_is_sent_before_its_time(store, sink):
    file(store)
    sweep_until(store, local(23, 17, 29))
    assert not escalations(sink, SERVICE_DIRECTOR)
    sweep_until(store, local(23, 17, 30))
    assert len(escalations(sink, SERVICE_DIRECTOR)) == 1
    sweep_until(store, local(24, 17, 29), minutes=10)
    assert not escalations(sink, GM)
    sweep_until(store, local(24, 17, 30))
    assert len(escalations(sink, GM)) == 1


def test_customer_service_director_is_copied_on_every_step_as_the_neutral_party(store, sink):
    file(store)
    sweep_until(store, local(24, 18, 0), minutes=5)
    copies = escalations(sink, CS_DIRECTOR)
    assert [_step_of(m) for m in copies] == [1, 2, 3]
    assert all("【抄送】" in m.message["Subject"] for m in copies)


def test_escalation_says_which_clock_how_late_who_was_told_and_how_to_act(store, sink):
    number = file(store)
    sweep_until(store, local(23, 17, 30), minutes=5)
    (mail,) = escalations(sink, SERVICE_DIRECTOR)
    text = mail.text
    assert "首次联系客户" in text and "first_contact" not in text
    assert "已于 11月23日 12:00（北京时间） 到期" in text
    assert "已逾期 4 小时 0 分钟（按工作时间计）" in text
    assert "11月23日 12:00（北京时间）  郑浩, 李娜（第 1 级上报" in text  # who was told before
    assert "冯雨（催办" in text
    assert f"complaintd tickets act {number} contact" in text
    assert "张伟 <zhang.wei@example.cn>" in text and "维修质量类" in text


def test_sweeps_running_at_the_same_instant_send_each_step_once(store, sink):
    file(store)
    store.clock.set(local(24, 18, 0))  # reminders, breach and every step due at once
    results: list[sweeps.SweepReport] = []

    def run() -> None:
        results.append(sweeps.sweep(store.deps, store.clock()))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    steps = sorted(
        a.step
        for r in results
        for a in r.actions
        if a.action == "escalate" and a.clock == "first_contact"
    )
    assert steps == [1, 2, 3]
    with store.session() as s:
        sent = s.scalar(select(func.count(OutboxMail.id)).where(OutboxMail.kind == "escalation"))
    assert sent == 4  # three steps due at once: one mail each, the neutral party copied once


def test_after_an_outage_the_missed_steps_go_out_together_and_only_the_latest_reminder(store, sink):
    file(store)
    done = sweep_until(store, local(23, 17, 45), minutes=24 * 60)  # one sweep, late
    assert [a.action for a in done if a.clock == "first_contact"] == [
        "breach",
        "escalate",
        "escalate",
    ]
    assert not reminders(sink, HANDLER)


# -- confidentiality and absence ------------------------------------------------------------------


def test_accused_manager_never_receives_a_reminder_or_escalation(store, sink):
    number = file(store, "郑经理答应今天回电，到现在也没有消息。" + REPAIR)
    assert store.ticket(number)["assignment"]["excluded"] == ["zheng_hao"]
    sweep_until(store, local(26, 18, 0), minutes=5)  # past every step of both clocks
    assert sink.to(SERVICE_MANAGER) == []
    assert escalations(sink, SERVICE_DIRECTOR)  # the ladder passed up over him
    assert reminders(sink, HANDLER)


def test_accused_handler_is_passed_over_and_gets_no_reminder(store, sink):
    number = file(store, "服务顾问冯雨不接电话，" + REPAIR)
    ticket = store.ticket(number)
    assert ticket["assignment"]["excluded"] == ["feng_yu"]
    sweep_until(store, local(24, 18, 0), minutes=5)
    assert sink.to(HANDLER) == []


def test_manager_on_leave_is_replaced_by_the_deputy_and_the_delegation_recorded(
    tmp_path, db_url, sink, clock
):
    leave = absence(
        "zheng_hao", "chen_jing", "2026-11-20T00:00:00+08:00", "2026-11-30T00:00:00+08:00"
    )
    h = _harness(tmp_path, db_url, sink, clock, leave)
    try:
        number = file(h)
        sweep_until(h, local(23, 12, 5))
        (mail,) = escalations(sink, STAND_IN)
        assert "郑浩 不在岗" in mail.text
        assert sink.to(SERVICE_MANAGER) == []
        delegated = events(h, number, "delegated")
        assert {"absent": "zheng_hao", "deputy": "chen_jing"}.items() <= delegated[-1].items()
    finally:
        h.close()


def test_staff_mail_is_in_english_when_that_is_the_staff_language(tmp_path, db_url, sink, clock):
    h = _harness(tmp_path, db_url, sink, clock, '\n[service]\ndefault_language = "en"\n')
    try:
        file(h)
        sweep_until(h, local(23, 12, 5), minutes=60)
        (mail,) = sink.to(SERVICE_MANAGER)
        assert (
            "Escalation step 1: first contact with the customer overdue"
            in (mail.message["Subject"])
        )
        assert "was due 23 Nov 12:00 (Beijing time, UTC+08:00)" in mail.text
    finally:
        h.close()


# -- acting stops the ladder ----------------------------------------------------------------------


def test_contacting_the_customer_stops_the_ladder(store, sink):
    number = file(store)
    sweep_until(store, local(23, 12, 30))
    assert len(escalations(sink, SERVICE_MANAGER)) == 1
    acting.act(store.deps, number, Event.CONTACT, "feng_yu", "called the customer", store.clock())
    sweep_until(store, local(24, 18, 0), minutes=5)
    assert escalations(sink, SERVICE_DIRECTOR) == []
    assert escalations(sink, GM) == []


def test_a_paused_resolution_clock_neither_reminds_nor_escalates(store, sink):
    number = file(store)
    acting.act(store.deps, number, Event.CONTACT, "feng_yu", "called", store.clock())
    acting.act(store.deps, number, Event.PAUSE, "feng_yu", "waiting on the factory", store.clock())
    sweep_until(store, local(30, 18, 0), minutes=30)
    assert reminders(sink, HANDLER, "resolution") == []
    assert [e["clock"] for e in events(store, number, "breached")] == []


# -- severity, major complaints -------------------------------------------------------------------


def test_resolution_breach_upgrades_the_severity_once(store, sink):
    number = file(store)
    assert store.ticket(number)["classification"]["severity"] == "general"
    acting.act(store.deps, number, Event.CONTACT, "feng_yu", "called", store.clock())
    done = sweep_until(store, local(27, 18, 0), minutes=30)  # past every resolution step
    assert [a.action for a in done if a.action == "upgrade"] == ["upgrade"]
    assert store.ticket(number)["classification"]["severity"] == "medium"
    assert events(store, number, "severity-upgraded") == [
        {"from": "general", "to": "medium", "clock": "resolution"}
    ]


def test_major_complaint_reaches_the_general_manager_within_24_hours_when_away_at_filing(
    tmp_path, db_url, sink, clock
):
    trip = absence("zhao_gang", "li_na", "2026-11-20T00:00:00+08:00", "2026-11-23T18:00:00+08:00")
    h = _harness(tmp_path, db_url, sink, clock, trip)
    try:
        number = file(h, MAJOR, subject="刹车失灵")
        assert sink.to(GM) == []  # away: his deputy was informed, not him
        sweep_until(h, local(24, 10, 0), minutes=30)
        (mail,) = [m for m in escalations(sink, GM) if "重大投诉报告总经理" in m.text]
        sent = datetime.strptime(mail.message["Date"], "%a, %d %b %Y %H:%M:%S %z")
        assert sent <= local(23, 10) + timedelta(hours=24)
        assert any(e["clock"] == "major_report" for e in events(h, number, "escalated"))
    finally:
        h.close()


def test_major_complaint_told_to_the_general_manager_at_filing_is_not_escalated_for_it(store, sink):
    number = file(store, MAJOR, subject="刹车失灵")
    clocks = {c["kind"]: c for c in store.ticket(number)["clocks"]}
    assert clocks["major_report"]["state"] == "met"
    sweep_until(store, local(24, 12, 0), minutes=30)
    assert [e for e in events(store, number, "escalated") if e["clock"] == "major_report"] == []


# -- the ledger -----------------------------------------------------------------------------------


def test_ledger_has_one_row_per_breach_with_the_responsible_person(store, sink):
    number = file(store)
    sweep_until(store, local(27, 18, 0), minutes=15)
    with store.session() as s:
        rows = s.scalars(select(MissedClock).order_by(MissedClock.id)).all()
        got = [(r.clock, r.person) for r in rows]
        due = [r.due_at for r in rows]
    assert got == [("first_contact", "feng_yu"), ("resolution", "feng_yu")]
    assert due == [local(23, 12).astimezone(UTC), local(26, 10).astimezone(UTC)]
    assert [c["state"] for c in store.ticket(number)["clocks"]] == ["breached", "breached"]


def test_report_missed_counts_breaches_per_person_and_clock(store, sink):
    file(store)
    file(store, REPAIR + "（第二次）", sender="li.lei@example.cn")
    sweep_until(store, local(23, 12, 30))
    rows = process.run_json("report", "missed", "--json", "--config", store.config_path)
    assert [(r["person"], r["name"], r["clock"], r["missed"]) for r in rows] == [
        ("feng_yu", "冯雨", "first_contact", 2)
    ]
    later = process.run_json(
        "report", "missed", "--since", "2026-11-24", "--json", "--config", store.config_path
    )
    assert later == []


# -- the command ----------------------------------------------------------------------------------


def test_sweep_dry_run_prints_json_lines_and_records_nothing(store, sink):
    number = file(store)
    before = _snapshot(store)
    result = process.run(
        "sweep", "--dry-run", "--now", "2026-11-23T17:31", "--config", store.config_path
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    escalated = [(x["step"], x["to"][0]) for x in lines if x["action"] == "escalate"]
    assert escalated == [(1, SERVICE_MANAGER), (2, SERVICE_DIRECTOR)]
    assert {x["ticket"] for x in lines} == {number}
    assert lines[0]["due"] == "2026-11-23T12:00:00+08:00"
    assert _snapshot(store) == before


def test_sweep_command_records_and_queues_what_it_prints(store, sink):
    file(store)
    result = process.run("sweep", "--now", "2026-11-23T12:01+08:00", "--config", store.config_path)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x["action"] for x in lines] == ["breach", "escalate"]
    store.clock.set(local(23, 12, 1))  # the mail is queued for the instant swept
    store.send_outbox()
    assert len(escalations(sink, SERVICE_MANAGER)) == 1
    again = process.run("sweep", "--now", "2026-11-23T12:02+08:00", "--config", store.config_path)
    assert again.stdout == ""


def test_tickets_show_lists_each_clock_with_due_time_and_state(store, sink):
    number = file(store)
    sweep_until(store, local(23, 12, 1), minutes=60)
    shown = process.run("tickets", "show", number, "--config", store.config_path).stdout
    assert "first_contact" in shown and "breached" in shown
    detail = process.run_json("tickets", "show", number, "--json", "--config", store.config_path)
    clocks = {c["kind"]: c for c in detail["clocks"]}
    assert clocks["first_contact"]["steps_sent"] == 1
    assert clocks["resolution"]["state"] == "running"
    assert datetime.fromisoformat(clocks["resolution"]["due_at"]) == local(26, 10)


# -- cost -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("closed", [5, 500])
def test_a_sweep_examines_only_due_clocks_however_many_tickets_are_closed(store, sink, closed):
    file(store)
    _add_closed_tickets(store, closed)
    store.clock.set(local(23, 11, 0))
    report = sweeps.sweep(store.deps, store.clock())
    assert report.examined == 1  # the one clock with a reminder due


def _add_closed_tickets(h: Harness, n: int) -> None:
    now = h.clock()
    plan = {
        "rule": "first-contact",
        "allowance": {"amount": 2, "unit": "hours", "basis": "working"},
        "reminders": [0.5, 0.8],
        "ladder": [],
        "upgrade_on_breach": False,
    }
    with h.store.transaction() as s:
        customer = s.scalar(select(Customer.id))
        result = s.execute(
            insert(Ticket).returning(Ticket.id),
            [
                {
                    "number": f"TS-202610-{i:05d}",
                    "status": "closed",
                    "customer_id": customer,
                    "language": "zh-CN",
                    "major": [],
                    "evidence": [],
                    "excluded": [],
                    "opened_at": now - timedelta(days=30),
                    "updated_at": now,
                    "closed_at": now,
                }
                for i in range(n)
            ],
        )
        ids = list(result.scalars())
        s.execute(
            insert(TicketClock),
            [
                {
                    "ticket_id": ticket_id,
                    "kind": "first_contact",
                    "plan": plan,
                    "started_at": now - timedelta(days=30),
                    "budget_seconds": 7200.0,
                    "spent_seconds": 3600.0,
                    "due_at": now - timedelta(days=29),
                    "stopped_at": now - timedelta(days=29),
                    "reminders_sent": [],
                    "steps_sent": 0,
                    "next_action_at": None,
                }
                for ticket_id in ids
            ],
        )


def _snapshot(h: Harness) -> tuple[object, ...]:
    with h.session() as s:
        clocks = s.execute(
            select(
                TicketClock.id,
                TicketClock.next_action_at,
                TicketClock.steps_sent,
                TicketClock.breached_at,
                TicketClock.reminders_sent,
            ).order_by(TicketClock.id)
        ).all()
        counts = tuple(
            s.scalar(select(func.count()).select_from(m))
            for m in (OutboxMail, TicketEvent, MissedClock)
        )
        severity = s.scalars(select(Ticket.severity)).all()
    return (tuple(map(tuple, clocks)), counts, tuple(severity))
