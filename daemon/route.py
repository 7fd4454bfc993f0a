"""Org chart -> Assignment: who handles a complaint, who is told, and who never sees it.

Confidentiality comes first: everyone the complaint names (by name, alias or address) is excluded
from the handler, the notices and the escalation ladder; their work passes up the management line.
Absence second: an absent person's work goes to their deputy (授权委托), and on to the deputy's
deputy; each hand-over is returned as a Delegation so the audit trail records it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from daemon.names import find_named
from daemon.org import ANY, Absence, OrgSettings, Person, RoutingRule
from daemon.values import Assignment, Classification, Delegation

# -- who is available ------------------------------------------------------------------------


def _describe(absence: Absence) -> str:
    window = (
        f"{absence.start.isoformat(timespec='minutes')} to "
        f"{absence.end.isoformat(timespec='minutes')}"
    )
    return f"{absence.reason or 'absent'}, {window}"


@dataclass(frozen=True, slots=True)
class Chart:
    org: OrgSettings
    now: datetime
    excluded: frozenset[str]
    people: dict[str, Person] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "people", {p.key: p for p in self.org.people})

    def absence(self, key: str) -> Absence | None:
        return next((a for a in self.org.absences if a.person == key and a.covers(self.now)), None)

    def present(self, key: str) -> tuple[str, tuple[Delegation, ...]]:
        if key not in self.people or key in self.excluded:
            return "", ()
        current, used, seen = key, [], {key}
        while (absence := self.absence(current)) is not None:
            deputy = absence.deputy
            if deputy in seen or deputy in self.excluded or deputy not in self.people:
                return "", ()
            used.append(Delegation(current, deputy, _describe(absence), absence.end))
            seen.add(deputy)
            current = deputy
        return current, tuple(used)

    def at_work(self, key: str) -> bool:
        """In the chart, not named in the complaint, and not away."""
        return key in self.people and key not in self.excluded and self.absence(key) is None

    def peer(self, key: str) -> str:
        """A colleague at work with `key`'s role, same department first; "" when none."""
        me = self.people[key]
        return next(
            (
                p.key
                for p in self.holders(me.role, me.department)
                if p.key != key and self.at_work(p.key)
            ),
            "",
        )

    def stand_in(self, key: str) -> tuple[str, tuple[Delegation, ...]]:
        """Who does `key`'s work now: them; else their configured deputy (授权委托); else a
        colleague at work with the same role; else the first of these up the management line."""
        delegations: list[Delegation] = []
        waiting: str = ""
        waiting_reason, waiting_until = "", None
        current, seen = key, set()
        while current in self.people and current not in seen:
            seen.add(current)
            if current not in self.excluded:
                if waiting:
                    reason = f"{waiting_reason}; no deputy available, passed up the line"
                    delegations.append(Delegation(waiting, current, reason, waiting_until))
                found, used = self.present(current)
                if found:
                    return found, (*delegations, *used)
                absence = self.absence(current)
                waiting = current
                waiting_reason = _describe(absence) if absence else "absent"
                waiting_until = absence.end if absence else None
                colleague = self.peer(current)
                if colleague:
                    role = self.people[current].role
                    reason = f"{waiting_reason}; no deputy available, same role ({role})"
                    hand_over = Delegation(current, colleague, reason, waiting_until)
                    return colleague, (*delegations, hand_over)
            current = self.people[current].manager or ""
        return "", ()

    def holders(self, role: str, department: str) -> list[Person]:
        """People with `role`: same department first, then those without one, then the rest."""
        holders = [p for p in self.org.people if p.role == role]

        def rank(p: Person) -> int:
            return 0 if p.department == department else 1 if not p.department else 2

        return sorted(holders, key=rank)

    def fill(
        self, role: str, department: str, what: str
    ) -> tuple[str, tuple[Delegation, ...], str]:
        """The person for `role`, with the deputies used and a note when something was odd."""
        holders = self.holders(role, department)
        if not holders:
            return "", (), f"{what}: nobody holds role {role}"
        # The first holder is the default whether or not they are at work or named: an absent
        # one's work goes to their deputy first, a named one's up their own management line.
        default = holders[0]
        found, used = self.stand_in(default.key)
        note = ""
        if default.key in self.excluded:
            note = f"{what} ({role}) named in the complaint; passed up the line"
            if not found:
                note = f"{what} ({role}) named in the complaint; nobody above to take it"
        elif not found:
            note = f"{what}: nobody available for role {role}"
        return found, used, note

    def line_above(self, key: str) -> list[str]:
        """Managers above `key`, nearest first, stopping at a loop."""
        line: list[str] = []
        current = self.people[key].manager if key in self.people else None
        while current and current in self.people and current not in line and current != key:
            line.append(current)
            current = self.people[current].manager
        return line


