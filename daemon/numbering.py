"""Ticket numbers (prefix + year-month + serial) and the tag that carries them in subjects."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache


def period_of(at: datetime) -> str:
    """YYYYMM of an instant, in whatever zone `at` carries (the service's zone)."""
    return at.strftime("%Y%m")


def format_number(prefix: str, period: str, serial: int, digits: int) -> str:
    """TS-202611-0042; a month with more tickets than `digits` allow just grows wider."""
    return f"{prefix}-{period}-{serial:0{digits}d}"


def subject_tag(number: str) -> str:
    return f"[{number}]"


def tagged_subject(number: str, subject: str) -> str:
    """The subject with our tag in front, once, whatever the reply prefixes."""
    tag = subject_tag(number)
    if tag in subject:
        return subject
    return f"{tag} {subject}".strip()


@lru_cache(maxsize=16)
def _tag_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"\[\s*({re.escape(prefix)}-\d{{6}}-\d{{3,}})\s*\]", re.IGNORECASE)


def numbers_in(subject: str, prefix: str) -> tuple[str, ...]:
    """Ticket numbers tagged in a subject, upper-cased, in order of appearance."""
    return tuple(m.upper() for m in _tag_pattern(prefix).findall(subject))
