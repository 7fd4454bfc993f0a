"""One record from a manufacturer's system -> a typed case, or a typed rejection with its reason.

Pure: the record comes in as the source gave it (a spreadsheet row, a CSV line, a JSON object),
with the feed's field mapping and the service's time zone; nothing is read or written here.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import ClassVar
from zoneinfo import ZoneInfo

from daemon import events
from daemon.addresses import addr_spec
from daemon.clocks import (
    Allowance,
    Basis,
    ClockKind,
    ClockPlan,
    ClockSettings,
    ClockState,
    Unit,
    start,
)
from daemon.lifecycle import Event, Status
from daemon.workdays import BusinessCalendar

# The fields a feed maps from the source's own names; case_id and dispatched_at are required.
FIELDS = (
    "case_id",
    "dispatched_at",
    "level",
    "customer_name",
    "customer_phone",
    "customer_email",
    "vin",
    "plate",
    "model",
    "text",
    "survey_score",
    "status",
    "deadline",
    "resurvey_score",  # the manufacturer's re-survey of a zero-complaint case (零抱怨), 7 days on
)
REQUIRED = ("case_id", "dispatched_at")
# How a quarantined record's origin starts ("feed dscrm: export.xlsx row 7"): no mail to retry.
FEED_ORIGIN = "feed "

# Excel's day 0 in the 1900 date system (the 1900 leap-year bug makes it 30 December 1899).
_EXCEL_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001 (serial dates carry no zone)
# Serial numbers of 1 January 1970 and 31 December 2199: a date cell outside is a mistake.
_SERIAL_RANGE = (25569.0, 109574.0)
# Local date-times as manufacturers' exports write them; ISO-8601 is tried first.
_LOCAL_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y.%m.%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M",
)
_NUMBER = re.compile(r"^\d+(\.\d+)?$")

# A cell as a source gives it: text, a number, a date, an empty cell.
Cell = str | int | float | bool | datetime | date | time | timedelta | None


@dataclass(frozen=True, slots=True)
class FeedShape:
    """What reading a feed's records needs from its settings."""

    feed: str
    oem: str
    fields: Mapping[str, str]  # our field name -> the source's column name
    zone: ZoneInfo  # a date-time without an offset is in this zone
    levels: tuple[str, ...] = ()  # known levels; empty: any
    zero_complaint_max_score: float = 6.0
    strict_columns: bool = False  # an unmapped column is schema drift


@dataclass(frozen=True, slots=True)
class FeedCase:
    """One manufacturer case as the manufacturer last described it."""

    oem: str
    case_id: str
    dispatched_at: datetime  # aware, UTC
    level: str = ""
    customer_name: str = ""
    customer_phone: str = ""
    customer_email: str = ""  # a deliverable address, or ""
    vin: str = ""
    plate: str = ""
    model: str = ""
    text: str = ""
    survey_score: float | None = None
    status: str = ""
    deadline: datetime | None = None  # the manufacturer's own deadline, when it gives one
    zero_complaint: bool = False  # survey score at or below the feed's threshold (零抱怨)
    resurvey_score: float | None = None  # the re-survey's score, once the manufacturer has one

    def digest(self) -> str:
        """Changes when anything the manufacturer says about the case changes."""
        values = [_plain(getattr(self, f.name)) for f in fields(self)]
        return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).hexdigest()

    def changes(self, before: Mapping[str, object]) -> dict[str, tuple[object, object]]:
        """What differs from the stored manufacturer fields `before`: field -> (old, new)."""
        out = {}
        for name in MANUFACTURER_FIELDS:
            new = _plain(getattr(self, name))
            old = _plain(before.get(name))
            if old != new:
                out[name] = (old, new)
        return out


# The fields an update of a case may change on its ticket, as stored and shown.
MANUFACTURER_FIELDS = (
    "level",
    "status",
    "survey_score",
    "zero_complaint",
    "deadline",
    "dispatched_at",
    "customer_name",
    "customer_phone",
    "customer_email",
    "vin",
    "plate",
    "model",
    "text",
    "resurvey_score",
)


