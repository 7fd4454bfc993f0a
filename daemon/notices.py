"""Every notice the daemon mails, one frozen dataclass per template in templates/.

A template may name only the fields of its dataclass (a test checks every template in every
language), and the composer renders under StrictUndefined, so a missing value fails loudly.
Built from plain facts about a ticket: nothing here reads the database or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from daemon.values import Notice

TIME_FORMAT = "%Y-%m-%d %H:%M"


def local_time(at: datetime, zone: ZoneInfo) -> str:
    """An instant as staff read it: minutes, in the service's time zone."""
    return at.astimezone(zone).strftime(TIME_FORMAT)


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What every notice says about the ticket."""

    ticket: str  # its number
    subject: str
    customer: str  # address
    customer_name: str
    text: str  # the complaint (or, for a follow-up, the new message)
    category: str
    department: str
    severity: str
    opened_at: str  # local_time
    service_name: str


@dataclass(frozen=True, slots=True)
class ClockFacts:
    """What a reminder or an escalation says about the clock that prompted it."""

    clock: str  # ClockKind value
    rule: str
    due: str  # local_time
    basis: str  # "working" | "calendar"
    act_event: str  # the lifecycle event that satisfies the clock
    act_command: str  # the command customer care runs to record it


@dataclass(frozen=True, slots=True)
class ToldBefore:
    """An earlier reminder or escalation, as a later one lists it."""

    at: str  # local_time
    what: str  # "reminder" | "escalation"
    step: int | None
    clock: str
    who: str  # names, comma-separated; "-" for nobody


class Body:
    """A notice's template and the variables it renders with: its fields, facts flattened."""

    template: ClassVar[str]

    def context(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, TicketFacts | ClockFacts):
                out.update({g.name: getattr(value, g.name) for g in fields(value)})
            else:
                out[f.name] = value
        return out

    @classmethod
    def variables(cls) -> frozenset[str]:
        """Every name a template of this notice may use."""
        names: set[str] = set()
        hints = {"facts": TicketFacts, "clock_facts": ClockFacts}
        for f in fields(cls):  # type: ignore[arg-type]
            nested = hints.get(f.name)
            if nested is None:
                names.add(f.name)
            else:
                names.update(g.name for g in fields(nested))
        return frozenset(names)

    def letter(
        self,
        language: str,
        recipient: str,
        *,
        in_reply_to: str | None = None,
        references: tuple[str, ...] = (),
        auto_reply: bool = False,
    ) -> Notice:
        """The notice to queue: this body, addressed."""
        context = self.context()
        ticket = context.get("ticket")
        return Notice(
            template=self.template,
            language=language,
            recipient=recipient,
            context=context,
            ticket=ticket if isinstance(ticket, str) else None,
            in_reply_to=in_reply_to,
            references=references,
            auto_reply=auto_reply,
        )


@dataclass(frozen=True, slots=True)
class Acknowledgement(Body):
    """To the customer: we have your complaint, and when they will hear from us."""

    template: ClassVar[str] = "acknowledgement"
    facts: TicketFacts
    reply_by: str  # local_time of the first customer-facing deadline


@dataclass(frozen=True, slots=True)
class Briefing(Body):
    """What staff are told about a new ticket."""

    facts: TicketFacts
    evidence: tuple[str, ...]  # "target: phrase"
    major: tuple[str, ...]
    handler: str  # person key; "" when unassigned
    deadlines: tuple[str, ...]  # "clock: local time", soonest first


@dataclass(frozen=True, slots=True)
class Assignment(Briefing):
    """To the handler: the ticket is theirs."""

    template: ClassVar[str] = "assignment"


@dataclass(frozen=True, slots=True)
class Inform(Briefing):
    """To whoever the routing rules name: for their information."""

    template: ClassVar[str] = "inform"


@dataclass(frozen=True, slots=True)
class FollowUp(Body):
    """To the handler: someone wrote again on the ticket."""

    template: ClassVar[str] = "followup"
    facts: TicketFacts
    sender: str
    sender_role: str  # "customer" | "staff" | "released"


@dataclass(frozen=True, slots=True)
class Reminder(Body):
    """To the handler (or deputy): a clock is running out."""

    template: ClassVar[str] = "reminder"
    facts: TicketFacts
    clock_facts: ClockFacts
    used_percent: int
    left_minutes: int
    told_before: tuple[ToldBefore, ...]
    recipient_name: str
    delegated_from: str  # the absent person's name; "" when it reaches them


@dataclass(frozen=True, slots=True)
class Escalation(Body):
    """Up the ladder (or to the neutral third party, as a copy): a clock has passed."""

    template: ClassVar[str] = "escalation"
    facts: TicketFacts
    clock_facts: ClockFacts
    step: int
    steps: int
    late_minutes: int
    handler: str  # name; "" when unassigned
    handler_email: str
    told_before: tuple[ToldBefore, ...]
    copy: bool
    recipient_name: str
    delegated_from: str


# Every template, by name: what `complaintd` checks at start and the tests render.
BODIES: dict[str, type[Body]] = {
    b.template: b for b in (Acknowledgement, Assignment, Inform, FollowUp, Reminder, Escalation)
}


def samples() -> tuple[Body, ...]:
    """One filled-in notice per template, to check the templates render at start."""
    facts = TicketFacts(
        "TS-202601-0001", "示例 sample", "customer@example.com", "", "…", "service",
        "after_sales", "general", "2026-01-05 09:00", "Customer Care",
    )  # fmt: skip
    clock = ClockFacts(
        "first_contact", "first-contact", "2026-01-05 11:00", "working", "contact",
        "complaintd tickets act TS-202601-0001 contact",
    )  # fmt: skip
    told = (ToldBefore("2026-01-05 10:00", "reminder", None, "first_contact", "someone"),)
    return (
        Acknowledgement(facts, "2026-01-05 11:00"),
        Assignment(facts, (), (), "someone", ()),
        Inform(facts, (), (), "someone", ()),
        FollowUp(facts, "customer@example.com", "customer"),
        Reminder(facts, clock, 50, 60, told, "someone", ""),
        Escalation(facts, clock, 1, 3, 90, "someone", "someone@example.com", told, False,
                   "someone", ""),
    )  # fmt: skip
