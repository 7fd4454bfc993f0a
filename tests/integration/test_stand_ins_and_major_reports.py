"""Who stands in for an absent person (授权委托), who hears of a major complaint however it
becomes major, and what is recorded when a notice reaches nobody. Real SMTP sink, real
outbox rows, both databases; only the clock is faked."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import CARE_MANAGER, DEPUTY, GM, SERVICE_MANAGER, STORE_ORG, absence
from support.smtp_sink import SmtpSink

from daemon import sweeps
from daemon.acting import act
from daemon.lifecycle import Event
from daemon.store.models import OutboxMail

SH = ZoneInfo("Asia/Shanghai")
REPAIR = "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。"
MEDIA = "刹车失灵差点出事故！你们再不处理我就找媒体曝光。"
LEGAL = "lin.fa@dealer.example"
COLLEAGUE = "chen.jing@dealer.example"

# A second service manager, and legal.
MORE_PEOPLE = f"""
[[org.people]]
key = "chen_jing"
name = "陈静"
email = "{COLLEAGUE}"
role = "service_manager"
department = "after_sales"
manager = "qian_hong"

[[org.people]]
key = "lin_fa"
name = "林法"
email = "{LEGAL}"
role = "legal"
manager = "zhao_gang"
"""

MATTERS = """
[tickets]
vehicle_models = ["星越L"]
"""

LEAVE = ("2026-11-20T00:00:00+08:00", "2026-11-30T00:00:00+08:00")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def _harness(tmp_path: Path, db_url: str, sink: SmtpSink, org: str, clock: FakeClock) -> Harness:
    return Harness(write_config(tmp_path, db_url, sink.port, org + MATTERS), clock)


@pytest.fixture
def store(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    h = _harness(tmp_path, db_url, sink, STORE_ORG + MORE_PEOPLE, clock)
    yield h
    h.close()


def file(h: Harness, text: str = REPAIR, **kw: str) -> str:
    number = h.deliver(complaint(text, **kw)).ticket
    assert number is not None
    h.send_outbox()
    return number


def events(h: Harness, number: str, kind: str) -> list[dict[str, object]]:
    return [e["detail"] for e in h.ticket(number)["events"] if e["kind"] == kind]


def queued(h: Harness, number: str, kind: str) -> list[tuple[str, datetime]]:
    """(recipient, queued at) of the ticket's outbox rows of one kind."""
    with h.session() as s:
        rows = s.scalars(
            select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id)
        ).all()
        return [(r.recipient, r.created_at) for r in rows if f"[{number}]" in r.subject]


def sweep_until(h: Harness, until: datetime, minutes: int = 30) -> None:
    while h.clock() < until:
        h.clock.set(min(h.clock() + timedelta(minutes=minutes), until))
        sweeps.sweep(h.deps, h.clock())
    h.send_outbox()


# -- delegation as configured ---------------------------------------------------------------------


def test_the_configured_deputy_gets_the_ticket_not_a_colleague_with_the_same_role(
    tmp_path, db_url, sink, clock
):
    org = STORE_ORG + MORE_PEOPLE + absence("zheng_hao", "feng_yu", *LEAVE)
    h = _harness(tmp_path, db_url, sink, org, clock)
    try:
        number = file(h)
        assert h.ticket(number)["assignment"]["handler"] == "feng_yu"
        assert [m.message["Subject"] for m in sink.to(DEPUTY)]
        assert sink.to(COLLEAGUE) == []
        (d,) = events(h, number, "delegated")
        assert (d["absent"], d["deputy"]) == ("zheng_hao", "feng_yu")
        assert d["until"] == datetime(2026, 11, 30, tzinfo=SH).isoformat()
        assert "年假" in str(d["reason"])
    finally:
        h.close()


