"""Pure decisions about a new complaint over tables the shell loads once at start: rules, model,
org chart, calendar, clocks (daemon.app.triage_from_settings builds them from config)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from daemon import classify, clocks, route
from daemon.clocks import ClockKind, ClockPlan, ClockSettings, TicketFacts
from daemon.org import OrgSettings
from daemon.values import Assignment, Classification
from daemon.workdays import BusinessCalendar

# What the acknowledgement promises, in order of preference: the first clock the ticket has.
_PROMISE_CLOCKS = (
    ClockKind.FIRST_RESPONSE,
    ClockKind.FIRST_CONTACT,
    ClockKind.REPLY,
    ClockKind.RESOLUTION,
)


@dataclass(frozen=True)
class Triage:
    """Pure decisions about a new complaint, over tables loaded from config at start."""

    classifier: classify.ClassifierSettings
    rules: classify.RuleSet
    model: classify.CategoryModel | None  # decides the category when given; rules do the rest
    org: OrgSettings
    calendar: BusinessCalendar
    clock_settings: ClockSettings
    reply_promise: timedelta
    # Staff addresses (lower-cased) -> person key: their mail never opens a customer complaint.
    staff: Mapping[str, str] = field(default_factory=dict)
    # A sender's same text again within this window opens no ticket; zero: never checked.
    repeat_body_window: timedelta = timedelta(0)

    @property
    def repeat_window_days(self) -> int:
        return self.classifier.repeat_window_days

    def staff_key(self, address: str) -> str | None:
        """The person key of a staff address; None for anybody else."""
        return self.staff.get(address.lower())

    def classify(
        self, subject: str, text: str, earlier_tickets: int, others_same_matter: int = 0
    ) -> Classification:
        history = classify.CustomerHistory(earlier_tickets, others_same_matter)
        return classify.classify(subject, text, self.rules, history, self.model)

    def assign(self, c: Classification, channel: str, text: str, now: datetime) -> Assignment:
        return route.assign(c, channel, text, self.org, now)

    def plan(self, c: Classification, channel: str, tier: str) -> tuple[ClockPlan, ...]:
        facts = TicketFacts(channel, c.category, c.severity, tier, c.is_major)
        return clocks.plan_clocks(facts, self.clock_settings)

    def reports_major(self, a: Assignment) -> bool:
        """Does this assignment tell a general manager (so the 24-hour report is done)?"""
        managers = {
            p.email.lower() for p in self.org.people if p.role == self.org.general_manager_role
        }
        return bool(managers & {a.handler_email.lower(), *(x.lower() for x in a.inform)})

    def promise(self, started: dict[ClockKind, datetime], now: datetime) -> datetime:
        """When the customer will hear from us: the first customer-facing deadline."""
        for kind in _PROMISE_CLOCKS:
            if kind in started:
                return started[kind]
        return now + self.reply_promise
