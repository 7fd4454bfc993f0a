"""Values that cross module boundaries: frozen, typed, free of I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

Clock = Callable[[], datetime]


class MailKind(StrEnum):
    """What a received message is, before anyone reads it."""

    PERSONAL = "personal"  # written by a person: may open or join a ticket
    AUTO_REPLY = "auto-reply"  # out-of-office, vacation, autoresponder (RFC 3834)
    BOUNCE = "bounce"  # delivery status notification, RFC 3464 or plain text
    BULK = "bulk"  # mailing list, newsletter, feedback report


class Disposition(StrEnum):
    """What the pipeline did with one received message."""

    FILED = "filed"
    FOLLOWUP = "followup"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    HELD = "held"  # names a ticket its sender is no party of, or forged: kept for review


@dataclass(frozen=True, slots=True)
class RawMail:
    """Bytes as received, and where they came from."""

    data: bytes
    origin: str  # e.g. "maildir:var/maildir/new/1700.M1P2.host", "replay:a.mbox#3"
    received_at: datetime  # timezone-aware, UTC


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The last UID of a mailbox folder whose message is committed, valid only with its
    UIDVALIDITY; stored in the same transaction as what that message produced."""

    mailbox: str
    folder: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str  # decoded (RFC 2231 / RFC 2047); "" when the part had none
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A parsed message: everything later stages need, decoded to text."""

    message_id: str | None  # without angle brackets; None when absent or unusable
    sha256: str  # of the raw bytes
    sender: str  # lower-cased address, "" when there is none
    sender_name: str
    recipients: tuple[str, ...]  # To and Cc addresses, lower-cased
    subject: str
    text: str  # the readable body (HTML-only mail converted to text)
    sent_at: datetime | None  # the Date header, when it parses
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    attachments: tuple[Attachment, ...]
    kind: MailKind
    kind_reason: str  # why it is not PERSONAL, e.g. "auto-submitted", "dsn"; "" otherwise
    # For bounces: the Message-IDs of our mail that failed, from the DSN or quoted headers.
    bounced_message_ids: tuple[str, ...] = ()
    # Decoding repairs worth an operator's eye, e.g. "charset gb2312 read as gb18030".
    notes: tuple[str, ...] = ()
    reply_to: str = ""  # the first deliverable Reply-To address, "" when none
    # Digest of what the sender wrote (From, Date, Subject, body, attachments); "" when unknown.
    content_sha256: str = ""
    # The addresses our servers say they delivered it to (Delivered-To, X-Original-To,
    # Envelope-To), in that order: a plus-addressed one carries a reply token.
    delivered_to: tuple[str, ...] = ()

    @property
    def dedupe_key(self) -> str:
        """The same message delivered twice, to one mailbox or to several, has the same key."""
        if self.message_id:
            return "mid:" + self.message_id
        # Not the raw bytes: each server on the way adds its own Received, Delivered-To ...
        if self.content_sha256:
            return "content:" + self.content_sha256
        return "sha256:" + self.sha256

    def answer_address(self, prefer_reply_to: bool = False) -> str:
        """Where our answers to this message go: From, or Reply-To when so configured."""
        return (self.reply_to or self.sender) if prefer_reply_to else self.sender


@dataclass(frozen=True, slots=True)
class Evidence:
    """One phrase that moved a classification, so a person can see why."""

    target: str  # "category:service", "department:sales", "severity:strong", "major:media"
    phrase: str
    weight: float


@dataclass(frozen=True, slots=True)
class Classification:
    # product_quality | service | repair_quality | customer_issue | other, or a model's label
    category: str
    department: str  # sales | after_sales
    severity: str  # a level of the configured scale
    major: tuple[str, ...]  # major-complaint flags, e.g. ("media", "lawsuit"); empty when not major
    evidence: tuple[Evidence, ...]
    language: str  # zh-CN | zh-TW | en
    source: str = "rules"  # "rules", or the trained model's file name

    @property
    def is_major(self) -> bool:
        return bool(self.major)


@dataclass(frozen=True, slots=True)
class Delegation:
    """An absent person's work handed to their deputy (授权委托)."""

    absent: str  # person key
    deputy: str  # person key
    reason: str
    until: datetime | None = None  # when the absence ends; None when it is not an absence


@dataclass(frozen=True, slots=True)
class Ambiguity:
    """A title and surname that fits several people: all of them are excluded, and customer
    care is asked whom the customer meant."""

    term: str  # as written, folded: "王经理"
    people: tuple[str, ...]  # person keys, chart order


@dataclass(frozen=True, slots=True)
class Assignment:
    handler: str  # person key of whoever handles the ticket
    handler_email: str
    inform: tuple[
        str, ...
    ]  # e-mail addresses told of the new ticket (customer-care manager, GM if major)
    excluded: tuple[str, ...]  # person keys named in the complaint: they never see it
    delegations: tuple[Delegation, ...] = ()
    rule: str = ""  # which routing rule chose the handler's role
    # Major-complaint reports that reach nobody, each saying who and why ("legal: nobody holds
    # role legal"): audited and logged as warnings.
    unheard: tuple[str, ...] = ()
    # Titles and surnames that fit several people (all excluded), for customer care to check.
    ambiguous: tuple[Ambiguity, ...] = ()
    care_email: str = ""  # the customer-care manager (or stand-in) told of the ticket


@dataclass(frozen=True, slots=True)
class Notice:
    """A mail to queue: which template, for whom, with what data."""

    template: str  # file stem under templates/, e.g. "acknowledgement"
    language: str
    recipient: str
    context: Mapping[str, object]  # template variables; customer text is only ever data here
    ticket: str | None = None  # ticket number, tagged into the subject
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # An automatic answer to somebody's mail: counted against the per-recipient daily cap.
    auto_reply: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """The pipeline's answer for one message."""

    disposition: Disposition
    reason: str = ""  # why ignored or quarantined, e.g. "auto-reply", "no-sender"
    ticket: str | None = None  # ticket number when filed or joined
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """A message from a source, with where it sits in its mailbox (None outside a mailbox)."""

    raw: RawMail
    checkpoint: Checkpoint | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """What became of a batch of received messages, committed in one transaction.

    `outcomes` answers the batch's first messages, in order; `error`, when set, is why the
    rest were not filed: the source tries them again from the first unanswered one.
    """

    outcomes: tuple[Outcome, ...]
    error: Exception | None = None


# A path in config.toml. config.py resolves a relative one given in the file against the folder
# holding that file; the core only ever sees the resulting path.
ConfigPath = Path
