"""A complaint staff log by mail (phone, walk-in, manufacturer): header lines at the top.

    渠道: 电话            Channel: phone | on_site | manufacturer
    客户: 王先生 13800138000 wang@example.cn    Customer: name phone email
    等级: VIP             Tier: VIP

The first line must name the channel; the header lines end at the first line that is not one,
and what follows is the complaint as staff took it down. Pure: text in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from daemon.addresses import addr_spec

# How each channel may be written -> the channel key daemon.clocks rules name.
CHANNELS: Mapping[str, str] = {
    "电话": "phone",
    "電話": "phone",
    "phone": "phone",
    "现场": "on_site",
    "現場": "on_site",
    "on_site": "on_site",
    "on-site": "on_site",
    "onsite": "on_site",
    "walk-in": "on_site",
    "厂家": "manufacturer",
    "廠家": "manufacturer",
    "manufacturer": "manufacturer",
}

_FIELDS: Mapping[str, str] = {
    "渠道": "channel",
    "channel": "channel",
    "客户": "customer",
    "客戶": "customer",
    "customer": "customer",
    "等级": "tier",
    "等級": "tier",
    "tier": "tier",
}
_HEADER = re.compile(r"^\s*([^\s:：]+)\s*[:：]\s*(.*?)\s*$")
_PHONE = re.compile(r"^\+?[\d\-() ]{5,}$")


@dataclass(frozen=True, slots=True)
class Logged:
    """A complaint staff logged on a customer's behalf."""

    channel: str  # "phone" | "on_site" | "manufacturer"
    name: str  # "" when not given
    phone: str  # "" when not given
    email: str  # lower-cased addr-spec; "" when not given
    tier: str  # "standard" unless given, lower-cased ("vip")
    text: str  # the complaint below the header lines


@dataclass(frozen=True, slots=True)
class LogError:
    """Header lines that name a channel but cannot be read; nothing is opened."""

    line: str
    why: str  # English, for the log and the refusal


def parse(text: str) -> Logged | LogError | None:
    """The logged complaint; None when the mail does not start with a channel line."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if start == len(lines) or _field(lines[start]) != "channel":
        return None
    found: dict[str, tuple[str, str]] = {}
    index = start
    while index < len(lines):
        field = _field(lines[index])
        m = _HEADER.match(lines[index])
        if field is None or m is None or field in found:
            break
        found[field] = (lines[index].strip(), m.group(2))
        index += 1
    line, value = found["channel"]
    channel = CHANNELS.get(value.strip().lower())
    if channel is None:
        return LogError(
            line,
            f"unknown channel {value!r}; one of 电话, 现场, 厂家 / phone, on_site, manufacturer",
        )
    name, phone, email = _customer(found.get("customer", ("", ""))[1])
    tier = found.get("tier", ("", "standard"))[1].strip().lower() or "standard"
    rest = "\n".join(lines[index:]).strip()
    return Logged(channel, name, phone, email, tier, rest)


def _field(line: str) -> str | None:
    """The header field a line sets ("channel", "customer", "tier"); None for any other line."""
    m = _HEADER.match(line)
    return _FIELDS.get(m.group(1).lower()) if m else None


def _customer(value: str) -> tuple[str, str, str]:
    """(name, phone, email) from "王先生 13800138000 wang@example.cn", in any order."""
    names: list[str] = []
    phone = email = ""
    for word in value.replace("，", " ").replace(",", " ").split():
        spec = addr_spec(word.strip("<>")) if "@" in word else None
        if spec is not None and not email:
            email = spec
        elif _PHONE.match(word) and not phone:
            phone = word
        else:
            names.append(word)
    return " ".join(names), phone, email
