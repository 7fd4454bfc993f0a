"""What a scheduled report shows, as tables and chart data in the reader's language.

Pure. The mail's HTML and plain text, its charts and its workbook are all drawn from the same
`tables`, so every copy of a figure is the same number.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.reports.charts import Bars, Lines
from daemon.reports.figures import AGE_BUCKETS, Summary
from daemon.reports.schedule import ReportKind, ReportPeriod
from daemon.reports.words import Words

Cell = str | int | float | None


@dataclass(frozen=True, slots=True)
class Report:
    """One period's figures for one audience, with the weeks before it for the trend."""

    kind: ReportKind
    period: ReportPeriod
    summary: Summary
    trend: tuple[tuple[ReportPeriod, Summary], ...]  # the last 8 weeks, oldest first
    department: str = ""  # "" for the whole dealership


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table; `rates` are the columns holding fractions (shown as percentages)."""

    name: str  # stable: the chart and the workbook sheet it goes with
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    rates: frozenset[int] = frozenset()


def title(report: Report, words: Words) -> str:
    """e.g. '投诉周报 2025-W14（售后服务部）'."""
    scope = words.key(report.department, "department") if report.department else words("desk")
    if words.language == "en":
        return f"{words(report.kind.value)} {report.period.key} ({scope})"
    return f"{words(report.kind.value)} {report.period.key}（{scope}）"


def tables(report: Report, words: Words) -> tuple[Table, ...]:
    s = report.summary
    t = s.tickets
    return (
        Table(
            "tickets",
            words("tickets"),
            (words("tickets"), words("count")),
            tuple(
                (words(name), getattr(t, name))
                for name in ("opened", "resolved", "closed", "reopened", "open_at_end")
            ),
        ),
        Table(
            "clocks",
            words("clocks"),
            (
                words("clock"),
                words("due"),
                words("on_time"),
                words("missed"),
                words("on_time_rate"),
            ),
            tuple(
                (words.key(c.kind, "clock"), c.due, c.on_time, c.missed, c.on_time_rate)
                for c in s.clocks
            ),
            frozenset({4}),
        ),
        Table(
            "satisfaction",
            words("satisfaction"),
            tuple(
                words(name)
                for name in ("surveyed", "satisfied", "unsatisfied", "no_answer", "rate", "mean")
            ),
            (
                (
                    s.satisfaction.surveyed,
                    s.satisfaction.satisfied,
                    s.satisfaction.unsatisfied,
                    s.satisfaction.no_answer,
                    s.satisfaction.rate,
                    s.satisfaction.mean_score,
                ),
            ),
            frozenset({4}),
        ),
        Table(
            "backlog",
            words("backlog"),
            (words("age"), words("count")),
            tuple((bucket, t.backlog.get(bucket, 0)) for bucket in AGE_BUCKETS),
        ),
        Table(
            "categories",
            words("categories"),
            (words("category"), words("count")),
            tuple(
                (words.key(row.value, "category"), row.opened)
                for row in s.breakdown.rows.get("category", ())
                if row.opened
            ),
        ),
        Table(
            "penalties",
            words("penalties"),
            (words("person"), words("role"), words("clock"), words("missed"), words("amount")),
            tuple(
                (
                    p.name or p.person,
                    words(p.role),
                    words("recurring") if p.clock == "recurring" else words.key(p.clock, "clock"),
                    p.missed,
                    p.amount,
                )
                for p in s.penalties
            ),
        ),
        _trend_table(report, words),
    )


def _trend_clocks(report: Report) -> list[str]:
    """The clocks that came due in any week of the trend, in the summary's order."""
    seen = {c.kind for _, week in report.trend for c in week.clocks if c.due}
    return [c.kind for c in report.summary.clocks if c.kind in seen]


def _trend_table(report: Report, words: Words) -> Table:
    kinds = _trend_clocks(report)
    rows = tuple(
        (period.key, *(week.clock(kind).on_time_rate for kind in kinds))
        for period, week in report.trend
    )
    header = (words("week"), *(words.key(kind, "clock") for kind in kinds))
    return Table("trend", words("trend"), header, rows, frozenset(range(1, len(header))))


def penalties_by_person(report: Report) -> list[tuple[str, int]]:
    """Each person's total, largest first."""
    totals: dict[str, int] = defaultdict(int)
    for p in report.summary.penalties:
        totals[p.name or p.person] += p.amount
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def charts(report: Report, words: Words) -> list[tuple[str, Bars | Lines]]:
    """The four charts: on-time rate per clock over 8 weeks, complaints by category, backlog
    by age, penalties by person."""
    by_name = {table.name: table for table in tables(report, words)}
    trend = by_name["trend"]
    series = tuple(
        (
            str(label),
            tuple(
                None if row[n] is None else round(float(row[n] or 0) * 100, 1) for row in trend.rows
            ),
        )
        for n, label in enumerate(trend.header[1:], start=1)
    )
    people = penalties_by_person(report)
    return [
        (
            "on_time",
            Lines(
                trend.title,
                tuple(str(row[0]) for row in trend.rows),
                series,
                words("unit_percent"),
            ),
        ),
        ("categories", _bars(by_name["categories"], words("unit_count"))),
        ("backlog", _bars(by_name["backlog"], words("unit_count"))),
        (
            "penalties",
            Bars(
                words("penalties"),
                tuple(name for name, _ in people),
                tuple(float(amount) for _, amount in people),
                words("unit_money"),
            ),
        ),
    ]


def _bars(table: Table, unit: str) -> Bars:
    return Bars(
        table.title,
        tuple(str(row[0]) for row in table.rows),
        tuple(float(row[1] or 0) for row in table.rows),
        unit,
    )


def shown(cell: Cell, rate: bool, words: Words) -> str:
    """A cell as text: rates as percentages, a dash for a figure with nothing to count."""
    if cell is None:
        return "—"
    if rate and not isinstance(cell, str):
        return words.rate(float(cell))
    return f"{cell:g}" if isinstance(cell, float) else str(cell)


def text_rows(table: Table, words: Words) -> Sequence[tuple[str, ...]]:
    return [
        tuple(shown(cell, n in table.rates, words) for n, cell in enumerate(row))
        for row in table.rows
    ]
