"""Opening a ticket, decided without a database: state, clocks, audit entries and notices."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from daemon import events
from daemon.clocks import ClockKind, ClockPlan, ClockSettings, TicketFacts, plan_clocks
from daemon.lifecycle import Status
from daemon.notices import TicketFacts as NoticeFacts
from daemon.notices import UnsureName
from daemon.opening import Mail, Opening, Policy, decide
from daemon.values import Ambiguity, Assignment, Classification, Delegation, Evidence
from daemon.workdays import BusinessCalendar, CalendarSettings

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar.from_settings(CalendarSettings())
NOW = datetime(2025, 9, 15, 9, 0, tzinfo=SH)  # a Monday without holidays
FACTS = NoticeFacts(
    "TS-202509-0001", "刹车异响", "a@example.cn", "张伟", "刹车异响", "service",
    "after_sales", "general", NOW, "客户关爱中心",
)  # fmt: skip
MAIL = Mail("a@example.cn", "c1@client.example", ("c0@client.example",))


def _promise(due: dict[ClockKind, datetime], now: datetime) -> datetime:
    return min(due.values(), default=now + timedelta(hours=2))


def _policy(send_mail: bool = True) -> Policy:
    return Policy(CAL, SH, "zh-CN", send_mail, _promise)


def _plans(major: bool = False) -> tuple[ClockPlan, ...]:
    return plan_clocks(
        TicketFacts("email", "service", "general", "standard", major), ClockSettings()
    )


def _c(major: tuple[str, ...] = ()) -> Classification:
    evidence = (Evidence("category:service", "态度", 1.0),)
    return Classification("service", "after_sales", "general", major, evidence, "zh-CN")


HANDLED = Assignment("feng_yu", "feng.yu@dealer.example", ("care@dealer.example",), (), rule="r")
NOBODY = Assignment("", "", (), ())


def _open(
    a: Assignment, major: tuple[str, ...] = (), reported: bool = False, **kw: bool
) -> Opening:
    return decide(_c(major), a, _plans(bool(major)), reported, FACTS, MAIL, _policy(**kw), NOW)


def test_an_unassigned_ticket_stays_new_without_a_first_contact_clock() -> None:
    opened = _open(NOBODY)
    assert opened.status is Status.NEW
    assert ClockKind.FIRST_CONTACT not in {state.kind for state, _ in opened.clocks}


def test_an_assigned_ticket_starts_its_first_contact_clock() -> None:
    opened = _open(HANDLED)
    assert opened.status is Status.ASSIGNED
    assert ClockKind.FIRST_CONTACT in {state.kind for state, _ in opened.clocks}


def test_the_customer_is_acknowledged_the_handler_assigned_and_the_rest_informed() -> None:
    letters = [(x.kind, x.notice.recipient) for x in _open(HANDLED).letters]
    assert letters == [
        ("acknowledgement", "a@example.cn"),
        ("assignment", "feng.yu@dealer.example"),
        ("inform", "care@dealer.example"),
    ]


def test_the_acknowledgement_answers_the_customers_message_and_promises_the_first_deadline() -> (
    None
):
    ack = _open(HANDLED).letters[0].notice
    assert (ack.in_reply_to, ack.references, ack.auto_reply) == (
        "c1@client.example",
        ("c0@client.example",),
        True,
    )
    # first contact: 2 working hours
    assert ack.context["reply_by"] == datetime(2025, 9, 15, 11, 0, tzinfo=SH)


def test_a_backfill_decides_the_same_ticket_but_no_mail() -> None:
    assert _open(HANDLED, send_mail=False).letters == ()
    assert _open(HANDLED, send_mail=False).clocks == _open(HANDLED).clocks


def test_a_major_complaint_the_general_manager_is_told_of_stops_its_report_clock() -> None:
    opened = _open(HANDLED, major=("media",), reported=True)
    (report,) = [state for state, _ in opened.clocks if state.kind is ClockKind.MAJOR_REPORT]
    assert report.stopped_at == NOW
    deadlines = opened.letters[1].notice.context["deadlines"]
    assert "first_contact" in str(deadlines)
    assert "major_report" not in str(deadlines)


def test_the_audit_trail_records_classification_delegation_exclusion_assignment_then_moves() -> (
    None
):
    a = Assignment(
        "feng_yu", "f@x.example", (), ("li_na",), (Delegation("wu", "feng_yu", "leave"),)
    )
    kinds = [e.kind for e in _open(a).events]
    assert kinds == [
        events.Kind.CLASSIFIED,
        events.Kind.DELEGATED,
        events.Kind.EXCLUDED,
        events.Kind.ASSIGNED,
        events.Kind.TRANSITION,
        events.Kind.TRANSITION,
    ]


def test_a_major_report_that_reaches_nobody_is_in_the_audit_trail() -> None:
    a = Assignment("feng_yu", "f@x.example", (), (), unheard=("legal: nobody holds role legal",))
    unheard = [e.detail for e in _open(a, major=("media",)).events if e.kind is events.Kind.UNHEARD]
    assert [u.as_json() for u in unheard] == [
        {
            "what": "major_report",
            "clock": "",
            "step": None,
            "why": "legal: nobody holds role legal",
        }
    ]


UNSURE = Assignment(
    "feng_yu",
    "feng.yu@dealer.example",
    ("care@dealer.example", "gm@dealer.example"),
    ("wang_lei", "wang_qiang"),
    ambiguous=(Ambiguity("王经理", ("wang_lei", "wang_qiang")),),
    care_email="care@dealer.example",
)
NAMES = {"wang_lei": "王磊", "wang_qiang": "王强"}


def _open_unsure() -> Opening:
    policy = Policy(CAL, SH, "zh-CN", True, _promise, NAMES)
    return decide(_c(), UNSURE, _plans(), False, FACTS, MAIL, policy, NOW)


def test_an_ambiguous_title_is_audited_with_every_candidate() -> None:
    unsure = [e.detail for e in _open_unsure().events if e.kind is events.Kind.AMBIGUOUS_NAME]
    assert [u.as_json() for u in unsure] == [
        {"term": "王经理", "people": ["wang_lei", "wang_qiang"]}
    ]


def test_only_customer_cares_inform_asks_whom_an_ambiguous_title_meant() -> None:
    informs = {
        x.notice.recipient: x.notice.context["unsure"]
        for x in _open_unsure().letters
        if x.kind == "inform"
    }
    assert informs == {
        "care@dealer.example": (UnsureName("王经理", ("王磊", "王强")),),
        "gm@dealer.example": (),
    }
