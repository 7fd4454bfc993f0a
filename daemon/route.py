"""Org chart -> Assignment: who handles a complaint, who is told, and who never sees it.

Confidentiality comes first: everyone the complaint names (by name, alias or address) is excluded
from the handler, the notices and the escalation ladder; their work passes up the management line.
Absence second: an absent person's work goes to their deputy (授权委托), and on to the deputy's
deputy; each hand-over is returned as a Delegation so the audit trail records it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from daemon.charsets import HAN
from daemon.language import normalise_text
from daemon.values import Assignment, Classification, Delegation

ANY = "*"

# A one-character name or alias (a surname, "王") would exclude staff from every complaint that
# happens to contain that character; Latin aliases need a little more because "Li" or "Bo" are
# also ordinary syllables and words.
MIN_CJK_CHARS = 2
MIN_LATIN_CHARS = 3


@dataclass(frozen=True, slots=True)
class Person:
    key: str  # stable identifier used everywhere else, e.g. "zheng_hao"
    name: str  # as customers write it, e.g. "郑浩" or "Kevin Zheng"
    email: str
    role: str  # a Role key
    department: str = ""  # e.g. "sales", "after_sales", "customer_care"; "" for none
    manager: str | None = None  # person key of their line manager; None at the top
    aliases: tuple[str, ...] = ()  # other ways customers name them: "郑经理", "鄭浩", "Kevin"


@dataclass(frozen=True, slots=True)
class Role:
    key: str
    title_zh: str = ""
    title_en: str = ""


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """One row of the routing table; "*" matches anything. First match wins."""

    role: str
    category: str = ANY
    department: str = ANY
    channel: str = ANY

    def matches(self, category: str, department: str, channel: str) -> bool:
        return (
            self.category in (ANY, category)
            and self.department in (ANY, department)
            and self.channel in (ANY, channel)
        )

    @property
    def is_catch_all(self) -> bool:
        return self.category == self.department == self.channel == ANY


@dataclass(frozen=True, slots=True)
class Absence:
    """A window [start, end) in which `person` is away and `deputy` acts with their full rights."""

    person: str
    start: datetime  # timezone-aware
    end: datetime  # timezone-aware, exclusive
    deputy: str
    reason: str = ""

    def covers(self, now: datetime) -> bool:
        return self.start <= now < self.end


# The role table of DOMAIN.md, plus the front-line staff complaints most often name.
DEFAULT_ROLES: tuple[Role, ...] = (
    Role("customer_care_manager", "客户关爱经理", "Customer-care manager"),
    Role("callback_specialist", "回访专员", "Callback specialist"),
    Role("customer_service_director", "客服总监", "Customer-service director"),
    Role("retail_manager", "零售经理", "Retail manager"),
    Role("service_manager", "服务经理", "Service manager"),
    Role("sales_director", "销售总监", "Sales director"),
    Role("service_director", "服务总监", "Service director"),
    Role("showroom_manager", "展厅经理", "Showroom manager"),
    Role("general_manager", "总经理", "General manager"),
    Role("sales_consultant", "销售顾问", "Sales consultant"),
    Role("service_advisor", "服务顾问", "Service advisor"),
    Role("technician", "维修技师", "Technician"),
)

# Seed 000, article 7.4: customer care dispatches sales complaints to the retail manager and
# after-sales ones to the service manager; anything else stays with customer care.
DEFAULT_ROUTING: tuple[RoutingRule, ...] = (
    RoutingRule("retail_manager", department="sales"),
    RoutingRule("service_manager", department="after_sales"),
    RoutingRule("customer_care_manager"),
)


@dataclass(frozen=True, slots=True)
class OrgSettings:
    people: tuple[Person, ...] = ()
    roles: tuple[Role, ...] = DEFAULT_ROLES
    routing: tuple[RoutingRule, ...] = DEFAULT_ROUTING
    absences: tuple[Absence, ...] = ()
    care_manager_role: str = "customer_care_manager"
    general_manager_role: str = "general_manager"
    # Step 2 of the escalation ladder is the first of these above the handler.
    director_roles: tuple[str, ...] = (
        "sales_director",
        "service_director",
        "customer_service_director",
    )
    # Seed 000, article 5: the customer-service director sits in every escalation tier as the
    # neutral third party, so every ladder step is copied to whoever holds these roles.
    escalation_copy_roles: tuple[str, ...] = ("customer_service_director",)


# -- naming -----------------------------------------------------------------------------------

_CJK = HAN
_LATIN_WORD_CHAR = r"a-z0-9\u00c0-\u024f"
_EMAIL_CHAR = r"a-z0-9._%+\-"


def _fold(text: str) -> str:
    # Names and complaint text go through the same normalisation, so "郑\u200b浩", "鄭浩" and
    # full-width "ｗａｎｇ＠ｄｅａｌｅｒ" meet their plain forms.
    return normalise_text(text)


def _pattern(term: str) -> re.Pattern[str] | None:
    folded = " ".join(_fold(term).split())
    if not folded:
        return None
    if "@" in folded:
        return re.compile(rf"(?<![{_EMAIL_CHAR}]){re.escape(folded)}(?![a-z0-9_\-]|\.[a-z0-9])")
    if _CJK.search(folded):
        return re.compile(r"\s*".join(re.escape(ch) for ch in folded.replace(" ", "")))
    words = r"\s+".join(re.escape(w) for w in folded.split(" "))
    return re.compile(rf"(?<![{_LATIN_WORD_CHAR}]){words}(?![{_LATIN_WORD_CHAR}])")


def _terms(person: Person) -> tuple[str, ...]:
    return (person.name, person.email, *person.aliases)


def named_people(text: str, org: OrgSettings) -> tuple[str, ...]:
    """Keys of the people the text names, by name, alias or e-mail address, in chart order."""
    folded = _fold(text)
    spans: list[tuple[int, int, str]] = []
    for person in org.people:
        for term in _terms(person):
            pattern = _pattern(term)
            if pattern is not None:
                spans.extend((m.start(), m.end(), person.key) for m in pattern.finditer(folded))
    # "张伟明" names 张伟明, not also their colleague 张伟: a match inside a longer match of
    # somebody else's name does not count.
    named = {
        key
        for start, end, key in spans
        if not any(
            other != key and s <= start and end <= e and e - s > end - start
            for s, e, other in spans
        )
    }
    return tuple(p.key for p in org.people if p.key in named)


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
            used.append(Delegation(current, deputy, _describe(absence)))
            seen.add(deputy)
            current = deputy
        return current, tuple(used)

    def stand_in(self, key: str) -> tuple[str, tuple[Delegation, ...]]:
        """Who does `key`'s work now: them, their deputy, else the first available manager up."""
        delegations: list[Delegation] = []
        waiting, waiting_reason = "", ""
        current, seen = key, set()
        while current in self.people and current not in seen:
            seen.add(current)
            if current not in self.excluded:
                if waiting:
                    reason = f"{waiting_reason}; no deputy available, passed up the line"
                    delegations.append(Delegation(waiting, current, reason))
                found, used = self.present(current)
                if found:
                    return found, (*delegations, *used)
                absence = self.absence(current)
                waiting = current
                waiting_reason = _describe(absence) if absence else "absent"
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
        # The default is the first holder who is at work, whether or not the complaint names
        # them: a named default passes up their own management line, not to a peer.
        default = next((p for p in holders if self.absence(p.key) is None), holders[0])
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
    excluded = named_people(text, org)
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
    if c.is_major:
        gm, gm_used, note = chart.fill(org.general_manager_role, c.department, "general manager")
        notes.append(note)
        told.append((gm, gm_used))
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
    return Assignment(handler, handler_email, inform, excluded, all_used, rule_text)


