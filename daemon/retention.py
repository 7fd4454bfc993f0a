"""Which closed tickets lose their raw mail and which customers are anonymised, and how a
customer's personal details are replaced in what is kept (pure).

A ticket counts as closed only while it stays closed: reopening clears its closing time, so a
ticket reopened after a purge was planned is simply not in the next plan. A customer is
anonymised only when every one of their tickets closed long enough ago; anonymising also
drops the raw bytes of their tickets, since those bytes carry the same name and address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

# What replaces a customer's name, address or phone in text that is kept.
ANONYMISED = "[anonymised]"
# Shorter names are left alone: a one-character name would blank every use of that character.
MIN_NAME_LENGTH = 2
# A phone number is recognised by at least this many digits.
MIN_PHONE_DIGITS = 7
# A vehicle names its owner as surely as a phone does: a Chinese plate (province, letter, then
# five characters, or six on a new-energy car, at least three of them digits) and a VIN (17
# capitals and digits, without I, O or Q) are replaced wherever the customer's text has them.
# Han characters count as word characters, so \b cannot bound them: the bounds are explicit.
_PLATE = (
    "[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][·•・ -]?"
    "(?=(?:[A-Z]*[0-9]){3})[A-HJ-NP-Z0-9]{5,6}(?![A-Za-z0-9])"
)
_VIN = (  # capitals only: a lower-case run of 17 is more likely a digest than a VIN
    "(?-i:(?<![A-Za-z0-9])(?=[A-HJ-NPR-Z]*[0-9])(?=[0-9]*[A-HJ-NPR-Z])"
    "[A-HJ-NPR-Z0-9]{17}(?![A-Za-z0-9]))"
)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """[retention]: None keeps that kind of data for ever."""

    raw_mail_days: int | None = None
    anonymise_days: int | None = None

    @property
    def keeps_everything(self) -> bool:
        return self.raw_mail_days is None and self.anonymise_days is None


@dataclass(frozen=True, slots=True)
class KeptTicket:
    """One ticket as retention sees it."""

    ticket_id: int
    number: str
    customer_id: int
    closed_at: datetime | None  # None while open or reopened
    raw_kept: bool  # raw mail bytes or attachment bytes still stored
    anonymised: bool  # its customer already anonymised


@dataclass(frozen=True, slots=True)
class Plan:
    """What one retention run does: tickets whose raw bytes go, customers anonymised."""

    purge_raw: tuple[KeptTicket, ...]
    anonymise: tuple[int, ...]  # customer ids
    anonymised_tickets: tuple[KeptTicket, ...]  # the tickets of those customers

    @property
    def empty(self) -> bool:
        return not self.purge_raw and not self.anonymise


def _before(days: int | None, now: datetime) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def _closed_before(t: KeptTicket, cutoff: datetime | None) -> bool:
    return cutoff is not None and t.closed_at is not None and t.closed_at < cutoff


def plan(policy: RetentionPolicy, tickets: Sequence[KeptTicket], now: datetime) -> Plan:
    """The run's work over `tickets`, which must hold every ticket of each customer named."""
    raw_cutoff = _before(policy.raw_mail_days, now)
    anon_cutoff = _before(policy.anonymise_days, now)
    by_customer: dict[int, list[KeptTicket]] = {}
    for t in tickets:
        by_customer.setdefault(t.customer_id, []).append(t)
    anonymise = tuple(
        sorted(
            customer
            for customer, theirs in by_customer.items()
            if not all(t.anonymised for t in theirs)
            and all(_closed_before(t, anon_cutoff) for t in theirs)
        )
    )
    chosen = set(anonymise)
    anonymised_tickets = tuple(t for t in tickets if t.customer_id in chosen)
    purge_raw = tuple(
        t
        for t in tickets
        if t.raw_kept and (_closed_before(t, raw_cutoff) or t.customer_id in chosen)
    )
    return Plan(purge_raw, anonymise, anonymised_tickets)


@dataclass(frozen=True, slots=True)
class Identity:
    """What identifies one customer in kept text."""

    address: str
    names: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    vehicles: tuple[str, ...] = ()  # plates and VINs as a manufacturer's record gave them


def anonymous_address(customer_id: int) -> str:
    """The key an anonymised customer keeps: unique, and no address of anyone."""
    return f"anonymised:{customer_id}"


def phone_of(address: str) -> str:
    """The number in a phone customer's key ("tel:+8613800138000"); "" for other keys."""
    return address[4:] if address.startswith("tel:") else ""


def _pattern(who: Identity) -> re.Pattern[str]:
    parts: list[str] = []
    terms = [*who.names, *who.vehicles, *([who.address] if who.address else [])]
    for term in sorted({t.strip() for t in terms}, key=len, reverse=True):
        if len(term) >= MIN_NAME_LENGTH:
            parts.append(re.escape(term))
    for phone in who.phones:
        digits = [ch for ch in phone if ch.isdigit()]
        if len(digits) >= MIN_PHONE_DIGITS:
            # The same number written with spaces, dashes, dots or brackets between digits.
            parts.append(r"\+?" + r"[\s\-().]*".join(digits))
    return re.compile("|".join([*parts, _PLATE, _VIN]), re.IGNORECASE)


T = TypeVar("T")


def scrub(value: T, who: Identity) -> T:
    """`value` (text, or JSON made of dicts, lists and text) with every mention of `who`, and
    every vehicle plate or VIN, replaced by ANONYMISED; keys and everything else kept as they
    are."""
    return _scrub(value, _pattern(who))


def _scrub(value: T, pattern: re.Pattern[str]) -> T:
    if isinstance(value, str):
        return pattern.sub(ANONYMISED, value)  # type: ignore[return-value]
    if isinstance(value, Mapping):
        return {k: _scrub(v, pattern) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, pattern) for v in value)
    return value