def test_a_colleague_with_the_same_role_stands_in_when_the_deputy_is_away_too(
    tmp_path, db_url, sink, clock
):
    org = (
        STORE_ORG
        + MORE_PEOPLE
        + absence("zheng_hao", "feng_yu", *LEAVE)
        + absence("feng_yu", "zheng_hao", *LEAVE)
    )
    h = _harness(tmp_path, db_url, sink, org, clock)
    try:
        number = file(h)
        assert h.ticket(number)["assignment"]["handler"] == "chen_jing"
        (d,) = events(h, number, "delegated")
        assert (d["absent"], d["deputy"]) == ("zheng_hao", "chen_jing")
        assert "same role (service_manager)" in str(d["reason"])
    finally:
        h.close()


def test_a_reminder_to_an_absent_handler_goes_to_their_deputy_and_is_audited(
    tmp_path, db_url, sink, clock
):
    # Away from half an hour after the ticket is filed and assigned to him.
    leave = absence("zheng_hao", "chen_jing", "2026-11-23T10:30:00", "2026-11-24T00:00:00")
    h = _harness(tmp_path, db_url, sink, STORE_ORG + MORE_PEOPLE + leave, clock)
    try:
        number = file(h)
        assert h.ticket(number)["assignment"]["handler"] == "zheng_hao"
        sweep_until(h, local(23, 11, 0))
        (mail,) = [m for m in sink.to(COLLEAGUE) if "催办" in m.message["Subject"]]
        assert "郑浩" in mail.text
        assert [m for m in sink.to(SERVICE_MANAGER) if "催办" in m.message["Subject"]] == []
        delegated = events(h, number, "delegated")
        assert {"absent": "zheng_hao", "deputy": "chen_jing", "for": "reminder"}.items() <= (
            delegated[-1].items()
        )
    finally:
        h.close()


def test_reassigning_to_someone_away_hands_the_ticket_to_their_deputy(
    tmp_path, db_url, sink, clock
):
    org = STORE_ORG + MORE_PEOPLE + absence("wang_lei", "feng_yu", *LEAVE)
    h = _harness(tmp_path, db_url, sink, org, clock)
    try:
        number = file(h)
        act(h.deps, number, Event.ASSIGN, "zhou_jie", "to the advisor", h.clock(), "wang_lei")
        assert h.ticket(number)["assignment"]["handler"] == "feng_yu"
        d = events(h, number, "delegated")[-1]
        assert (d["absent"], d["deputy"]) == ("wang_lei", "feng_yu")
    finally:
        h.close()


# -- major complaints: the general manager and legal at once -----------------------------------


def test_a_major_complaint_at_filing_tells_the_general_manager_and_legal(store, sink):
    number = file(store, MEDIA, subject="刹车失灵")
    told = {address for address, _ in queued(store, number, "inform")}
    assert {GM, LEGAL} <= told


def test_marking_a_ticket_major_tells_the_general_manager_and_legal_at_once(store, sink):
    number = file(store)
    store.clock.set(local(23, 15, 7))
    act(
        store.deps, number, Event.MARK_MAJOR, "zhou_jie", "customer called the press", store.clock()
    )
    got = {a: at for a, at in queued(store, number, "inform") if a in (GM, LEGAL)}
    assert got == {GM: local(23, 15, 7), LEGAL: local(23, 15, 7)}
    store.send_outbox()
    assert len([m for m in sink.to(GM) if "【重大投诉】" in m.message["Subject"]]) == 1
    assert len([m for m in sink.to(LEGAL) if "【重大投诉】" in m.message["Subject"]]) == 1
    (reported,) = events(store, number, "major-reported")
    assert reported == {"how": "marked", "to": ["zhao_gang", "lin_fa"], "emails": [GM, LEGAL]}
    clocks = {c["kind"]: c for c in store.ticket(number)["clocks"]}
    assert clocks["major_report"]["state"] == "met"


def test_the_24_hour_report_does_not_tell_a_general_manager_told_when_marked(store, sink):
    number = file(store)
    act(store.deps, number, Event.MARK_MAJOR, "zhou_jie", "lawyer's letter", store.clock())
    sweep_until(store, local(25, 12, 0), minutes=60)
    assert [e for e in events(store, number, "escalated") if e["clock"] == "major_report"] == []
    assert len([m for m in sink.to(GM) if "【重大投诉】" in m.message["Subject"]]) == 1


