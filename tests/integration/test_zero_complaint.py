"""零抱怨 through a manufacturer's exports, on both databases: a survey score of 6 or less opens a
zero-complaint case; the manufacturer's re-survey a week later settles it, by its score or by a
status word the feed's table names; a failure carries the configured penalty, once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from support.clock import FakeClock
from support.feeds import FEED, HEADER, ORG, row, write_xlsx
from support.harness import Harness, write_config
from support.smtp_sink import SmtpSink

from daemon.feeds.ingest import drain_folder
from daemon.store.cases import ManufacturerCase
from daemon.store.models import Ticket, TicketEvent

SH = ZoneInfo("Asia/Shanghai")

CONFIG = (
    ORG
    + FEED
    + """resurvey_score = "回访得分"

[feeds.statuses]
"回访满意" = "satisfied"
"回访不满意" = "unsatisfied"

[reports.penalties]
zero_complaint_failure = 2000
"""
)
COLUMNS = (*HEADER, "回访得分")
Cells = tuple[object, ...]


@pytest.fixture
def h(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    clock.set(datetime(2026, 11, 23, 10, 20, tzinfo=SH))
    harness = Harness(write_config(tmp_path, db_url, sink.port, CONFIG), clock)
    yield harness
    harness.close()


def export(h: Harness, name: str, *rows: Cells) -> None:
    folder = h.settings.feeds[0].folder
    folder.mkdir(parents=True, exist_ok=True)
    write_xlsx(folder / name, rows, header=COLUMNS)
    drain_folder(h.settings.feeds[0], h.deps, lambda: False, settle_seconds=0)


def case(
    case_id: str, score: str, status: str = "待处理", resurvey: str = ""
) -> tuple[object, ...]:
    return (*row(case_id, score=score, status=status), resurvey)


def shown(h: Harness, case_id: str) -> dict[str, object]:
    with h.session() as s:
        ticket_id = s.scalars(
            select(ManufacturerCase.ticket_id).where(ManufacturerCase.case_id == case_id)
        ).one()
        number = s.get_one(Ticket, ticket_id).number
    manufacturer = h.ticket(number)["manufacturer"]
    assert isinstance(manufacturer, dict)
    return manufacturer


def settled(h: Harness) -> list[dict[str, object]]:
    with h.session() as s:
        query = select(TicketEvent).where(TicketEvent.kind == "zero-complaint")
        return [e.detail for e in s.scalars(query.order_by(TicketEvent.id))]


def test_a_score_of_six_or_less_is_a_zero_complaint_awaiting_its_resurvey(h: Harness):
    export(h, "week1.xlsx", case("DZ1", "6"), case("DZ2", "7"))

    assert shown(h, "DZ1")["zero_complaint_state"] == "pending"
    assert shown(h, "DZ2")["zero_complaint_state"] is None


def test_a_resurvey_still_unhappy_records_the_configured_penalty_once(h: Harness, clock: FakeClock):
    export(h, "week1.xlsx", case("DZ3", "5"))
    clock.advance(days=7)
    export(h, "week2.xlsx", case("DZ3", "5", resurvey="6"))
    clock.advance(hours=1)
    export(h, "week2-again.xlsx", case("DZ3", "5", status="已回访", resurvey="6"))

    assert (shown(h, "DZ3")["zero_complaint_state"], shown(h, "DZ3")["penalty"]) == (
        "failure",
        2000.0,
    )
    assert [(d["result"], d["penalty"]) for d in settled(h)] == [("failure", 2000.0)]


def test_a_resurvey_verdict_in_words_settles_the_case(h: Harness, clock: FakeClock):
    export(h, "week1.xlsx", case("DZ4", "3"))
    clock.advance(days=7)

    export(h, "week2.xlsx", case("DZ4", "3", status="回访满意"))

    assert shown(h, "DZ4")["zero_complaint_state"] == "success"
    assert [(d["result"], d["penalty"]) for d in settled(h)] == [("success", None)]


def test_a_later_export_with_the_resurvey_score_in_the_score_column_stays_a_zero_complaint(
    h: Harness, clock: FakeClock
):
    export(h, "week1.xlsx", case("DZ5", "4"))
    clock.advance(days=7)

    export(h, "week2.xlsx", case("DZ5", "9"))

    assert shown(h, "DZ5")["zero_complaint"] is True
    assert shown(h, "DZ5")["zero_complaint_state"] == "pending"
