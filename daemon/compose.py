"""Notices to mail: render a template with Jinja2, then write the RFC 5322 bytes."""

from __future__ import annotations

import base64
import binascii
import logging
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from daemon import replytokens
from daemon.addresses import addr_spec
from daemon.config import OutboxSettings
from daemon.labels import LabelError, Labels
from daemon.numbering import tagged_subject
from daemon.store.outgoing import Queued
from daemon.values import Notice

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplyTokens:
    """What signing a staff notice's reply token takes: the keys, the one to sign with, how
    long a token lasts, and who counts as staff (only their notices carry one)."""

    secrets: Mapping[str, bytes]
    signing_key: str
    lifetime: timedelta
    staff: frozenset[str]  # lower-cased addresses of [org.people]


class TemplateError(Exception):
    """A notice's template is missing or refers to data it was not given."""


class RecipientError(ValueError):
    """A notice addressed to something that is not a deliverable address."""


# Template variables holding what a sender wrote in a header, quoted back at a bounded length.
_QUOTED = ("subject", "customer_name")


# How compose() writes every body: text_of() reads it back by the same two lines.
_BODY_HEADERS = (
    ("Content-Type", 'text/plain; charset="utf-8"'),
    ("Content-Transfer-Encoding", "base64"),
)
_BODY_HEAD = "".join(f"{name}: {value}\r\n" for name, value in _BODY_HEADERS).encode("ascii")


def text_of(raw: bytes) -> str | None:
    """The text of a mail compose() made, read back without a MIME parser (a reply to our
    notice reads it to strip its quote); None for a mail of any other shape."""
    head, blank, payload = raw.partition(b"\r\n\r\n")
    if not blank or _BODY_HEAD not in head + b"\r\n":
        return None
    try:
        return base64.b64decode(payload).decode("utf-8").replace("\r\n", "\n")
    except (binascii.Error, UnicodeDecodeError):
        return None


