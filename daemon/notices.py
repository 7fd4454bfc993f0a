"""Every notice the daemon mails, one frozen dataclass per template in templates/.

A template may name only the fields of its dataclass (a test checks every template in every
language), and the composer renders under StrictUndefined, so a missing value fails loudly.
Built from plain facts about a ticket: nothing here reads the database or the clock.

Facts keep the daemon's keys (category "service", clock "first_contact") and aware datetimes;
the composer turns both into words and zoned times in the recipient's language, so one notice
reads right in every language and a site can reword it in its label table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from daemon.values import Evidence, Notice


def local_time(at: datetime, zone: ZoneInfo) -> datetime:
    """An instant in the service's time zone; the zone travels with it, and mail names it."""
    return at.astimezone(zone)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A running clock as a briefing lists it."""

    clock: str  # ClockKind value
    due: datetime  # local_time


@dataclass(frozen=True, slots=True)
class Cue:
    """What moved the classification: the phrases that pointed at `value` of `kind`."""

    kind: str  # "category" | "department" | "severity" | "major"
    value: str  # e.g. "service", "media"
    phrases: tuple[str, ...]


def deadlines(due: Iterable[tuple[str, datetime]], zone: ZoneInfo) -> tuple[Deadline, ...]:
    """Running clocks' due times, soonest first."""
    return tuple(
        Deadline(clock, local_time(at, zone)) for clock, at in sorted(due, key=lambda d: d[1])
    )


HISTORY_TARGETS = frozenset({"major:repeat", "major:group"})


def cues(evidence: Iterable[Evidence | tuple[str, str]]) -> tuple[Cue, ...]:
    """Classification evidence ("category:service", phrase) as cues, one per target, in the
    order the targets first appear."""
    phrases: dict[str, list[str]] = {}
    for e in evidence:
        target, phrase = (e.target, e.phrase) if isinstance(e, Evidence) else e
        seen = phrases.setdefault(target, [])
        # The customer's history is evidence by count, not by phrase: its label says it all.
        if phrase not in seen and target not in HISTORY_TARGETS:
            seen.append(phrase)
    return tuple(
        Cue(target.partition(":")[0], target.partition(":")[2], tuple(found))
        for target, found in phrases.items()
    )


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
    opened_at: datetime  # local_time
    service_name: str


@dataclass(frozen=True, slots=True)
class ClockFacts:
    """What a reminder or an escalation says about the clock that prompted it."""

    clock: str  # ClockKind value
    rule: str
    due: datetime  # local_time
    basis: str  # "working" | "calendar"
    act_event: str  # the lifecycle event that satisfies the clock
    act_command: str  # the command customer care runs to record it


@dataclass(frozen=True, slots=True)
class ToldBefore:
    """An earlier reminder or escalation, as a later one lists it."""

    at: datetime  # local_time
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
    reply_by: datetime  # local_time of the first customer-facing deadline


@dataclass(frozen=True, slots=True)
class Briefing(Body):
    """What staff are told about a new ticket."""

    facts: TicketFacts
    evidence: tuple[Cue, ...]
    major: tuple[str, ...]  # major-complaint flags
    handler: str  # name; "" when unassigned
    deadlines: tuple[Deadline, ...]  # soonest first


@dataclass(frozen=True, slots=True)
class Assignment(Briefing):
    """To the handler: the ticket is theirs."""

    template: ClassVar[str] = "assignment"


@dataclass(frozen=True, slots=True)
class UnsureName:
    """A title and surname in the complaint that fits several people, all kept off the ticket."""

    term: str  # as the customer wrote it (folded): "王经理"
    names: tuple[str, ...]  # the people it may mean, by name


@dataclass(frozen=True, slots=True)
class Inform(Briefing):
    """To whoever the routing rules name: for their information. Customer care's copy asks
    them whom each ambiguous title and surname meant."""

    template: ClassVar[str] = "inform"
    unsure: tuple[UnsureName, ...] = ()


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
    zone = ZoneInfo("Asia/Shanghai")
    opened, due = datetime(2026, 1, 5, 9, tzinfo=zone), datetime(2026, 1, 5, 11, tzinfo=zone)
    facts = TicketFacts(
        "TS-202601-0001", "示例 sample", "customer@example.com", "", "…", "service",
        "after_sales", "general", opened, "Customer Care",
    )  # fmt: skip
    clock = ClockFacts(
        "first_contact", "first-contact", due, "working", "contact",
        "complaintd tickets act TS-202601-0001 contact",
    )  # fmt: skip
    told = (ToldBefore(opened, "reminder", None, "first_contact", "someone"),)
    why = (Cue("category", "service", ("态度", "不理")), Cue("major", "media", ("曝光",)))
    briefing = (facts, why, ("media",), "someone", (Deadline("first_contact", due),))
    return (
        Acknowledgement(facts, due),
        Assignment(*briefing),
        Inform(*briefing, (UnsureName("王经理", ("王磊", "王强")),)),
        FollowUp(facts, "customer@example.com", "customer"),
        Reminder(facts, clock, 50, 60, told, "someone", ""),
        Escalation(facts, clock, 1, 3, 90, "someone", "someone@example.com", told, False,
                   "someone", ""),
        *_reply_samples(facts, due),
        *_customer_voice_samples(facts, clock, told),
    )  # fmt: skip


