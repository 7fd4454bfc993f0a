"""The audit trail's vocabulary: each kind of entry and the typed detail it carries.

The ticket_events table is append-only and its JSON is read back by `tickets show`: each
detail writes the same keys, in the same order, under the same kind string it always has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol

from daemon.values import Assignment, Classification, Delegation

# Who the daemon's own entries are written by.
DAEMON = "complaintd"


class Kind(StrEnum):
    OPENED = "opened"
    CLASSIFIED = "classified"
    DELEGATED = "delegated"
    EXCLUDED = "excluded"
    ASSIGNED = "assigned"
    TRANSITION = "transition"
    FOLLOWUP = "followup"
    HELD = "held"
    HELD_RELEASED = "held-released"
    HELD_DROPPED = "held-dropped"
    DELIVERY_FAILED = "delivery-failed"
    REMINDED = "reminded"
    BREACHED = "breached"
    SEVERITY_UPGRADED = "severity-upgraded"
    ESCALATED = "escalated"
    REASSIGNED = "reassigned"
    AMBIGUOUS_NAME = "ambiguous-name"
    CLOCK_MOVED = "clock-moved"
    UNHEARD = "unheard"
    MAJOR_REPORTED = "major-reported"
    SATISFACTION = "satisfaction"
    CUSTOMER_MAIL = "customer-mail"
    # Replies to staff notices (issue 12): a command applied, a reply refused, a note.
    REPLY_APPLIED = "reply-applied"
    REPLY_REFUSED = "reply-refused"
    NOTE = "note"
    MANUFACTURER_UPDATED = "manufacturer-updated"
    ZERO_COMPLAINT = "zero-complaint"  # a zero-complaint case re-surveyed (daemon.feeds)
    RETENTION = "retention"  # raw mail purged or the customer anonymised (daemon.retention)


class Detail(Protocol):
    kind: ClassVar[Kind]

    def as_json(self) -> dict[str, object]: ...


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit-trail entry, to be appended by the store."""

    actor: str
    detail: Detail
    message_row: int | None = None

    @property
    def kind(self) -> Kind:
        return self.detail.kind


@dataclass(frozen=True, slots=True)
class Opened:
    kind: ClassVar[Kind] = Kind.OPENED
    subject: str

    def as_json(self) -> dict[str, object]:
        return {"subject": self.subject}


@dataclass(frozen=True, slots=True)
class Classified:
    kind: ClassVar[Kind] = Kind.CLASSIFIED
    c: Classification

    def as_json(self) -> dict[str, object]:
        c = self.c
        return {
            "category": c.category,
            "department": c.department,
            "severity": c.severity,
            "major": list(c.major),
            "source": c.source,
        }


@dataclass(frozen=True, slots=True)
class Delegated:
    kind: ClassVar[Kind] = Kind.DELEGATED
    d: Delegation
    notice: str = ""  # the template a sweep mailed the deputy; "" when assigning

    def as_json(self) -> dict[str, object]:
        d = self.d
        out: dict[str, object] = {"absent": d.absent, "deputy": d.deputy, "reason": d.reason}
        if self.notice:
            out["for"] = self.notice
        if d.until is not None:
            out["until"] = d.until.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class Excluded:
    kind: ClassVar[Kind] = Kind.EXCLUDED
    people: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"people": list(self.people)}


@dataclass(frozen=True, slots=True)
class Assigned:
    kind: ClassVar[Kind] = Kind.ASSIGNED
    handler: str
    inform: tuple[str, ...]
    rule: str

    @classmethod
    def of(cls, a: Assignment) -> Assigned:
        return cls(a.handler, a.inform, a.rule)

    def as_json(self) -> dict[str, object]:
        return {"handler": self.handler, "inform": list(self.inform), "rule": self.rule}


@dataclass(frozen=True, slots=True)
class Transition:
    kind: ClassVar[Kind] = Kind.TRANSITION
    detail: dict[str, object]  # lifecycle.Entry.detail(): the state machine owns its shape

    def as_json(self) -> dict[str, object]:
        return self.detail


@dataclass(frozen=True, slots=True)
class FollowUp:
    kind: ClassVar[Kind] = Kind.FOLLOWUP
    role: str

    def as_json(self) -> dict[str, object]:
        return {"role": self.role}


