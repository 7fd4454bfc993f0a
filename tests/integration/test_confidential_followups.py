"""Confidentiality on every later message: a customer's follow-up naming the handler moves the
ticket up the line, and the named person hears nothing more about it, reminders and escalations
included; a title and surname names people too. Real SMTP sink, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from support import postgres
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import (
    ADVISOR,
    CARE_MANAGER,
    GM,
    RETAIL_MANAGER,
    SALES_DIRECTOR,
    SERVICE_MANAGER,
    STORE_ORG,
)
from support.smtp_sink import SmtpSink

from daemon import sweeps
from daemon.store import outgoing, records
from daemon.store.models import TicketClock
from daemon.values import Outcome

SALES = "提车时销售经理承诺的赠品和保险优惠都没有兑现，购车合同也不给。"
REPAIR = "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。"

SECOND_WANG = """
[[org.people]]
key = "wang_qiang"
name = "王强"
email = "wang.qiang@dealer.example"
role = "service_advisor"
department = "after_sales"
manager = "zheng_hao"
"""


@pytest.fixture
def store(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG + SECOND_WANG), clock)
    yield h
    h.close()


def file(h: Harness, text: str, subject: str = "投诉") -> str:
    number = h.deliver(complaint(text, subject=subject)).ticket
    assert number is not None
    h.send_outbox()
    return number


def follow_up(h: Harness, number: str, text: str) -> None:
    outcome = h.deliver(complaint(text, subject=f"Re: [{number}] 投诉"))
    assert outcome.ticket == number
    h.send_outbox()


def events(h: Harness, number: str, kind: str) -> list[dict[str, object]]:
    return [e["detail"] for e in h.ticket(number)["events"] if e["kind"] == kind]


def mailed_about(h: Harness, number: str, address: str) -> list[str]:
    """The kinds of mail queued to `address` about the ticket, oldest first."""
    with h.session() as s:
        ticket = records.ticket_by_number(s, number)
        assert ticket is not None
        ticket_id = ticket.id
    return [m.kind for m in h.outbox() if m.ticket_id == ticket_id and m.recipient == address]


def test_a_follow_up_naming_the_handler_moves_the_ticket_to_their_manager(store):
    number = file(store, SALES, "购车承诺不兑现")
    assert store.ticket(number)["assignment"]["handler_email"] == RETAIL_MANAGER
    follow_up(store, number, "你们的吴芳答应给我回电话，到现在也没有打。")
    assignment = store.ticket(number)["assignment"]
    assert (assignment["handler_email"], assignment["excluded"]) == (SALES_DIRECTOR, ["wu_fang"])


def test_the_move_is_audited_as_a_reassignment_for_confidentiality(store):
    number = file(store, SALES, "购车承诺不兑现")
    follow_up(store, number, "你们的吴芳答应给我回电话，到现在也没有打。")
    (moved,) = events(store, number, "reassigned")
    assert (moved["from"], moved["to"]) == ("wu_fang", "sun_li")
    assert "confidentiality" in str(moved["why"])
    assert {"people": ["wu_fang"]} in events(store, number, "excluded")


def test_the_named_handler_gets_no_copy_of_the_follow_up_and_the_manager_gets_the_ticket(
    store, sink
):
    number = file(store, SALES, "购车承诺不兑现")
    follow_up(store, number, "你们的吴芳答应给我回电话，到现在也没有打。")
    assert mailed_about(store, number, RETAIL_MANAGER) == ["assignment"]  # from filing only
    assert mailed_about(store, number, SALES_DIRECTOR) == ["assignment", "followup"]
    (followup,) = [m for m in sink.to(SALES_DIRECTOR) if "答应给我回电话" in m.text]
    assert not [m for m in sink.to(RETAIL_MANAGER) if "答应给我回电话" in m.text]
    assert f"[{number}]" in followup.message["Subject"]
    assert [m for m in sink.to(SALES_DIRECTOR) if SALES in m.text]  # the complaint as filed


def test_the_named_handler_gets_no_reminder_or_escalation_afterwards(store, clock):
    number = file(store, SALES, "购车承诺不兑现")
    follow_up(store, number, "吴经理答应给我回电话，到现在也没有打。")
    done: list[sweeps.SweepAction] = []
    until = clock() + timedelta(days=7)
    while clock() < until:
        clock.advance(minutes=30)
        done.extend(sweeps.sweep(store.deps, clock()).actions)
    store.send_outbox()
    reminded = [a for a in done if a.ticket == number and a.action == "remind"]
    escalated = [a for a in done if a.ticket == number and a.action == "escalate"]
    assert reminded and escalated  # the sweep did run past the reminder and escalation points
    assert all(RETAIL_MANAGER not in a.to for a in done)
    assert mailed_about(store, number, RETAIL_MANAGER) == ["assignment"]
    assert SALES_DIRECTOR in {to for a in reminded for to in a.to}


def test_a_follow_up_naming_another_employee_excludes_them_and_keeps_the_handler(store):
    number = file(store, REPAIR, "维修后漏油")
    follow_up(store, number, "补充：服务顾问王磊还骗我说已经修好了。")
    assignment = store.ticket(number)["assignment"]
    assert (assignment["handler_email"], assignment["excluded"]) == (SERVICE_MANAGER, ["wang_lei"])
    assert mailed_about(store, number, SERVICE_MANAGER) == ["assignment", "followup"]
    assert not events(store, number, "reassigned")


def test_an_ambiguous_title_and_surname_excludes_every_candidate_and_is_audited(store, sink):
    number = file(store, "王经理答应免费换机油，结果结账时全收了钱。维修质量也差。", "维修")
    assignment = store.ticket(number)["assignment"]
    assert assignment["excluded"] == ["wang_lei", "wang_qiang"]
    (unsure,) = events(store, number, "ambiguous-name")
    assert unsure == {"term": "王经理", "people": ["wang_lei", "wang_qiang"]}
    assert not sink.to(ADVISOR) and not sink.to("wang.qiang@dealer.example")


def test_an_ambiguous_title_in_a_follow_up_excludes_every_candidate(store):
    number = file(store, REPAIR, "维修后漏油")
    follow_up(store, number, "王师傅说下周才有配件。")
    assert store.ticket(number)["assignment"]["excluded"] == ["wang_lei", "wang_qiang"]
    (unsure,) = events(store, number, "ambiguous-name")
    assert unsure["people"] == ["wang_lei", "wang_qiang"]


def test_a_major_complaint_naming_the_general_manager_reaches_customer_care_not_him(store, sink):
    number = file(store, "赵总亲口承诺的退车，现在不认账，我要起诉。", "要求退车")
    assert store.ticket(number)["classification"]["major"]
    assert store.ticket(number)["assignment"]["excluded"] == ["zhao_gang"]
    assert not sink.to(GM)
    assert sink.to(CARE_MANAGER)


def test_a_follow_up_naming_the_general_manager_keeps_every_later_mail_from_him(store, clock):
    number = file(store, "刹车失灵差点出事故！再不处理我就找媒体曝光。", "刹车失灵")
    assert mailed_about(store, number, GM)  # a major complaint: the GM is told at filing
    follow_up(store, number, "赵总也不管这件事。")
    told_before = len(mailed_about(store, number, GM))
    until = clock() + timedelta(days=7)
    while clock() < until:
        clock.advance(minutes=30)
        sweeps.sweep(store.deps, clock())
    assert len(mailed_about(store, number, GM)) == told_before
    assert "zhao_gang" in store.ticket(number)["assignment"]["excluded"]


def test_a_reminder_queued_for_the_handler_is_withheld_once_a_follow_up_names_them(
    store, sink, clock
):
    number = file(store, SALES, "购车承诺不兑现")
    clock.advance(minutes=70)  # past half of the two-hour first-contact allowance
    (remind,) = [a for a in sweeps.sweep(store.deps, clock()).actions if a.action == "remind"]
    assert remind.to == (RETAIL_MANAGER,)  # queued, not yet sent
    follow_up(store, number, "你们的吴芳答应给我回电话，到现在也没有打。")
    assert not [m for m in sink.to(RETAIL_MANAGER) if "催办" in m.message["Subject"]]
    (withheld,) = [m for m in store.outbox() if m.kind == "reminder"]
    assert (withheld.status, withheld.recipient) == ("suppressed", RETAIL_MANAGER)


def test_a_name_only_in_the_quoted_earlier_mail_moves_nothing(store):
    number = file(store, SALES, "购车承诺不兑现")
    quoted = (
        "还是没有人联系我。\n\n"
        "------------------ 原始邮件 ------------------\n"
        "发件人: 客服 <care@dealer.example>\n"
        "主题: 投诉\n\n"
        "吴芳经理将尽快与您联系。\n"
    )
    follow_up(store, number, quoted)
    assignment = store.ticket(number)["assignment"]
    assert (assignment["handler_email"], assignment["excluded"]) == (RETAIL_MANAGER, [])


@pytest.fixture
def on_postgres(tmp_path: Path, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    postgres.require()
    name, url = postgres.create()
    h = Harness(write_config(tmp_path, url, sink.port, STORE_ORG + SECOND_WANG), clock)
    yield h
    h.close()
    postgres.drop(name)


def test_a_follow_up_naming_the_handler_waits_for_a_sweep_at_work_and_withholds_its_mail(
    on_postgres: Harness,
):
    # Two workers on PostgreSQL: a sweep holds the ticket's clocks and has queued a reminder
    # to the handler when the customer's follow-up naming the handler arrives. The follow-up
    # waits for the sweep, so the reminder it committed meanwhile is withheld, never sent.
    h = on_postgres
    number = file(h, SALES, "购车承诺不兑现")
    named = complaint("你们的吴芳答应给我回电话，到现在也没有打。", subject=f"Re: [{number}] 投诉")
    done: list[Outcome] = []
    worker = threading.Thread(target=lambda: done.append(h.deliver(named)))
    with h.store.transaction() as sweep:
        ticket = records.ticket_by_number(sweep, number)
        assert ticket is not None
        locked = select(TicketClock.id).where(TicketClock.ticket_id == ticket.id)
        sweep.scalars(locked.with_for_update()).all()
        reminder = outgoing.Queued("reminder", RETAIL_MANAGER, "<r@x>", "催办", b"x", False)
        since = h.clock() - timedelta(days=1)
        outgoing.enqueue(
            sweep, reminder, ticket.id, h.clock(), since, outgoing.DailyCap(100, "staff")
        )
        worker.start()
        wait_for_a_lock_wait(h)
        assert not done  # the follow-up waits for the sweep's clocks
    worker.join(timeout=30)
    assert done and done[0].ticket == number
    (withheld,) = [m for m in h.outbox() if m.kind == "reminder"]
    assert (withheld.recipient, withheld.status) == (RETAIL_MANAGER, "suppressed")


def wait_for_a_lock_wait(h: Harness, timeout: float = 10.0) -> None:
    """Until another session of this database waits for a row lock."""
    waiting = (
        select(func.count())
        .select_from(text("pg_stat_activity"))
        .where(text("wait_event_type = 'Lock' AND datname = current_database()"))
    )
    deadline = time.monotonic() + timeout
    with h.store.engine.connect() as conn:
        while not conn.execute(waiting).scalar():
            assert time.monotonic() < deadline, "nothing waited for the sweep's locks"
            conn.rollback()  # a fresh snapshot of pg_stat_activity
            time.sleep(0.02)