# -- replies to staff notices -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Done:
    """One thing a staff reply (or a complaint logged by mail) did to a ticket."""

    command: str  # replycommands.Kind value, or "log" for a complaint logged by mail
    before: str  # status before; "" when the status did not move
    after: str  # status after; "" when the status did not move; "log": the channel
    detail: str  # the argument as written: result, reason, person's name, note


@dataclass(frozen=True, slots=True)
class Undo:
    """How to take one thing back: the command to reply with, and its argument."""

    command: str  # replycommands.Kind value
    argument: str  # "" when it takes none


@dataclass(frozen=True, slots=True)
class Confirmation(Body):
    """To the staff member who acted by mail: what changed, the clocks now running, how to
    undo it."""

    template: ClassVar[str] = "confirmation"
    ticket: str
    subject: str
    actor_name: str
    done: tuple[Done, ...]
    status: str  # the ticket's status now
    deadlines: tuple[Deadline, ...]  # running clocks, soonest first
    undo: tuple[Undo, ...]
    service_name: str


@dataclass(frozen=True, slots=True)
class Refusal(Body):
    """To an authenticated staff member whose reply asked for something that cannot be done:
    why, and the commands there are. Nothing was changed."""

    template: ClassVar[str] = "refusal"
    ticket: str
    subject: str
    why: str  # already in the reader's language, commands listed
    received_at: datetime  # local_time the reply arrived
    service_name: str


@dataclass(frozen=True, slots=True)
class Unapplied(Body):
    """To whoever sent a reply that failed its checks: it was not applied, nothing more (no
    ticket content: the sender is not known to be who they say)."""

    template: ClassVar[str] = "unapplied"
    ticket: str  # the number the reply itself named
    received_at: datetime  # local_time the reply arrived
    service_name: str


BODIES.update({b.template: b for b in (Confirmation, Refusal, Unapplied)})


def _reply_samples(facts: TicketFacts, due: datetime) -> tuple[Body, ...]:
    number, service = facts.ticket, facts.service_name
    done = (Done("ack", "assigned", "acknowledged", ""), Done("note", "", "", "…"))
    return (
        Confirmation(number, facts.subject, "someone", done, "acknowledged",
                     (Deadline("first_contact", due),), (Undo("reopen", ""),), service),
        Refusal(number, facts.subject, "…", due, service),
        Unapplied(number, due, service),
    )  # fmt: skip


# -- the customer's side: one voice, the result, the satisfaction callback -----------------------


@dataclass(frozen=True, slots=True)
class Answer(Body):
    """To the customer, from the desk: what staff answered them on their ticket."""

    template: ClassVar[str] = "answer"
    facts: TicketFacts
    answer: str


@dataclass(frozen=True, slots=True)
class Resolution(Body):
    """To the customer, from the desk: their complaint is resolved, and how."""

    template: ClassVar[str] = "resolution"
    facts: TicketFacts
    result: str


@dataclass(frozen=True, slots=True)
class SatisfactionQuestion(Body):
    """To the customer after the result: are you satisfied? (seed 003, step 6)"""

    template: ClassVar[str] = "satisfaction"
    facts: TicketFacts
    resolved_at: datetime  # local_time


@dataclass(frozen=True, slots=True)
class Unsatisfied(Body):
    """One step up the ladder (and the neutral third party, as a copy): the customer says they
    are still not satisfied with the result, and the ticket is open again (seed 000, 7.9)."""

    template: ClassVar[str] = "unsatisfied"
    facts: TicketFacts
    reply: str  # what the customer wrote, their quotes left out
    score: int | None  # the score they gave, if any
    step: int
    steps: int
    handler: str  # name; "" when unassigned
    told_before: tuple[ToldBefore, ...]
    copy: bool
    recipient_name: str
    delegated_from: str


@dataclass(frozen=True, slots=True)
class CallbackReminder(Body):
    """To customer care (the callback specialist): the customer has not answered the
    satisfaction question; phone them before the callback clock runs out."""

    template: ClassVar[str] = "callback_reminder"
    facts: TicketFacts
    clock_facts: ClockFacts
    used_percent: int
    left_minutes: int
    resolved_at: datetime  # local_time
    result: str  # what the customer was told; "" when no result was written
    asked: bool  # the satisfaction question was mailed
    handler: str  # name
    recipient_name: str
    delegated_from: str


BODIES.update(
    {b.template: b for b in (Answer, Resolution, SatisfactionQuestion, Unsatisfied,
                             CallbackReminder)}
)  # fmt: skip


def _customer_voice_samples(
    facts: TicketFacts, clock: ClockFacts, told: tuple[ToldBefore, ...]
) -> tuple[Body, ...]:
    at = clock.due
    callback = ClockFacts(
        "callback", "callback", at, "working", "callback",
        f"complaintd tickets act {facts.ticket} callback",
    )  # fmt: skip
    return (
        Answer(facts, "…"),
        Resolution(facts, "…"),
        SatisfactionQuestion(facts, at),
        Unsatisfied(facts, "不满意", None, 1, 3, "someone", told, False, "someone", ""),
        CallbackReminder(facts, callback, 50, 480, at, "…", True, "someone", "someone", ""),
    )  # fmt: skip