@dataclass(frozen=True, slots=True)
class Held:
    kind: ClassVar[Kind] = Kind.HELD
    held: int
    reason: str
    sender: str

    def as_json(self) -> dict[str, object]:
        return {"held": self.held, "reason": self.reason, "sender": self.sender}


@dataclass(frozen=True, slots=True)
class HeldReleased(Held):
    kind: ClassVar[Kind] = Kind.HELD_RELEASED


@dataclass(frozen=True, slots=True)
class HeldDropped(Held):
    kind: ClassVar[Kind] = Kind.HELD_DROPPED


@dataclass(frozen=True, slots=True)
class DeliveryFailed:
    kind: ClassVar[Kind] = Kind.DELIVERY_FAILED
    to: str
    mail: str

    def as_json(self) -> dict[str, object]:
        return {"to": self.to, "mail": self.mail}


@dataclass(frozen=True, slots=True)
class Reminded:
    kind: ClassVar[Kind] = Kind.REMINDED
    clock: str
    rule: str
    fraction: float
    due: datetime
    to: tuple[str, ...]  # person keys
    emails: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "clock": self.clock,
            "rule": self.rule,
            "fraction": self.fraction,
            "due": self.due.isoformat(),
            "to": list(self.to),
            "emails": list(self.emails),
        }


@dataclass(frozen=True, slots=True)
class Breached:
    kind: ClassVar[Kind] = Kind.BREACHED
    clock: str
    rule: str
    due: datetime
    person: str
    overdue_seconds: float
    at_stop: bool = False  # met late before any sweep saw the breach

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "clock": self.clock,
            "rule": self.rule,
            "due": self.due.isoformat(),
            "person": self.person,
            "overdue_seconds": self.overdue_seconds,
        }
        if self.at_stop:
            out["at_stop"] = True
        return out


@dataclass(frozen=True, slots=True)
class SeverityUpgraded:
    kind: ClassVar[Kind] = Kind.SEVERITY_UPGRADED
    before: str
    after: str
    clock: str

    def as_json(self) -> dict[str, object]:
        return {"from": self.before, "to": self.after, "clock": self.clock}


@dataclass(frozen=True, slots=True)
class Escalated:
    kind: ClassVar[Kind] = Kind.ESCALATED
    clock: str
    rule: str
    step: int
    to: tuple[str, ...]
    copies: tuple[str, ...]
    emails: tuple[str, ...]
    overdue_seconds: float
    # Why this step told nobody new, e.g. "钱红 already told at step 1"; "" when it told someone.
    nobody_new: str = ""

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "clock": self.clock,
            "rule": self.rule,
            "step": self.step,
            "to": list(self.to),
            "copies": list(self.copies),
            "emails": list(self.emails),
            "overdue_seconds": self.overdue_seconds,
        }
        if self.nobody_new:
            out["nobody_new"] = self.nobody_new
        return out


@dataclass(frozen=True, slots=True)
class Unheard:
    """A notice that went to nobody: the role it needs is unfilled, or everyone who could take
    it is absent or named in the complaint. `complaintd status` lists these."""

    kind: ClassVar[Kind] = Kind.UNHEARD
    what: str  # "escalation" | "reminder" | "major_report"
    clock: str  # the clock it belongs to; "" for a report made at filing or by marking
    step: int | None  # the ladder step of an escalation
    why: str

    def as_json(self) -> dict[str, object]:
        return {"what": self.what, "clock": self.clock, "step": self.step, "why": self.why}


@dataclass(frozen=True, slots=True)
class MajorReported:
    """A major complaint reported to the general manager and legal, and why it is major now."""

    kind: ClassVar[Kind] = Kind.MAJOR_REPORTED
    how: str  # "marked" (by staff) | "group" (a later complaint about the same matter)
    to: tuple[str, ...]  # person keys told
    emails: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"how": self.how, "to": list(self.to), "emails": list(self.emails)}


@dataclass(frozen=True, slots=True)
class ClockMoved:
    """An open clock's due time moved because the calendar changed under it."""

    kind: ClassVar[Kind] = Kind.CLOCK_MOVED
    clock: str
    rule: str
    before: datetime
    after: datetime
    because: tuple[str, ...]  # the days that changed under it, e.g. "2026-10-08: day off -> ..."

    def as_json(self) -> dict[str, object]:
        return {
            "clock": self.clock,
            "rule": self.rule,
            "from": self.before.isoformat(),
            "to": self.after.isoformat(),
            "because": list(self.because),
        }


