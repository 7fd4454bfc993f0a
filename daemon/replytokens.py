"""Signed reply tokens: who a staff notice went to, about which ticket, until when.

A token reads `<ticket>.<key id>.<mac>`, e.g. `ts-202611-0042.k1.<32 base32 letters>`: the ticket
in clear (lower case), the key id, and 20 bytes in lowercase base32 (a mail local part may be
case-folded on the way): the expiry in minutes since the epoch (4 bytes), a digest of the
recipient's address (4 bytes) and an HMAC-SHA256 over all of it cut to 96 bits. The MAC covers
the digest, so a token issued to one person does not verify for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

_MAC_BYTES = 12  # 96 bits
_DIGEST_BYTES = 4  # tells recipients apart; the MAC, not this, is what stops a forgery
_BODY_CHARS = 32  # base32 of 4 + 4 + 12 bytes, no padding
_CONTEXT = b"complaintd reply token v1\0"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

KEY_ID = re.compile(r"[a-z0-9]{1,8}")
_TICKET = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_TOKEN = rf"({_TICKET.pattern})\.([a-z0-9]{{1,8}})\.([a-z2-7]{{{_BODY_CHARS}}})"
TOKEN = re.compile(_TOKEN)
_IN_ADDRESS = re.compile(rf"\+{_TOKEN}@", re.IGNORECASE)
_IN_MESSAGE_ID = re.compile(rf"<?t\.{_TOKEN}@", re.IGNORECASE)


class Failure(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown-key"  # never configured, or rotated out
    BAD_MAC = "bad-mac"
    EXPIRED = "expired"
    WRONG_TICKET = "wrong-ticket"
    WRONG_RECIPIENT = "wrong-recipient"


@dataclass(frozen=True, slots=True)
class Claim:
    """What a verified token says: this ticket's notice went to this recipient."""

    ticket: str  # upper case, as numbering writes it
    key_id: str
    expires_at: datetime  # UTC, to the minute
    recipient_digest: bytes

    def issued_to(self, address: str) -> bool:
        return hmac.compare_digest(self.recipient_digest, _digest(address))


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: Failure
    key_id: str = ""  # when the token named one
    ticket: str = ""  # when the token named one, upper case


def issue(
    secret_by_kid: Mapping[str, bytes],
    kid: str,
    ticket: str,
    recipient: str,
    expires_at: datetime,
) -> str:
    """A token for the notice about `ticket` sent to `recipient`, good until `expires_at`."""
    if not KEY_ID.fullmatch(kid):
        raise ValueError(f"key id {kid!r}: 1 to 8 lower-case letters or digits")
    if kid not in secret_by_kid:
        raise ValueError(f"key id {kid!r} has no secret configured")
    folded = ticket.lower()
    if not _TICKET.fullmatch(folded):
        raise ValueError(f"ticket {ticket!r}: letters, digits and single dashes only")
    if expires_at.tzinfo is None:
        raise ValueError(f"naive datetime {expires_at}; every instant must carry a zone")
    # Rounded up to the minute, so a token never expires before it was promised to.
    minutes = -((_EPOCH - expires_at) // timedelta(minutes=1))
    head = struct.pack(">I", minutes) + _digest(recipient)
    mac = _mac(secret_by_kid[kid], kid, folded, head)
    body = base64.b32encode(head + mac).decode("ascii").lower()
    return f"{folded}.{kid}.{body}"


def verify(
    token: str,
    secrets_by_kid: Mapping[str, bytes],
    now: datetime,
    recipient: str | None = None,
    ticket: str | None = None,
) -> Claim | Rejected:
    """The token's claim, or why it fails (also against `recipient` and `ticket` when given)."""
    m = TOKEN.fullmatch(token.strip().lower())
    if not m:
        return Rejected(Failure.MALFORMED)
    number, kid, body = m.groups()
    claimed = number.upper()
    secret = secrets_by_kid.get(kid)
    if secret is None:
        return Rejected(Failure.UNKNOWN_KEY, kid, claimed)
    raw = base64.b32decode(body.upper())
    head, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(secret, kid, number, head)):
        return Rejected(Failure.BAD_MAC, kid, claimed)
    (minutes,) = struct.unpack(">I", head[:4])
    claim = Claim(claimed, kid, _EPOCH + timedelta(minutes=minutes), head[4:])
    if now >= claim.expires_at:
        return Rejected(Failure.EXPIRED, kid, claimed)
    if ticket is not None and ticket.upper() != claimed:
        return Rejected(Failure.WRONG_TICKET, kid, claimed)
    if recipient is not None and not claim.issued_to(recipient):
        return Rejected(Failure.WRONG_RECIPIENT, kid, claimed)
    return claim


def plus_address(address: str, token: str) -> str:
    """complaints@desk.example -> complaints+<token>@desk.example"""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise ValueError(f"{address!r} is not an address")
    plussed = f"{local.split('+', 1)[0]}+{token}"
    if len(plussed) > 64:  # RFC 5321's limit; longer ones are refused on the way
        raise ValueError(f"{plussed!r} is longer than a local part may be")
    return f"{plussed}@{domain}"


def message_id(token: str, domain: str) -> str:
    """A Message-ID that carries the token, for mailboxes that drop the plus part."""
    return f"<t.{token}@{domain}>"


def in_address(address: str) -> str | None:
    """The token in a plus-addressed recipient, lower case; None when there is none."""
    m = _IN_ADDRESS.search(address)
    return m.group(0)[1:-1].lower() if m else None


def in_message_id(value: str) -> str | None:
    """The token in one of our Message-IDs (with or without angle brackets)."""
    m = _IN_MESSAGE_ID.match(value.strip())
    return m.group(0).lstrip("<")[2:-1].lower() if m else None


def in_thread(in_reply_to: Iterable[str], references: Iterable[str]) -> tuple[str, ...]:
    """Tokens in In-Reply-To then References, the nearest message first, each once."""
    found: list[str] = []
    for value in (*in_reply_to, *reversed(tuple(references))):
        for part in value.split():
            token = in_message_id(part)
            if token and token not in found:
                found.append(token)
    return tuple(found)


def _digest(address: str) -> bytes:
    return hashlib.sha256(address.strip().casefold().encode("utf-8")).digest()[:_DIGEST_BYTES]


def _mac(secret: bytes, kid: str, ticket: str, head: bytes) -> bytes:
    message = b"\0".join((_CONTEXT, kid.encode(), ticket.encode(), head))
    return hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES]
