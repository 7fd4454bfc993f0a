"""Who hears about a ticket running late: the reminder's recipient, the escalation rungs
(manager, director, general manager) and the neutral third party copied on every step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daemon.org import OrgSettings
from daemon.route import Chart, find_person, present
from daemon.values import Delegation

# What each ladder step asks for, in order; a ladder configured longer asks for the general
# manager at every later step (and so tells nobody new there).
POSITIONS = ("manager", "director", "general manager")


@dataclass(frozen=True, slots=True)
class Rung:
    """One step of the escalation ladder: who it tells, and the deputies that made it them.

    `person` is "" when the step tells nobody new; `why` then says why, and `unfilled` says
    whether that is because nobody could take it (a warning) or because the person it
    reaches was already told or holds the ticket (as configured).
    """

    step: int
    position: str  # one of POSITIONS
    person: str
    delegations: tuple[Delegation, ...] = ()
    why: str = ""
    unfilled: bool = False


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person to mail, and the deputies that made it them (empty when it is them)."""

    key: str
    email: str
    delegations: tuple[Delegation, ...] = ()


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a ticket, as the ladder needs it."""

    handler: str  # person key; "" when unassigned
    handler_email: str
    excluded: tuple[str, ...]  # people the complaint names


def _targets(handler: str, org: OrgSettings, chart: Chart) -> tuple[str, str, str]:
    """The people the three positions name before absence: manager, director, general manager.

    An unassigned ticket climbs from the customer-care manager, who dispatches it.
    """
    base = handler
    if not base:
        base = next((p.key for p in org.people if p.role == org.care_manager_role), "")
    line = chart.line_above(base)
    me = chart.people.get(base)
    department = me.department if me else ""

    def first_above(role_keys: tuple[str, ...]) -> str:
        return next((k for k in line if chart.people[k].role in role_keys), "")

    director = first_above(org.director_roles)
    if not director and me is not None and me.department:
        # A chart where managers report straight to the GM: take the director of the
        # handler's department.
        director = next(
            (
                p.key
                for p in org.people
                if p.role in org.director_roles and p.department == me.department
            ),
            "",
        )
    gm = first_above((org.general_manager_role,))
    if not gm:
        gm = next((p.key for p in chart.holders(org.general_manager_role, department)), "")
    return (line[0] if line else "", director, gm)


def escalation_ladder(
    handler: str,
    org: OrgSettings,
    now: datetime,
    excluded: tuple[str, ...] = (),
    steps: int = len(POSITIONS),
    told: frozenset[str] = frozenset(),
) -> tuple[Rung, ...]:
    """Ladder steps 1..`steps` as configured (manager, director, general manager), each
    resolved for absence and confidentiality. Each person is told at one step only: a step
    whose person is the handler, was reached by an earlier step, or is in `told` (already
    told on this clock) tells nobody new, and the later steps keep their numbers."""
    chart = Chart(org, now, frozenset(excluded))
    targets = _targets(handler, org, chart)
    rungs: list[Rung] = []
    first_step: dict[str, int] = {}  # person or target -> the step that reached them
    for step in range(1, steps + 1):
        index = min(step, len(POSITIONS)) - 1
        position, target = POSITIONS[index], targets[index]
        if not target:
            why = f"no {position} above the handler" if handler else f"no {position}"
            rungs.append(Rung(step, position, "", why=why, unfilled=True))
            continue
        person, used = chart.stand_in(target)
        earlier = first_step.get(target) or first_step.get(person)
        if not person:
            why = f"{position} {target} is absent or named, and nobody can stand in"
            rungs.append(Rung(step, position, "", why=why, unfilled=True))
        elif person == handler:
            rungs.append(Rung(step, position, "", why=f"{position} {person} holds the ticket"))
        elif earlier is not None:
            why = f"{position} {person} already told at step {earlier}"
            rungs.append(Rung(step, position, "", why=why))
        elif person in told:
            why = f"{position} {person} already told on this clock"
            rungs.append(Rung(step, position, "", why=why))
        else:
            rungs.append(Rung(step, position, person, used))
        first_step.setdefault(target, step)
        if person:
            first_step.setdefault(person, step)
    return tuple(rungs)


def escalation_chain(
    handler: str, org: OrgSettings, now: datetime, excluded: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Person keys told by ladder steps 1..3, in order, each once."""
    return tuple(r.person for r in escalation_ladder(handler, org, now, excluded) if r.person)


def reminder_recipients(
    held: Holder, org: OrgSettings, now: datetime
) -> tuple[list[Recipient], str]:
    """Who gets a reminder: the handler or their stand-in; customer care for an unassigned one.
    With nobody, why not."""
    key = held.handler
    if not key:
        care = next(
            (
                p.key
                for p in org.people
                if p.role == org.care_manager_role and p.key not in held.excluded
            ),
            "",
        )
        if not care:
            return [], f"unassigned, and nobody holds role {org.care_manager_role}"
        key = care
    person = find_person(org, key)
    if person is None:
        # A handler no longer in the chart keeps getting their tickets' mail.
        if held.handler_email:
            return [Recipient(key, held.handler_email)], ""
        return [], f"{key} is not in the org chart and has no address"
    found, used = Chart(org, now, frozenset(held.excluded)).stand_in(key)
    if not found:
        return [], f"{key} is absent or named, and nobody can stand in"
    stand_in = find_person(org, found)
    assert stand_in is not None  # stand_in only returns people of the chart
    return [Recipient(stand_in.key, stand_in.email, used)], ""


def rung_recipients(rung: Rung, org: OrgSettings) -> list[Recipient]:
    """Who a ladder step tells: its person, or nobody when it tells nobody new."""
    person = find_person(org, rung.person) if rung.person else None
    return [] if person is None else [Recipient(person.key, person.email, rung.delegations)]


def copies(held: Holder, org: OrgSettings, now: datetime, taken: set[str]) -> list[Recipient]:
    """The neutral third party for this step, never the handler or anyone the complaint names.

    Adds each person copied to `taken`.
    """
    out: list[Recipient] = []
    for role in org.escalation_copy_roles:
        holder = next(
            (p for p in org.people if p.role == role and p.key not in held.excluded), None
        )
        if holder is None:
            continue
        found, used = present(holder.key, org, now, held.excluded)
        person = find_person(org, found)
        if person is None or person.key in taken or person.key == held.handler:
            continue
        taken.add(person.key)
        out.append(Recipient(person.key, person.email, used))
    return out