@dataclass(frozen=True, slots=True)
class Reassigned:
    """The daemon moved a ticket to another handler, e.g. because a follow-up named the one it
    had (confidentiality)."""

    kind: ClassVar[Kind] = Kind.REASSIGNED
    before: str  # person key; "" when it had none
    after: str  # person key; "" when nobody could take it
    why: str

    def as_json(self) -> dict[str, object]:
        return {"from": self.before, "to": self.after, "why": self.why}


@dataclass(frozen=True, slots=True)
class AmbiguousName:
    """A title and surname ("王经理") that fits several people: all are excluded, and customer
    care is to check who was meant."""

    kind: ClassVar[Kind] = Kind.AMBIGUOUS_NAME
    term: str
    people: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"term": self.term, "people": list(self.people)}


@dataclass(frozen=True, slots=True)
class ReplyApplied:
    """A staff reply's commands applied, with the Message-ID of the reply that gave them."""

    kind: ClassVar[Kind] = Kind.REPLY_APPLIED
    message_id: str
    commands: tuple[str, ...]  # replycommands.Kind values, in order

    def as_json(self) -> dict[str, object]:
        return {"message_id": self.message_id, "commands": list(self.commands)}


@dataclass(frozen=True, slots=True)
class ReplyRefused:
    """A reply that changed nothing: why (a failed check, a command not allowed or invalid)."""

    kind: ClassVar[Kind] = Kind.REPLY_REFUSED
    message_id: str
    sender: str
    reason: str  # e.g. "no-token", "expired", "not-allowed", "bad-command"
    detail: str

    def as_json(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "sender": self.sender,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Note:
    """An internal note staff added by reply (#note / 备注)."""

    kind: ClassVar[Kind] = Kind.NOTE
    text: str

    def as_json(self) -> dict[str, object]:
        return {"text": self.text}


@dataclass(frozen=True, slots=True)
class Satisfaction:
    """The customer's answer to the satisfaction question, as read from their reply."""

    kind: ClassVar[Kind] = Kind.SATISFACTION
    verdict: str  # "satisfied" | "unsatisfied"
    score: int | None  # 0-10 when they gave one
    said: str  # the words or score it was read from

    def as_json(self) -> dict[str, object]:
        return {"verdict": self.verdict, "score": self.score, "said": self.said}


@dataclass(frozen=True, slots=True)
class CustomerMail:
    """A mail to the customer about their ticket, from the desk's address: what it was, who
    had it sent, and the outbox row that carries it."""

    kind: ClassVar[Kind] = Kind.CUSTOMER_MAIL
    what: str  # "answer" | "resolution" | "satisfaction"
    by: str  # who had it sent (person key, address, or "complaintd")
    to: str
    outbox: int | None  # the outbox row; None when nothing was queued
    status: str  # "pending" | "suppressed" (daily cap) | "not-sent"
    text: str = ""  # what staff wrote to the customer (answer, result)
    why: str = ""  # why it was not sent

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "what": self.what,
            "by": self.by,
            "to": self.to,
            "outbox": self.outbox,
            "status": self.status,
        }
        if self.text:
            out["text"] = self.text
        if self.why:
            out["why"] = self.why
        return out


@dataclass(frozen=True, slots=True)
class RetentionApplied:
    """[retention] acted on the ticket: its raw mail and attachments dropped, its customer's
    name, address and phone replaced here and in the earlier entries."""

    kind: ClassVar[Kind] = Kind.RETENTION
    raw_purged: bool
    anonymised: bool
    closed_at: datetime  # when the ticket closed, the age the policy went by
    raw_mail_days: int | None  # the policy applied; None: kept
    anonymise_days: int | None

    def as_json(self) -> dict[str, object]:
        return {
            "raw_purged": self.raw_purged,
            "anonymised": self.anonymised,
            "closed_at": self.closed_at.isoformat(),
            "raw_mail_days": self.raw_mail_days,
            "anonymise_days": self.anonymise_days,
        }
