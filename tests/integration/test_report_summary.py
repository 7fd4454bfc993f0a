"""`complaintd report summary` over a generated month of tickets across the 2025 National Day
holiday (1-8 October, make-up days 28 September and 11 October): every figure equals the count
made independently from `tickets show --json`, `report missed --json` and `calendar show`.

The month is made with the real pipeline (complaints by mail, the customers' satisfaction
answers by mail, manufacturer exports by `feeds import`), staff acting through daemon.acting,
and the clocks swept every two hours by a fake clock. Both databases.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from support import postgres
from support.clock import FakeClock
from support.feeds import FEED, HEADER, ORG, row, write_xlsx
from support.harness import Harness, write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink

from daemon import sweeps
from daemon.acting import act
from daemon.cli import main
from daemon.lifecycle import Event

SH = ZoneInfo("Asia/Shanghai")
SINCE, UNTIL = date(2025, 9, 22), date(2025, 10, 19)  # Monday to Sunday, four weeks
START = datetime(2025, 9, 18, 9, 30, tzinfo=SH)
END = datetime(2025, 10, 22, 18, 0, tzinfo=SH)  # the run goes on past the period
CARE = "zhou_jie"
RESURVEY = "回访满意度"

TEXTS = (
    "车辆在贵店维修后变速箱还是漏油，要求尽快给个说法。",
    "服务态度差，接待人员爱答不理，一直推诿。",
    "购车时销售顾问承诺的赠品一直没有兑现，要求退还定金。",
)
# A fifth attitude complaint in the period's last week: its manager is over the threshold.
RECURRING_DAYS = (date(2025, 10, 13), date(2025, 10, 14), date(2025, 10, 15), date(2025, 10, 16))

FEED_WITH_RESURVEY = FEED + f'resurvey_score = "{RESURVEY}"\n'


def local(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), SH)


class Month:
    """Runs the generated month: actions in time order, a sweep every two hours between."""

    def __init__(self, h: Harness, config: Path) -> None:
        self.h = h
        self.config = config
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.seq = itertools.count()
        self.numbers: list[str] = []

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        if when <= END:
            heapq.heappush(self.queue, (when, next(self.seq), action))

    def run(self) -> None:
        swept = START
        while self.queue:
            when, _, action = heapq.heappop(self.queue)
            while swept + timedelta(hours=2) < when:
                swept += timedelta(hours=2)
                self.sweep(swept)
            self.sweep(when)
            action()
        self.sweep(END)
        self.h.send_outbox()

    def sweep(self, when: datetime) -> None:
        self.h.clock.set(when)
        sweeps.sweep(self.h.deps, when)

    def handler(self, number: str) -> str:
        handler: str = self.h.ticket(number)["assignment"]["handler"]
        return handler

    def act(self, number: str, event: Event, by: str | None = None, result: str = "") -> None:
        who = by or self.handler(number)
        act(self.h.deps, number, event, who, "report test", self.h.clock(), result=result)

    def answer(self, number: str, sender: str, text: str) -> None:
        """The customer answers the latest satisfaction question, quoting it."""
        asked = [o for o in self.h.ticket(number)["outbox"] if o["kind"] == "satisfaction"]
        body = f"{text}\n\n> 您对处理结果是否满意？\n> 满意 或 不满意\n"
        mail = complaint(
            body,
            sender=sender,
            subject=f"Re: [{number}] 请评价投诉处理结果",
            in_reply_to=f"<{asked[-1]['message_id']}>",
        )
        assert self.h.deliver(mail).ticket == number

    def file(self, i: int, when: datetime, text: str) -> None:
        sender = f"customer{i}@example.cn"

        def opened() -> None:
            number = self.h.deliver(complaint(text, sender=sender)).ticket
            assert number is not None
            self.numbers.append(number)
            self.follow(i, number, sender, when)

        self.at(when, opened)

    def follow(self, i: int, n: str, sender: str, t: datetime) -> None:
        """What staff and the customer do: five patterns, on time and late."""
        pattern = i % 5
        hours = timedelta(hours=1)
        if pattern == 2:  # acknowledged a day late, then left open
            self.at(t + 24 * hours, lambda: self.act(n, Event.ACKNOWLEDGE))
            return
        self.at(t + timedelta(minutes=10), lambda: self.act(n, Event.ACKNOWLEDGE))
        self.at(t + (5 if pattern == 1 else 1) * hours, lambda: self.act(n, Event.CONTACT))
        resolved = t + (120 if pattern == 1 else 26) * hours
        self.at(resolved, lambda: self.act(n, Event.RESOLVE, result="已处理完毕。"))
        answered = resolved + 20 * hours
        if pattern == 0:
            self.at(answered, lambda: self.answer(n, sender, "满意，谢谢！"))
            self.at(answered + hours, lambda: self.act(n, Event.CLOSE, CARE))
        elif pattern == 1:
            self.at(answered, lambda: self.answer(n, sender, "不满意，还是老样子。"))
            self.at(answered + 24 * hours, lambda: self.act(n, Event.RESOLVE, result="已更换。"))
        elif pattern == 4:
            self.at(answered, lambda: self.answer(n, sender, "9分"))
            self.at(answered + hours, lambda: self.act(n, Event.CLOSE, CARE))
        # pattern 3: the customer never answers

    def import_cases(self, when: datetime, rows: list[tuple[object, ...]], name: str) -> None:
        def imported() -> None:
            export = write_xlsx(self.config.parent / name, rows, (*HEADER, RESURVEY))
            run_cli(
                "--config", str(self.config), "feeds", "import", str(export),
                "--feed", "dscrm", "--at", when.isoformat(), "--json",
            )  # fmt: skip

        self.at(when, imported)


def run_cli(*args: str) -> str:
    """complaintd in this process; its standard output."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(args))
    assert code == 0, out.getvalue()
    return out.getvalue()