# -- checking the chart -----------------------------------------------------------------------


def _short_term(term: str) -> str | None:
    folded = _fold(term).replace(" ", "")
    if "@" in folded:
        return None
    if _CJK.search(folded):
        return f"shorter than {MIN_CJK_CHARS} characters" if len(folded) < MIN_CJK_CHARS else None
    if len(folded) < MIN_LATIN_CHARS:
        return f"shorter than {MIN_LATIN_CHARS} letters"
    return None


def _aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


def check_org(org: OrgSettings) -> list[str]:
    """Problems with the org chart, each naming the key to fix; empty when it is usable."""
    problems: list[str] = []
    role_keys = [r.key for r in org.roles]
    known_roles = set(role_keys)
    for key in sorted({k for k in role_keys if role_keys.count(k) > 1}):
        problems.append(f"[[org.roles]] {key}: listed more than once")
    people: dict[str, Person] = {}
    for n, p in enumerate(org.people, start=1):
        where = f"[[org.people]] {p.key}" if p.key else f"[[org.people]] #{n}"
        if not p.key:
            problems.append(f"{where}: key is empty")
        elif p.key in people:
            problems.append(f"{where}: key listed more than once")
        people.setdefault(p.key, p)
        if not p.name.strip():
            problems.append(f"{where}: name is empty")
        if "@" not in p.email:
            problems.append(f"{where}: email {p.email!r} is not an address")
        if p.role not in known_roles:
            problems.append(f"{where}: role {p.role!r} is not in [[org.roles]]")
        for term in (p.name, *p.aliases):
            why = _short_term(term)
            if why and term.strip():
                problems.append(
                    f"{where}: name or alias {term!r} is {why}; it would match "
                    "far too many complaints"
                )
    for p in org.people:
        if p.manager is None:
            continue
        if p.manager == p.key:
            problems.append(f"[[org.people]] {p.key}: manager is themselves")
        elif p.manager not in people:
            problems.append(f"[[org.people]] {p.key}: manager {p.manager!r} is not a person key")
    problems.extend(_manager_loops(people))
    for n, a in enumerate(org.absences, start=1):
        where = f"[[org.absences]] #{n} ({a.person})"
        if a.person not in people:
            problems.append(f"{where}: person {a.person!r} is not a person key")
        if a.deputy not in people:
            problems.append(f"{where}: deputy {a.deputy!r} is not a person key")
        elif a.deputy == a.person:
            problems.append(f"{where}: deputy is the absent person")
        if not (_aware(a.start) and _aware(a.end)):
            problems.append(
                f"{where}: start and end need a UTC offset, e.g. 2026-05-01T09:00:00+08:00"
            )
        elif a.end <= a.start:
            problems.append(f"{where}: end is not after start")
    held = {p.role for p in org.people}
    seen_catch_all = False
    for n, r in enumerate(org.routing, start=1):
        where = f"[[org.routing]] #{n}"
        if seen_catch_all:
            problems.append(f"{where}: never used, an earlier rule matches everything")
        seen_catch_all = seen_catch_all or r.is_catch_all
        if r.role not in known_roles:
            problems.append(f"{where}: role {r.role!r} is not in [[org.roles]]")
        elif org.people and r.role not in held:
            problems.append(f"{where}: nobody holds role {r.role!r}")
    if org.routing and not seen_catch_all:
        problems.append(
            "[[org.routing]]: the last rule should match everything (leave out "
            "category, department and channel) so no complaint goes unassigned"
        )
    for name, value in (
        ("care_manager_role", org.care_manager_role),
        ("general_manager_role", org.general_manager_role),
    ):
        if value not in known_roles:
            problems.append(f"[org] {name}: {value!r} is not in [[org.roles]]")
        elif org.people and value not in held:
            problems.append(f"[org] {name}: nobody holds role {value!r}")
    for name, values in (
        ("director_roles", org.director_roles),
        ("escalation_copy_roles", org.escalation_copy_roles),
    ):
        for value in values:
            if value not in known_roles:
                problems.append(f"[org] {name}: {value!r} is not in [[org.roles]]")
    return problems


def _manager_loops(people: dict[str, Person]) -> list[str]:
    problems: list[str] = []
    reported: set[frozenset[str]] = set()
    for start in people:
        path: list[str] = []
        current: str | None = start
        while current in people and current not in path:
            path.append(current)
            current = people[current].manager
        if current is None or current not in path:
            continue
        loop = path[path.index(current) :]
        if len(loop) > 1 and frozenset(loop) not in reported:
            reported.add(frozenset(loop))
            shown = " -> ".join([*loop, current])
            problems.append(f"[[org.people]] {loop[0]}: manager chain loops: {shown}")
    return problems
