"""Who hears about a ticket running late: the reminder's recipient, the escalation rungs
(manager, director, general manager) and the neutral third party copied on every step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daemon.org import OrgSettings
from daemon.route import Chart, find_person, present
from daemon.values import Delegation


@dataclass(frozen=True, slots=True)
class Rung:
    """One step of the escalation ladder: who is told, and the deputies that made it them."""

    person: str
    delegations: tuple[Delegation, ...] = ()


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


def escalation_ladder(
    handler: str, org: OrgSettings, now: datetime, excluded: tuple[str, ...] = ()
) -> tuple[Rung, ...]:
    """Ladder steps 1..3 (manager, director, general manager), each resolved for absence and
    confidentiality; a step that lands on the handler or an earlier step is skipped."""
    chart = Chart(org, now, frozenset(excluded))
    line = chart.line_above(handler)
    me = chart.people.get(handler)
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
    targets = [line[0] if line else "", director, gm]
    rungs: list[Rung] = []
    taken = {handler}
    for target in targets:
        if not target:
            continue
        person, used = chart.stand_in(target)
        if person and person not in taken:
            taken.add(person)
            rungs.append(Rung(person, used))
    return tuple(rungs)


def escalation_chain(
    handler: str, org: OrgSettings, now: datetime, excluded: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Person keys for ladder steps 1..3: the handler's manager, the director, the GM."""
    return tuple(r.person for r in escalation_ladder(handler, org, now, excluded))


def reminder_recipients(held: Holder, org: OrgSettings, now: datetime) -> list[Recipient]:
    """Who gets a reminder: the handler or their deputy; customer care for an unassigned one."""
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
            return []
        key = care
    found, used = present(key, org, now, held.excluded)
    person = find_person(org, found or key)
    if person is None:
        # A handler no longer in the chart keeps getting their tickets' mail.
        return [Recipient(key, held.handler_email)] if held.handler_email else []
    return [Recipient(person.key, person.email, used if found else ())]


def rung_recipients(step: int, rungs: tuple[Rung, ...], org: OrgSettings) -> list[Recipient]:
    """Who ladder step `step` tells; a chart with fewer rungs than steps repeats its last rung."""
    if not rungs:
        return []
    rung = rungs[min(step, len(rungs)) - 1]
    person = find_person(org, rung.person)
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
