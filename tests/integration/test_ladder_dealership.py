"""The escalation ladder over a dealership, swept through time around the 2025 National Day
holiday (1-8 October off, 28 September and 11 October make-up workdays) and an ordinary week:
each person hears each step once, in ladder order, at the step's configured time. Real SMTP
sink and outbox rows, both databases; only the clock is faked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import DEPUTY, GM, SERVICE_DIRECTOR, SERVICE_MANAGER, STORE_ORG
from support.smtp_sink import SmtpSink

from daemon import sweeps
from daemon.store.models import OutboxMail

SH = ZoneInfo("Asia/Shanghai")
REPAIR = "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。"

# After-sales complaints go to a service advisor, who reports to the service manager.
TO_ADVISOR = """
[[org.routing]]
department = "after_sales"
role = "service_advisor"

[[org.routing]]
role = "customer_care_manager"
"""


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=SH)


@dataclass(frozen=True)
class Case:
    """A complaint filed at `filed`, and the first-contact escalations it must bring."""

    routing: str  # "" for the default table: after-sales complaints to the service manager
    filed: datetime
    steps: tuple[tuple[int, str, datetime], ...]  # (step, address, when queued)


CASES = {
    # The service manager handles it: their manager is the service director, so step 2 tells
    # nobody new and the general manager hears at step 3's time, after the holiday.
    "manager-is-director-over-national-day": Case(
        "",
        at(9, 30, 14),
        ((1, SERVICE_DIRECTOR, at(9, 30, 16)), (3, GM, at(10, 10, 11))),
    ),
    "advisor-over-national-day": Case(
        TO_ADVISOR,
        at(9, 30, 14),
        (
            (1, SERVICE_MANAGER, at(9, 30, 16)),
            (2, SERVICE_DIRECTOR, at(10, 9, 11)),
            (3, GM, at(10, 10, 11)),
        ),
    ),
    # Filed the Friday after the holiday; the GM's step falls on the Saturday make-up day.
    "advisor-on-make-up-workdays": Case(
        TO_ADVISOR,
        at(10, 10, 10),
        (
            (1, SERVICE_MANAGER, at(10, 10, 12)),
            (2, SERVICE_DIRECTOR, at(10, 10, 17, 30)),
            (3, GM, at(10, 11, 17, 30)),
        ),
    ),
    "manager-is-director-from-a-sunday-make-up-day": Case(
        "",
        at(9, 28, 14),
        ((1, SERVICE_DIRECTOR, at(9, 28, 16)), (3, GM, at(9, 30, 11))),
    ),
    "advisor-in-an-ordinary-week": Case(
        TO_ADVISOR,
        at(11, 17, 10),
        (
            (1, SERVICE_MANAGER, at(11, 17, 12)),
            (2, SERVICE_DIRECTOR, at(11, 17, 17, 30)),
            (3, GM, at(11, 18, 17, 30)),
        ),
    ),
    "manager-is-director-in-an-ordinary-week": Case(
        "",
        at(11, 17, 10),
        ((1, SERVICE_DIRECTOR, at(11, 17, 12)), (3, GM, at(11, 18, 17, 30))),
    ),
}


def _harness(tmp_path: Path, db_url: str, sink: SmtpSink, case: Case) -> Harness:
    clock = FakeClock(case.filed)
    return Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG + case.routing), clock)


def _sweep_through(h: Harness, until: datetime, instants: tuple[datetime, ...]) -> None:
    """Sweep every half hour, and one minute before each instant, as a daemon would."""
    start = h.clock()
    times = {start + timedelta(minutes=30 * n) for n in range(1, 2000)}
    times |= {t - timedelta(minutes=1) for t in instants}
    for t in sorted(x for x in times if start < x <= until):
        h.clock.set(t)
        sweeps.sweep(h.deps, t)
    h.send_outbox()


def _escalations(h: Harness) -> list[OutboxMail]:
    """Queued first-contact escalations to the ladder (not the copies), oldest first."""
    with h.session() as s:
        rows = s.scalars(
            select(OutboxMail).where(OutboxMail.kind == "escalation").order_by(OutboxMail.id)
        ).all()
    return [r for r in rows if "【抄送】" not in r.subject and "首次联系客户" in r.subject]


@pytest.mark.parametrize("name", list(CASES))
def test_each_person_hears_their_step_once_in_order_at_its_configured_time(
    name: str, tmp_path: Path, db_url: str, sink: SmtpSink
) -> None:
    case = CASES[name]
    h = _harness(tmp_path, db_url, sink, case)
    try:
        number = h.deliver(complaint(REPAIR, subject="变速箱漏油")).ticket
        assert number is not None
        last = case.steps[-1][2]
        _sweep_through(h, last + timedelta(days=3), tuple(t for _, _, t in case.steps))
        got = [
            (int(r.subject.split("第 ")[1][0]), r.recipient, r.created_at.astimezone(SH))
            for r in _escalations(h)
        ]
        assert got == list(case.steps)
        # The real SMTP sink received exactly those, with the step number of the ladder.
        for step, address, _ in case.steps:
            (mail,) = [
                m
                for m in sink.to(address)
                if "上报" in m.message["Subject"]
                and "首次联系客户" in m.message["Subject"]
                and "【抄送】" not in m.message["Subject"]
            ]
            assert f"第 {step} 级" in mail.message["Subject"]
            assert f"这是第 {step} 级上报（共 3 级" in mail.text
    finally:
        h.close()


def test_a_step_that_repeats_a_person_is_audited_and_mails_nobody(
    tmp_path: Path, db_url: str, sink: SmtpSink
) -> None:
    case = CASES["manager-is-director-in-an-ordinary-week"]
    h = _harness(tmp_path, db_url, sink, case)
    try:
        number = h.deliver(complaint(REPAIR, subject="变速箱漏油")).ticket
        assert number is not None
        _sweep_through(h, at(11, 17, 18), ())
        steps = [
            e["detail"]
            for e in h.ticket(number)["events"]
            if e["kind"] == "escalated" and e["detail"]["clock"] == "first_contact"
        ]
        assert [(s["step"], s["to"], s["emails"]) for s in steps] == [
            (1, ["qian_hong"], [SERVICE_DIRECTOR]),
            (2, [], []),
        ]
        assert steps[1]["nobody_new"] == "director qian_hong already told at step 1"
        assert not [e for e in h.ticket(number)["events"] if e["kind"] == "unheard"]
    finally:
        h.close()


def test_the_handler_is_never_sent_a_step(tmp_path: Path, db_url: str, sink: SmtpSink) -> None:
    case = CASES["advisor-in-an-ordinary-week"]
    h = _harness(tmp_path, db_url, sink, case)
    try:
        h.deliver(complaint(REPAIR, subject="变速箱漏油"))
        _sweep_through(h, at(11, 20, 18), ())
        assert not [m for m in sink.to(DEPUTY) if "上报" in m.message["Subject"]]
    finally:
        h.close()