class Composer:
    """Turns a Notice into a complete message, ready for the outbox."""

    def __init__(
        self,
        templates: Path,
        settings: OutboxSettings,
        default_language: str,
        tokens: ReplyTokens | None = None,
    ) -> None:
        self._folder = templates
        self._tokens = tokens
        self._settings = settings
        self._default_language = default_language
        self._from = f"{encode_words(settings.from_name)} <{settings.from_address}>"
        self._envs: dict[str, Environment] = {}

    def render(self, notice: Notice) -> tuple[str, str]:
        """(subject, body) of a notice in its language, falling back to the default one."""
        subject, body, _ = self._render(notice)
        return subject, body

    def _render(self, notice: Notice) -> tuple[str, str, str]:
        """(subject, body, the language they are in)."""
        candidates = dict.fromkeys((notice.language, self._default_language, "en"))
        for language in candidates:
            env = self.environment(language)
            try:
                template = env.get_template(f"{notice.template}.{language}.txt")
            except TemplateNotFound:
                continue
            try:
                text = template.render(**self._bounded(notice.context))
            except Exception as exc:  # StrictUndefined and template bugs alike
                raise TemplateError(f"template {template.name}: {exc}") from exc
            return (*_split_subject(text, template.name or notice.template), language)
        raise TemplateError(
            f"no template {notice.template}.<{'|'.join(candidates)}>.txt in {self._folder}"
        )

    def labels(self, language: str) -> Labels:
        """The language's label table from the templates folder; empty (keys as they are) when
        the folder has none."""
        path = self._folder / f"labels.{language}.toml"
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Labels()
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise TemplateError(f"{path}: {exc}") from exc
        try:
            return Labels.from_table(table, str(path))
        except LabelError as exc:
            raise TemplateError(str(exc)) from exc

    def environment(self, language: str) -> Environment:
        """One Jinja environment per language: its templates render keys and times with that
        language's labels, so a notice never mixes two languages."""
        env = self._envs.get(language)
        if env is None:
            words = self.labels(language)
            env = Environment(
                loader=FileSystemLoader(str(self._folder)),
                undefined=StrictUndefined,
                autoescape=False,  # plain-text mail; customer text is data, never source
                keep_trailing_newline=True,
                # Every time printed carries its zone, whichever template prints it.
                finalize=lambda value: (
                    words.moment(value) if isinstance(value, datetime) else value
                ),
            )
            env.filters["label"] = words.word
            self._envs[language] = env
        return env

    def _bounded(self, context: Mapping[str, object]) -> dict[str, object]:
        """The context with the sender's header text cut, so our mail never reflects it whole."""
        limit = self._settings.quoted_subject_chars
        bounded = dict(context)
        for name in _QUOTED:
            value = bounded.get(name)
            if isinstance(value, str):
                flat = " ".join(value.split())
                bounded[name] = flat if len(flat) <= limit else flat[: limit - 1] + "…"
        return bounded

    def compose(self, notice: Notice, now: datetime, kind: str) -> Queued:
        """The message's bytes; `now` is its Date, in the zone it is to be shown in."""
        _check_recipient(notice)
        subject, body, language = self._render(notice)
        if notice.ticket:
            subject = tagged_subject(notice.ticket, subject)
        domain = self._settings.message_id_domain
        message_id = f"{notice.ticket or kind}.{uuid.uuid4().hex}@{domain}"
        token = self.reply_token(notice, now)
        reply_to = ""
        if token is not None:
            # The token rides in the Message-ID too, for mailboxes that drop the plus part;
            # a unique host part keeps two notices of one minute apart.
            message_id = replytokens.message_id(token, f"{uuid.uuid4().hex}.{domain}")[1:-1]
            try:
                reply_to = replytokens.plus_address(self._settings.from_address, token)
            except ValueError:
                log.warning(
                    "%s reply token does not fit a local part; Message-ID only", notice.ticket
                )
        headers = [
            ("From", self._from),
            ("To", notice.recipient),
            ("Subject", encode_words(subject)),
            ("Date", format_datetime(now)),
            ("Message-ID", f"<{message_id}>"),
        ]
        if reply_to:
            headers.append(("Reply-To", reply_to))
        # An internationalised address (RFC 6532) makes the whole header UTF-8; otherwise
        # the header stays ASCII and a Message-ID it cannot carry is left out.
        utf8 = not notice.recipient.isascii()
        (in_reply_to,) = _carried(utf8, notice.in_reply_to) or [""]
        if in_reply_to:
            headers.append(("In-Reply-To", f"<{in_reply_to}>"))
        # Their thread's latest ids are enough to thread ours under it; a long list is theirs.
        refs = list(dict.fromkeys(_carried(utf8, *notice.references, in_reply_to)))
        refs = refs[-self._settings.max_references :]
        if refs:
            headers.append(("References", "\r\n ".join(f"<{r}>" for r in refs)))
        headers += [
            # RFC 3834: mark automatic mail so other robots do not answer it (mail loops).
            ("Auto-Submitted", "auto-replied" if notice.auto_reply else "auto-generated"),
            ("X-Auto-Response-Suppress", "All"),
        ]
        if notice.ticket:
            headers.append(("X-Complaintd-Ticket", notice.ticket))
        headers += [("MIME-Version", "1.0"), *_BODY_HEADERS, ("Content-Language", language)]
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        payload = base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n")
        return Queued(
            kind=kind,
            recipient=notice.recipient,
            message_id=message_id,
            subject=subject,
            raw=head.encode("utf-8" if utf8 else "ascii") + b"\r\n" + payload,
            auto_reply=notice.auto_reply,
        )

    @property
    def reply_secrets(self) -> dict[str, bytes]:
        """The reply-token keys by key id; empty when replies cannot act."""
        return dict(self._tokens.secrets) if self._tokens is not None else {}

    def reply_token(self, notice: Notice, now: datetime) -> str | None:
        """The signed reply token of a staff notice about a ticket; None for anyone else's
        mail (customers never get one) or without keys."""
        t = self._tokens
        if t is None or not notice.ticket or notice.recipient.strip().lower() not in t.staff:
            return None
        return replytokens.issue(
            t.secrets, t.signing_key, notice.ticket, notice.recipient, now + t.lifetime
        )


def _check_recipient(notice: Notice) -> None:
    """An answer to somebody's mail goes to a validated addr-spec only (no name, no second
    address); staff addresses come from config, and no recipient may break the header."""
    recipient = notice.recipient
    if not recipient.isprintable() or (
        notice.auto_reply and addr_spec(recipient) != recipient.lower()
    ):
        raise RecipientError(f"not a deliverable address: {recipient[:100]!r}")


def _carried(utf8: bool, *message_ids: str | None) -> list[str]:
    """The Message-IDs a header can carry: any in a UTF-8 header, only ASCII ones otherwise."""
    return [m for m in message_ids if m and (utf8 or m.isascii())]


def _split_subject(text: str, name: str) -> tuple[str, str]:
    """Templates start with a 'Subject:' line, then a blank line, then the body."""
    head, sep, body = text.lstrip("\n").partition("\n\n")
    if not sep or not head.startswith("Subject:"):
        raise TemplateError(f"template {name}: must start with 'Subject: ...' and a blank line")
    return " ".join(head[len("Subject:") :].split()), body.rstrip() + "\n"


# An encoded word may be 75 characters: "=?utf-8?b?" + base64 + "?=" leaves 63 for base64,
# which holds 45 bytes of UTF-8 (and base64 must not split a character).
_WORD_BYTES = 45


def encode_words(text: str) -> str:
    """A header value as is when it is short ASCII, else RFC 2047 words folded one per line."""
    if text.isascii() and len(text) <= 900:
        return text
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in text:
        width = len(char.encode("utf-8"))
        if size + width > _WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    if chunk:
        words.append("".join(chunk))
    return "\r\n ".join(
        f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words
    )