def merged(case: FeedCase, before: Mapping[str, object], max_score: float) -> FeedCase:
    """A later record of a known case, its blanks filled from what we know (`before`, the
    stored manufacturer fields): a short notification saying only the new status clears
    nothing. A zero-complaint case stays one, whatever score a later record carries."""
    kept: dict[str, object] = {}
    for name in MANUFACTURER_FIELDS:
        value, old = getattr(case, name), before.get(name)
        if name != "zero_complaint" and value in (None, "") and old not in (None, ""):
            kept[name] = old
    out = replace(case, **kept)  # type: ignore[arg-type]
    score = out.survey_score
    zero = bool(before.get("zero_complaint")) or (score is not None and score <= max_score)
    return replace(out, zero_complaint=zero)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record cannot become a case; `reason` is a short key for listings."""

    reason: str  # missing-field | bad-date | bad-value | unknown-level | schema-drift
    detail: str


def read_record(record: Mapping[str, Cell], shape: FeedShape) -> FeedCase | Rejection:
    """The case a record describes, or why it describes none."""
    drift = _drift(record, shape)
    if drift is not None:
        return drift
    values: dict[str, Cell] = {field: record.get(column) for field, column in shape.fields.items()}
    missing = [f for f in REQUIRED if _blank(values.get(f))]
    if missing:
        named = ", ".join(f"{f} ({shape.fields[f]})" for f in missing)
        return Rejection("missing-field", f"no {named}")
    dispatched = parse_instant(values["dispatched_at"], shape.zone)
    if dispatched is None:
        return Rejection("bad-date", _bad(shape, "dispatched_at", values["dispatched_at"]))
    deadline = None
    if not _blank(values.get("deadline")):
        deadline = parse_instant(values.get("deadline"), shape.zone)
        if deadline is None:
            return Rejection("bad-date", _bad(shape, "deadline", values.get("deadline")))
    level = text_of(values.get("level"))
    if shape.levels and level and level not in shape.levels:
        known = "、".join(shape.levels)
        return Rejection("unknown-level", f"level {level!r} is none of {known}")
    scores: dict[str, float | None] = {}
    for name in ("survey_score", "resurvey_score"):
        scores[name] = None
        if not _blank(values.get(name)):
            scores[name] = _number(values.get(name))
            if scores[name] is None:
                return Rejection("bad-value", _bad(shape, name, values.get(name)))
    score = scores["survey_score"]
    email = text_of(values.get("customer_email"))
    return FeedCase(
        oem=shape.oem,
        case_id=text_of(values["case_id"]),
        dispatched_at=dispatched,
        level=level,
        customer_name=text_of(values.get("customer_name")),
        customer_phone=text_of(values.get("customer_phone")),
        customer_email=(addr_spec(email) or "") if email else "",
        vin=text_of(values.get("vin")).upper(),
        plate=text_of(values.get("plate")),
        model=text_of(values.get("model")),
        text=text_of(values.get("text")),
        survey_score=score,
        status=text_of(values.get("status")),
        deadline=deadline,
        zero_complaint=score is not None and score <= shape.zero_complaint_max_score,
        resurvey_score=scores["resurvey_score"],
    )


def _drift(record: Mapping[str, Cell], shape: FeedShape) -> Rejection | None:
    """A renamed or dropped column: the mapping names a column the record lacks (or, for a
    strict feed, the record has a column the mapping does not name)."""
    mapped = set(shape.fields.values())
    absent = [f"{c} ({f})" for f, c in shape.fields.items() if c not in record]
    unknown = [c for c in record if c not in mapped]
    if absent:
        hint = f"; unmapped column(s) present: {', '.join(unknown)}" if unknown else ""
        return Rejection("schema-drift", f"column(s) missing: {', '.join(absent)}{hint}")
    if shape.strict_columns and unknown:
        return Rejection("schema-drift", f"unmapped column(s): {', '.join(unknown)}")
    return None


def _bad(shape: FeedShape, field: str, value: Cell) -> str:
    return f"{field} ({shape.fields[field]}) {value!r} is not readable"


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text_of(value: Cell) -> str:
    """A cell as text: a whole number without its ".0" (spreadsheets store ids and phone
    numbers as floats), an empty cell as ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _number(value: Cell) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            # A score written for people: "5分", "5 分".
            number = float(value.strip().removesuffix("分").strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def parse_instant(value: Cell, zone: ZoneInfo) -> datetime | None:
    """An instant from a cell, in UTC: a date-time (without an offset: in `zone`), an Excel
    serial date number, or text in ISO-8601, `YYYY-MM-DD HH:MM[:SS]` or `YYYY/MM/DD HH:MM`."""
    local: datetime | None = None
    if isinstance(value, datetime):
        local = value
    elif isinstance(value, date):
        local = datetime.combine(value, time())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        local = excel_serial(float(value))
    elif isinstance(value, str):
        local = _parse_text(value.strip())
    if local is None:
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    return local.astimezone(UTC)


def excel_serial(serial: float) -> datetime | None:
    """A naive local date-time from an Excel serial date (days since 1899-12-30, the fraction
    the time of day), to the second; None outside 1970-2199."""
    low, high = _SERIAL_RANGE
    if not (math.isfinite(serial) and low <= serial <= high):
        return None
    return _EXCEL_EPOCH + timedelta(seconds=round(serial * 86400))


def _parse_text(text: str) -> datetime | None:
    if not text:
        return None
    if _NUMBER.match(text):
        return excel_serial(float(text))  # a date cell exported as its number
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in _LOCAL_FORMATS:
        try:
            return datetime.strptime(text, fmt)  # noqa: DTZ007 (local; the zone is added by the caller)
        except ValueError:
            continue
    return None


def raw_json(record: Mapping[str, Cell]) -> str:
    """The record as it came, as JSON (dates as ISO text), for the quarantine."""
    return json.dumps(
        {str(k): _json_cell(v) for k, v in record.items()}, ensure_ascii=False, sort_keys=False
    )


def _json_cell(value: Cell) -> object:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class CaseUpdated:
    """The manufacturer changed what it says about the case: field -> [before, after]."""

    kind: ClassVar[events.Kind] = events.Kind.MANUFACTURER_UPDATED
    feed: str
    case_id: str
    changed: tuple[tuple[str, object, object], ...]

    def as_json(self) -> dict[str, object]:
        return {
            "feed": self.feed,
            "case_id": self.case_id,
            "changed": {name: [old, new] for name, old, new in self.changed},
        }


def with_deadline(
    plans: tuple[ClockPlan, ...],
    dispatched_at: datetime,
    deadline: datetime,
    settings: ClockSettings,
) -> tuple[ClockPlan, ...]:
    """The clock plans with the close clock due at the manufacturer's own deadline: it wins
    over the configured allowance (a deadline before dispatch is due at once)."""
    found = next((p for p in plans if p.kind is ClockKind.CLOSE), None)
    if found is None:
        found = ClockPlan(
            ClockKind.CLOSE,
            "manufacturer-deadline",
            Allowance(0, Unit.MINUTES, Basis.WALL),
            tuple(sorted(set(settings.reminders))),
            settings.ladder,
            False,
        )
    close = deadline_plan(found, dispatched_at, deadline)
    kept = [p for p in plans if p.kind is not ClockKind.CLOSE] + [close]
    order = list(ClockKind)
    return tuple(sorted(kept, key=lambda p: order.index(p.kind)))


def deadline_plan(plan: ClockPlan, started_at: datetime, deadline: datetime) -> ClockPlan:
    """The close clock's plan when the manufacturer gives its own deadline: due then, counted
    from the same start (dispatch; a deadline before it is due at once)."""
    minutes = max((deadline - started_at).total_seconds() / 60, 0.0)
    allowance = Allowance(minutes, Unit.MINUTES, Basis.WALL)
    return replace(plan, rule="manufacturer-deadline", allowance=allowance)


def moved_to_deadline(
    state: ClockState, deadline: datetime, calendar: BusinessCalendar
) -> ClockState | None:
    """The close clock of a known case due at the manufacturer's new deadline (see replanned)."""
    return replanned(state, deadline_plan(state.plan, state.started_at, deadline), calendar)


def replanned(state: ClockState, plan: ClockPlan, calendar: BusinessCalendar) -> ClockState | None:
    """A running clock counted again from its start (dispatch) on a new plan (the case's new
    level, or the manufacturer's new deadline); None when it does not move: stopped, paused,
    already breached (the breach stands in the ledger), or due then already."""
    if state.running_since is None or state.stopped_at is not None:
        return None
    if state.breached_at is not None or state.plan.allowance == plan.allowance:
        return None
    fresh = start(plan, state.started_at, calendar)
    if fresh.due_at == state.due_at:
        return None
    # Reminders already sent stay sent; the rest fall on the new allowance.
    return replace(fresh, reminders_sent=state.reminders_sent)


# -- what the manufacturer's status words mean ----------------------------------------------------


class Meaning(StrEnum):
    """What a manufacturer's status means to us, from the feed's `statuses` table."""

    OPEN = "open"  # still with the dealer: nothing to do
    CLOSED = "closed"  # the manufacturer closed the case: our ticket closes
    ESCALATED = "escalated"  # the manufacturer raised it: one severity level up
    SATISFIED = "satisfied"  # the re-survey found the customer satisfied (零抱怨 achieved)
    UNSATISFIED = "unsatisfied"  # the re-survey found them still unhappy (零抱怨 failed)


def meaning_of(status: str, statuses: Mapping[str, str]) -> Meaning | None:
    """What the manufacturer's status word means; None for a word the table does not name."""
    found = statuses.get(status.strip())
    return Meaning(found) if found is not None else None


# How a ticket gets to closed when the manufacturer closed its case: the events of the ticket
# table from each state that has a result to close on. The manufacturer's own callback stands
# for ours. Earlier states (nobody has contacted the customer yet) have no honest path: the
# ticket stays open, audited, for the handler to finish.
CLOSE_PATH: Mapping[Status, tuple[Event, ...]] = {
    Status.CALLBACK_DONE: (Event.CLOSE,),
    Status.RESOLVED: (Event.CALLBACK, Event.CLOSE),
    Status.CONTACTED: (Event.RESOLVE, Event.CALLBACK, Event.CLOSE),
    Status.REOPENED: (Event.RESOLVE, Event.CALLBACK, Event.CLOSE),
    Status.PAUSED: (Event.RESOLVE, Event.CALLBACK, Event.CLOSE),
}


# -- 零抱怨: the re-survey of a zero-complaint case ---------------------------------------------


class ZeroComplaintResult(StrEnum):
    SUCCESS = "success"  # satisfied at the re-survey: a zero complaint
    FAILURE = "failure"  # still unhappy: the dealer is fined


def resurvey_result(
    case: FeedCase, meaning: Meaning | None, max_score: float
) -> ZeroComplaintResult | None:
    """The re-survey's verdict on a zero-complaint case: by its score (above the threshold is
    satisfied) or, without one, by what the status says; None while there is none."""
    if not case.zero_complaint:
        return None
    if case.resurvey_score is not None:
        if case.resurvey_score > max_score:
            return ZeroComplaintResult.SUCCESS
        return ZeroComplaintResult.FAILURE
    if meaning is Meaning.SATISFIED:
        return ZeroComplaintResult.SUCCESS
    if meaning is Meaning.UNSATISFIED:
        return ZeroComplaintResult.FAILURE
    return None


@dataclass(frozen=True, slots=True)
class ZeroComplaint:
    """The re-survey closed a zero-complaint case's loop: success, or failure and its penalty."""

    kind: ClassVar[events.Kind] = events.Kind.ZERO_COMPLAINT
    feed: str
    case_id: str
    result: str  # ZeroComplaintResult
    survey_score: float | None
    resurvey_score: float | None
    penalty: float | None  # the fine for a failure (config [reports.penalties]); None on success

    def as_json(self) -> dict[str, object]:
        return {
            "feed": self.feed,
            "case_id": self.case_id,
            "result": self.result,
            "survey_score": self.survey_score,
            "resurvey_score": self.resurvey_score,
            "penalty": self.penalty,
        }