def cli_json(config: Path, *args: str) -> Any:
    return json.loads(run_cli("--config", str(config), *args))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def month(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smtp_sink: SmtpSink
) -> Iterator[Path]:
    """One generated month per backend, shared by the tests below: they only read it."""
    tmp_path = tmp_path_factory.mktemp(f"month-{request.param}")
    if request.param == "sqlite":
        db_url, dropped = f"sqlite:///{tmp_path / 'complaintd.db'}", ""
    else:
        postgres.require()
        dropped, db_url = postgres.create()
    try:
        yield generated(tmp_path, db_url, smtp_sink)
    finally:
        if dropped:
            postgres.drop(dropped)


def generated(tmp_path: Path, db_url: str, sink: SmtpSink) -> Path:
    clock = FakeClock()
    config = write_config(tmp_path, db_url, sink.port, ORG + FEED_WITH_RESURVEY)
    h = Harness(config, clock)
    m = Month(h, config)
    for i in range(16):
        m.file(i, START + timedelta(hours=46 * i), TEXTS[i % 3])
    for j, d in enumerate(RECURRING_DAYS):
        m.file(100 + j, local(d, 11), TEXTS[1])
    dispatched = "2025-09-25 10:00"
    m.import_cases(
        local(date(2025, 9, 25), 10, 30),
        [
            (*row("DS1", dispatched=dispatched, score=5, email="a@example.cn"), ""),
            (*row("DS2", dispatched=dispatched, score=4, email="b@example.cn"), ""),
            (*row("DS3", dispatched=dispatched, score=9, email="c@example.cn"), ""),
        ],
        "first.xlsx",
    )
    m.import_cases(
        local(date(2025, 10, 10), 10, 30),
        [
            (*row("DS1", dispatched=dispatched, score=5, email="a@example.cn"), 9),
            (*row("DS2", dispatched=dispatched, score=4, email="b@example.cn"), 3),
        ],
        "second.xlsx",
    )
    m.run()
    h.close()
    path: Path = config
    return path


# ------------------------------------------------------------------ the independent count --------


def instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class Count:
    """The figures recounted from what `tickets show --json`, `report missed` and `calendar
    show` print, without daemon.reports."""

    def __init__(self, config: Path) -> None:
        self.since = local(SINCE, 0)
        self.until = local(UNTIL + timedelta(days=1), 0)
        listed = cli_json(config, "tickets", "list", "--json", "--limit", "1000")
        self.tickets = [cli_json(config, "tickets", "show", t["number"], "--json") for t in listed]
        self.ledger = cli_json(
            config, "report", "missed", "--tickets", "--json",
            "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(),
        )  # fmt: skip
        self.off: set[date] = set()
        self.makeup: set[date] = set()
        for d in cli_json(config, "calendar", "show", "2025", "--json")["days"]:
            (self.off if d["kind"] == "holiday" else self.makeup).add(date.fromisoformat(d["date"]))

    def inside(self, at: datetime | None) -> bool:
        return at is not None and self.since <= at < self.until

    def transitions(self, t: dict[str, Any]) -> list[tuple[datetime, dict[str, Any]]]:
        out = [(instant(e["at"]), e["detail"]) for e in t["events"] if e["kind"] == "transition"]
        return [(at, d) for at, d in out if at is not None]

    def tickets_figures(self) -> dict[str, Any]:
        opened = sum(1 for t in self.tickets if self.inside(instant(t["opened_at"])))
        moves = [d for t in self.tickets for at, d in self.transitions(t) if self.inside(at)]
        backlog = dict.fromkeys(("0-1", "1-3", "3-7", "7+"), 0)
        for t in self.tickets:
            before = [(at, d) for at, d in self.transitions(t) if at < self.until]
            if not before or max(before, key=lambda x: x[0])[1]["to"] == "closed":
                continue
            age = self.working_days_after(instant(t["opened_at"]).astimezone(SH).date())  # type: ignore[union-attr]
            bucket = "0-1" if age <= 1 else "1-3" if age <= 3 else "3-7" if age <= 7 else "7+"
            backlog[bucket] += 1
        return {
            "opened": opened,
            "resolved": sum(1 for d in moves if d["to"] == "resolved"),
            "closed": sum(1 for d in moves if d["to"] == "closed"),
            "reopened": sum(1 for d in moves if d["event"] == "reopen"),
            "open_at_end": sum(backlog.values()),
            "backlog": backlog,
        }

    def working_days_after(self, opened: date) -> int:
        n, d = 0, opened + timedelta(days=1)
        while d <= UNTIL:
            working = d in self.makeup or (d.weekday() < 5 and d not in self.off)
            n += working
            d += timedelta(days=1)
        return n

    def breaches(self) -> set[tuple[str, str, str]]:
        return {(r["ticket"], r["clock"], r["due_at"]) for r in self.ledger}

    def stops(self, t: dict[str, Any]) -> list[tuple[str, datetime, bool]]:
        """(clock, when, on time) of every stop the ticket's transitions made, a clock its
        reopening restarted stopping again included: late when a breach entry falls between
        its start and its stop (a miss met at the stop is entered with it). A transition
        starts only the clocks the ticket's plan has: those it shows."""
        planned = {c["kind"] for c in t["clocks"]}
        started: dict[str, datetime] = {}
        runs: list[tuple[str, datetime, datetime]] = []
        for at, d in self.transitions(t):
            for kind in d.get("clocks", {}).get("stop", []):
                if kind in started:
                    runs.append((kind, started.pop(kind), at))
            for kind in d.get("clocks", {}).get("start", []):
                if kind in planned:
                    started[kind] = at
        breaches = [
            (e["detail"]["clock"], instant(e["at"])) for e in t["events"] if e["kind"] == "breached"
        ]
        return [
            (kind, stop, not any(k == kind and start <= b <= stop for k, b in breaches))  # type: ignore[operator]
            for kind, start, stop in runs
        ]

    def clocks(self) -> dict[str, dict[str, Any]]:
        on_time: Counter[str] = Counter(
            kind
            for t in self.tickets
            for kind, at, in_time in self.stops(t)
            if in_time and self.inside(at)
        )
        missed = Counter(kind for _, kind, _ in self.breaches())
        out = {}
        for kind in set(on_time) | set(missed) | {"first_response", "resolution"}:
            due = on_time[kind] + missed[kind]
            rate = None if due == 0 else round(on_time[kind] / due, 4)
            out[kind] = {"due": due, "on_time": on_time[kind], "missed": missed[kind],
                         "on_time_rate": rate}  # fmt: skip
        return out

    def breached_events(self) -> Counter[str]:
        """The other way round: the audit trail's breach entries in the period, per clock."""
        return Counter(
            e["detail"]["clock"]
            for t in self.tickets
            for e in t["events"]
            if e["kind"] == "breached" and self.inside(instant(e["at"]))
        )

    def satisfaction(self) -> dict[str, Any]:
        surveyed = satisfied = unsatisfied = 0
        scores: list[int] = []
        for t in self.tickets:
            waiting = False
            for e in t["events"]:
                at = instant(e["at"])
                if at is None or at >= self.until:
                    break
                d = e["detail"]
                if e["kind"] == "customer-mail" and d["what"] == "satisfaction":
                    waiting = d["status"] == "pending" and at >= self.since
                    surveyed += waiting
                elif e["kind"] == "satisfaction" and waiting:
                    waiting = False
                    satisfied += d["verdict"] == "satisfied"
                    unsatisfied += d["verdict"] == "unsatisfied"
                    if d["score"] is not None:
                        scores.append(d["score"])
        return {
            "surveyed": surveyed,
            "satisfied": satisfied,
            "unsatisfied": unsatisfied,
            "no_answer": surveyed - satisfied - unsatisfied,
            "rate": None if surveyed == 0 else round(satisfied / surveyed, 4),
            "mean_score": round(sum(scores) / len(scores), 2) if scores else None,
        }

    def value(self, t: dict[str, Any], dim: str) -> str:
        if dim == "handler":
            return str(t["assignment"]["handler"])
        if dim == "channel":
            return str(t["channel"])
        if dim == "manufacturer":
            return str(t["manufacturer"]["oem"]) if t["manufacturer"] else ""
        return str(t["classification"][dim])

    def breakdown(self, dim: str) -> dict[str, tuple[int, int]]:
        by_number = {t["number"]: t for t in self.tickets}
        opened: Counter[str] = Counter()
        missed: Counter[str] = Counter()
        for t in self.tickets:
            if self.inside(instant(t["opened_at"])):
                opened[self.value(t, dim)] += 1
        for number, _, _ in self.breaches():
            missed[self.value(by_number[number], dim)] += 1
        return {v: (opened[v], missed[v]) for v in set(opened) | set(missed)}

    def penalties(self, managers: dict[str, str]) -> dict[tuple[str, str, str], int]:
        """Seed 000's amounts (no clock here was missed for a month, so no repeats)."""
        handler = {"first_response": 100, "first_contact": 100, "resolution": 50, "close": 100,
                   "callback": 100}  # fmt: skip
        out: Counter[tuple[str, str, str]] = Counter()
        for r in self.ledger:
            out[(r["person"], "handler", r["clock"])] += handler.get(r["clock"], 0)
            if r["clock"] == "resolution" and r["person"] in managers:
                out[(managers[r["person"]], "manager", r["clock"])] += 50
        for manager, numbers in self.recurring(managers).items():
            if len(numbers) > 3:
                out[(manager, "manager", "recurring")] += 50
        return dict(out)

    def recurring(self, managers: dict[str, str]) -> dict[str, list[str]]:
        monday = local(UNTIL - timedelta(days=UNTIL.weekday()), 0)
        out: dict[str, list[str]] = defaultdict(list)
        for t in self.tickets:
            opened = instant(t["opened_at"])
            service = t["classification"]["category"] == "service"
            if service and opened is not None and monday <= opened < self.until:
                handler = t["assignment"]["handler"]
                out[managers.get(handler, handler)].append(t["number"])
        return out

    def zero_complaint(self) -> dict[str, Any]:
        cases = [t["manufacturer"] for t in self.tickets if t["manufacturer"]]
        zero = [c for c in cases if c["zero_complaint"]]
        failed = [c for c in zero if c["zero_complaint_state"] == "failure"]
        return {
            "opened": sum(1 for c in zero if self.inside(instant(c["dispatched_at"]))),
            "resurveyed": sum(1 for c in zero if c["zero_complaint_state"] != "pending"),
            "succeeded": sum(1 for c in zero if c["zero_complaint_state"] == "success"),
            "failed": len(failed),
            "penalty": round(sum(c["penalty"] for c in failed)),
        }