def present(
    person_key: str, org: OrgSettings, now: datetime, excluded: tuple[str, ...] = ()
) -> tuple[str, tuple[Delegation, ...]]:
    """Who acts for `person_key` at `now`: them, or their deputy's deputy's ...; "" if nobody can.

    Nobody can when the person is unknown or excluded, or the chain of deputies loops, leaves
    the chart or reaches someone excluded; the caller then goes up the management line.
    """
    return Chart(org, now, frozenset(excluded)).present(person_key)


def find_person(org: OrgSettings, key: str) -> Person | None:
    """The person with this key, if the chart lists one."""
    return next((p for p in org.people if p.key == key), None)


# -- routing ----------------------------------------------------------------------------------


def _rule_label(index: int, rule: RoutingRule) -> str:
    filters = [
        f"{name}={value}"
        for name, value in (
            ("category", rule.category),
            ("department", rule.department),
            ("channel", rule.channel),
        )
        if value != ANY
    ]
    return f"routing #{index} ({' '.join(filters) or 'any'}) -> {rule.role}"


def _unique(items: Iterable[Delegation]) -> tuple[Delegation, ...]:
    return tuple(dict.fromkeys(items))


def assign(
    c: Classification, channel: str, text: str, org: OrgSettings, now: datetime
) -> Assignment:
    """Pick the handler and the people to inform; nobody named in `text` is among them."""
    naming = find_named(text, org)
    excluded = naming.people
    if not org.people:
        return Assignment("", "", (), excluded, rule="org chart lists nobody; not assigned")
    chart = Chart(org, now, frozenset(excluded))
    match = next(
        (
            (i, r)
            for i, r in enumerate(org.routing, start=1)
            if r.matches(c.category, c.department, channel)
        ),
        None,
    )
    notes: list[str] = []
    handler: str = ""
    delegations: tuple[Delegation, ...] = ()
    if match is None:
        label = "no routing rule matched; not assigned"
    else:
        index, rule = match
        label = _rule_label(index, rule)
        handler, delegations, note = chart.fill(rule.role, c.department, "handler")
        notes.append(note)
    told: list[tuple[str, tuple[Delegation, ...]]] = []
    care, care_used, note = chart.fill(org.care_manager_role, c.department, "care manager")
    notes.append(note)
    told.append((care, care_used))
    unheard: list[str] = []
    if c.is_major:
        # Seed 003: a major complaint is reported to the general manager and legal.
        for role, what in (
            (org.general_manager_role, "general manager"),
            (org.legal_role, "legal"),
        ):
            key, used, note = chart.fill(role, c.department, what)
            notes.append(note)
            told.append((key, used))
            if not key:
                unheard.append(note or f"{what}: nobody available for role {role}")
    handler_email = chart.people[handler].email if handler else ""
    inform = tuple(
        dict.fromkeys(
            chart.people[key].email
            for key, _ in told
            if key and chart.people[key].email and chart.people[key].email != handler_email
        )
    )
    all_used = _unique([*delegations, *(d for key, used in told if key for d in used)])
    rule_text = "; ".join([label, *(n for n in notes if n)])
    return Assignment(
        handler,
        handler_email,
        inform,
        excluded,
        all_used,
        rule_text,
        tuple(unheard),
        naming.ambiguous,
        chart.people[care].email if care else "",
    )
