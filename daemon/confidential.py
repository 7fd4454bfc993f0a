"""Confidentiality after filing: every later message from the customer is read again for names.

Whoever it names joins the ticket's exclusion, which reminders, escalations and notices all read;
a named handler hands the ticket up their management line (授权委托 deputies still apply), and
when nobody above can take it (the general manager named), customer care does. Pure: the shell
writes the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daemon.names import Ambiguity, find_named
from daemon.org import OrgSettings
from daemon.route import Chart
from daemon.values import Delegation

WHY_NAMED = "named in the customer's follow-up (confidentiality)"


@dataclass(frozen=True, slots=True)
class Handover:
    """The ticket moves from a handler the customer named to someone who may see it."""

    before: str  # person key
    after: str  # person key; "" when nobody in the chart may take it
    after_email: str
    delegations: tuple[Delegation, ...]  # deputies that made it `after`
    why: str


@dataclass(frozen=True, slots=True)
class Recheck:
    """A ticket's exclusion after one more message, and what changes because of it."""

    excluded: tuple[str, ...]  # the whole exclusion, stored on the ticket
    added: tuple[str, ...]  # people this message named for the first time
    withheld: tuple[str, ...]  # their addresses: mail about the ticket not yet sent stays unsent
    ambiguous: tuple[Ambiguity, ...]  # titles and surnames that fit several new people
    handover: Handover | None  # when the handler is now excluded

    @property
    def changed(self) -> bool:
        return bool(self.added or self.handover)


def recheck(
    handler: str,
    excluded: tuple[str, ...],
    department: str,
    text: str,
    org: OrgSettings,
    now: datetime,
) -> Recheck:
    """The ticket's exclusion once `text` (what the customer wrote) is read for names."""
    naming = find_named(text, org)
    added = tuple(key for key in naming.people if key not in excluded)
    after = (*excluded, *added)
    ambiguous = tuple(a for a in naming.ambiguous if any(k in added for k in a.people))
    handover = hand_up(handler, after, department, org, now) if handler in after else None
    withheld = tuple(p.email for p in org.people if p.key in added and p.email)
    return Recheck(after, added, withheld, ambiguous, handover)


def hand_up(
    handler: str, excluded: tuple[str, ...], department: str, org: OrgSettings, now: datetime
) -> Handover:
    """Who takes the ticket of an excluded handler: the first manager up who is not excluded
    (or their deputy); with nobody above, the customer-care manager, then the neutral third
    party; "" when everyone who could is excluded."""
    chart = Chart(org, now, frozenset(excluded))
    found, used = chart.stand_in(handler)
    for role in (org.care_manager_role, *org.escalation_copy_roles):
        if found:
            break
        found, used, _ = chart.fill(role, department, "handler")
    email = chart.people[found].email if found else ""
    return Handover(handler, found, email, used if found else (), WHY_NAMED)