MANAGERS = {"feng_yu": "zheng_hao", "wang_lei": "zheng_hao", "zheng_hao": "qian_hong",
            "zhou_jie": "zhao_gang", "wu_fang": "sun_li"}  # fmt: skip


@pytest.fixture(scope="module")
def figures(month: Path) -> tuple[dict[str, Any], Count]:
    summary = cli_json(
        month, "report", "summary", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(),
        "--json",
    )  # fmt: skip
    return summary, Count(month)


def test_the_month_is_what_the_test_means_it_to_be(figures: tuple[dict[str, Any], Count]) -> None:
    summary, _ = figures
    t = summary["tickets"]
    assert t["opened"] >= 15 and t["resolved"] > 0 and t["reopened"] > 0 and t["closed"] > 0
    assert sum(c["missed"] for c in summary["clocks"].values()) > 0
    assert summary["satisfaction"]["no_answer"] > 0
    assert any(r["flagged"] for r in summary["recurring"])
    assert summary["zero_complaint"]["failed"] == 1


def test_ticket_counts_equal_the_audit_trails(figures: tuple[dict[str, Any], Count]) -> None:
    summary, count = figures
    assert summary["tickets"] == count.tickets_figures()


def test_clock_figures_equal_the_clocks_and_the_ledger(
    figures: tuple[dict[str, Any], Count],
) -> None:
    summary, count = figures
    expected = count.clocks()
    for kind, figure in summary["clocks"].items():
        assert figure == expected.get(
            kind, {"due": 0, "on_time": 0, "missed": 0, "on_time_rate": None}
        ), kind


