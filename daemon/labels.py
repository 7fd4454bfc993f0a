"""Words for the daemon's keys, and times with their zone, in one language.

A table per language (templates/labels.<language>.toml) maps each kind of key (category,
department, severity, major, clock, event, status, role, zone) to the word staff read, and says
how a time is written. Pure: the composer reads the file and hands the parsed table in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Every kind of key a template may ask a word for.
KINDS = ("category", "department", "severity", "major", "clock", "event", "status", "role", "zone")

# How a time is written when the table says nothing: unambiguous in any language.
DEFAULT_TIME = {
    "moment": "{year}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}",
    "named": "{moment} ({zone}, {offset})",
    "unnamed": "{moment} ({offset})",
}


class LabelError(ValueError):
    """A label table that is not shaped as one."""


@dataclass(frozen=True, slots=True)
class Labels:
    """One language's words for keys, and its way of writing a time."""

    words: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # kind -> key -> word
    time: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TIME))
    months: tuple[str, ...] = ()  # month names, January first; "" where the table has none

    @classmethod
    def from_table(cls, table: Mapping[str, object], where: str) -> Labels:
        """A parsed labels.<language>.toml; `where` names it in errors."""
        words: dict[str, dict[str, str]] = {}
        for kind in KINDS:
            words[kind] = _strings(table.get(kind, {}), f"{where} [{kind}]")
        raw_time = table.get("time", {})
        if not isinstance(raw_time, dict):
            raise LabelError(f"{where} [time]: a table")
        months = raw_time.get("months", [])
        if not isinstance(months, list) or not all(isinstance(m, str) for m in months):
            raise LabelError(f"{where} [time] months: a list of twelve names")
        if months and len(months) != 12:
            raise LabelError(f"{where} [time] months: a list of twelve names")
        formats = {k: v for k, v in raw_time.items() if k != "months"}
        time = DEFAULT_TIME | _strings(formats, f"{where} [time]")
        unknown = set(table) - {*KINDS, "time"}
        if unknown:
            raise LabelError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
        return cls(words, time, tuple(months))

    def word(self, key: object, kind: str) -> str:
        """The word for `key` of `kind`; the key itself when the table has none."""
        text = str(key)
        return self.words.get(kind, {}).get(text, text)

    def moment(self, at: datetime) -> str:
        """A time as this language writes it, with its zone: named when the table names it,
        else its offset from UTC."""
        parts: dict[str, object] = {
            "year": at.year,
            "month": at.month,
            "month_name": self.months[at.month - 1] if self.months else str(at.month),
            "day": at.day,
            "hour": at.hour,
            "minute": at.minute,
        }
        moment = self.time["moment"].format(**parts)
        offset = at.utcoffset()
        if offset is None:
            return moment  # a naive time carries no zone to name
        zone = _zone_key(at)
        name = self.words.get("zone", {}).get(zone, "")
        pattern = self.time["named"] if name else self.time["unnamed"]
        return pattern.format(moment=moment, zone=name, offset=utc_offset(offset), **parts)


def utc_offset(offset: timedelta) -> str:
    """ "UTC+08:00", "UTC-03:30"."""
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def _zone_key(at: datetime) -> str:
    zone = at.tzinfo
    key = getattr(zone, "key", None)  # a ZoneInfo's IANA name
    return key if isinstance(key, str) else str(zone)


def _strings(section: object, where: str) -> dict[str, str]:
    if not isinstance(section, dict):
        raise LabelError(f'{where}: a table of key = "word"')
    bad = [k for k, v in section.items() if not isinstance(v, str)]
    if bad:
        raise LabelError(f"{where} {bad[0]}: the word must be a string")
    return {str(k): v for k, v in section.items()}