def _brake(h: Harness, n: int) -> str:
    text = "我的星越L刹车异响，去店里修了还是响。"
    return file(h, text, sender=f"owner{n}@example.cn", subject=f"刹车问题 {n}")


def test_a_group_complaint_found_later_makes_the_earlier_tickets_major_and_tells_gm_and_legal(
    store, sink
):
    first, second = _brake(store, 0), _brake(store, 1)
    assert [a for a, _ in queued(store, first, "inform")] == [CARE_MANAGER]
    store.clock.set(local(23, 16))
    third = _brake(store, 2)
    for number in (first, second):
        assert store.ticket(number)["classification"]["major"] == ["group"]
        told = [a for a, at in queued(store, number, "inform") if at == local(23, 16)]
        assert told == [GM, LEGAL]
        (reported,) = events(store, number, "major-reported")
        assert reported["how"] == "group"
    assert {GM, LEGAL} <= {a for a, _ in queued(store, third, "inform")}
    # Told once: neither a fourth customer nor the 24-hour clock tells them again.
    _brake(store, 3)
    sweep_until(store, local(25, 12), minutes=60)
    for number in (first, second):
        assert len([a for a, _ in queued(store, number, "inform") if a == GM]) == 1
        assert [e for e in events(store, number, "escalated") if e["clock"] == "major_report"] == []


# -- notices that reach nobody --------------------------------------------------------------------


def test_a_major_complaint_with_nobody_in_legal_is_a_warning_and_recorded(
    tmp_path, db_url, sink, clock, caplog
):
    h = _harness(tmp_path, db_url, sink, STORE_ORG, clock)
    try:
        with caplog.at_level(logging.WARNING):
            number = file(h, MEDIA, subject="刹车失灵")
        assert events(h, number, "unheard") == [
            {
                "what": "major_report",
                "clock": "",
                "step": None,
                "why": "legal: nobody holds role legal",
            }
        ]
        assert f"{number} major report went to nobody: legal" in caplog.text
    finally:
        h.close()


NO_DIRECTOR = """
[[org.people]]
key = "zhao_gang"
name = "赵刚"
email = "zhao.gang@dealer.example"
role = "general_manager"

[[org.people]]
key = "zheng_hao"
name = "郑浩"
email = "zheng.hao@dealer.example"
role = "service_manager"
department = "after_sales"
manager = "zhao_gang"

[[org.people]]
key = "zhou_jie"
name = "周杰"
email = "zhou.jie@dealer.example"
role = "customer_care_manager"
manager = "zhao_gang"
"""


def test_an_escalation_step_with_nobody_to_take_it_is_a_warning_and_recorded(
    tmp_path, db_url, sink, clock, caplog
):
    h = _harness(tmp_path, db_url, sink, NO_DIRECTOR, clock)
    try:
        number = file(h)
        with caplog.at_level(logging.WARNING):
            sweep_until(h, local(23, 17, 30), minutes=30)
        (unheard,) = events(h, number, "unheard")
        assert unheard == {
            "what": "escalation",
            "clock": "first_contact",
            "step": 2,
            "why": "no director above the handler",
        }
        assert f"{number} escalation step 2 (first_contact) went to nobody" in caplog.text
    finally:
        h.close()


def test_marking_major_with_nobody_in_legal_records_that_legal_heard_nothing(
    tmp_path, db_url, sink, clock
):
    h = _harness(tmp_path, db_url, sink, NO_DIRECTOR, clock)
    try:
        number = file(h)
        act(h.deps, number, Event.MARK_MAJOR, "zhou_jie", "press", h.clock())
        assert [u["why"] for u in events(h, number, "unheard")] == [
            "legal: nobody holds role legal"
        ]
    finally:
        h.close()