def test_missed_clocks_add_up_both_ways(figures: tuple[dict[str, Any], Count]) -> None:
    summary, count = figures
    missed = {k: c["missed"] for k, c in summary["clocks"].items() if c["missed"]}
    assert missed == dict(count.breached_events())
    assert sum(missed.values()) == len(count.breaches())


def test_satisfaction_equals_the_answers_in_the_trail(
    figures: tuple[dict[str, Any], Count],
) -> None:
    summary, count = figures
    assert summary["satisfaction"] == count.satisfaction()


@pytest.mark.parametrize(
    "dim", ["category", "department", "channel", "severity", "handler", "manufacturer"]
)
def test_breakdown_equals_the_tickets(figures: tuple[dict[str, Any], Count], dim: str) -> None:
    summary, count = figures
    got = {r["value"]: (r["opened"], r["missed"]) for r in summary["breakdown"][dim]}
    assert got == count.breakdown(dim)


def test_penalties_equal_the_ledger_priced_by_the_regulations(
    figures: tuple[dict[str, Any], Count],
) -> None:
    summary, count = figures
    got = {(p["person"], p["role"], p["clock"]): p["amount"] for p in summary["penalties"]}
    assert got == count.penalties(MANAGERS)


def test_each_penalty_line_names_the_tickets_behind_it(
    figures: tuple[dict[str, Any], Count],
) -> None:
    summary, count = figures
    for p in summary["penalties"]:
        if p["role"] == "handler":
            line = (p["person"], p["clock"])
            behind = {r["ticket"] for r in count.ledger if (r["person"], r["clock"]) == line}
            assert set(p["tickets"]) == behind


def test_recurring_complaints_per_manager_equal_the_weeks_tickets(
    figures: tuple[dict[str, Any], Count],
) -> None:
    summary, count = figures
    got = {r["manager"]: sorted(r["tickets"]) for r in summary["recurring"]}
    assert got == {m: sorted(n) for m, n in count.recurring(MANAGERS).items()}


def test_zero_complaint_equals_the_manufacturers_cases(
    figures: tuple[dict[str, Any], Count],
) -> None:
    summary, count = figures
    got = {k: v for k, v in summary["zero_complaint"].items() if k != "failed_tickets"}
    assert got == count.zero_complaint()


def test_csv_and_xlsx_hold_the_same_figures(month: Path, tmp_path: Path) -> None:
    bounds = ("--since", SINCE.isoformat(), "--until", UNTIL.isoformat())
    summary = cli_json(month, "report", "summary", *bounds, "--json")
    lines = run_cli("--config", str(month), "report", "summary", *bounds, "--csv").splitlines()
    assert f"tickets,,opened,{summary['tickets']['opened']}" in lines
    book = tmp_path / "summary.xlsx"
    run_cli("--config", str(month), "report", "summary", *bounds, "--xlsx", str(book))
    sheet = load_workbook(book)["clocks"]
    cells = {(r[0], r[1]): r[2] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells[("resolution", "missed")] == summary["clocks"]["resolution"]["missed"]


def test_report_missed_still_works(month: Path) -> None:
    rows = cli_json(month, "report", "missed", "--json")
    assert rows and {"person", "clock", "missed", "name"} <= set(rows[0])
