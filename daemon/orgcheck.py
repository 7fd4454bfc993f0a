"""The org chart checked before the daemon trusts it.

Two kinds of finding: errors are mistakes in what the file says (an unknown role, a manager key
that names nobody, a loop, an absence that cannot be), and the file is refused; warnings are
roles nobody holds yet, and each says what will then reach nobody. A chart is filled in one
person at a time, so an unfilled role never stops the daemon.
"""

from __future__ import annotations

from datetime import datetime

from daemon.language import LANGUAGES
from daemon.names import short_term
from daemon.org import ANY, DEFAULT_ROUTING, OrgSettings, Person, RoutingRule


def _aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


def check_org(org: OrgSettings) -> list[str]:
    """Mistakes in the org chart, each naming the key to fix; empty when it is usable."""
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
        if p.language and p.language not in LANGUAGES:
            problems.append(
                f"{where}: language {p.language!r} is not one of {', '.join(LANGUAGES)} "
                "(leave it out for [service] default_language)"
            )
        for term in (p.name, *p.aliases):
            why = short_term(term)
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
    seen_catch_all = False
    for n, r in enumerate(org.routing, start=1):
        where = f"[[org.routing]] #{n}"
        if seen_catch_all:
            problems.append(f"{where}: never used, an earlier rule matches everything")
        seen_catch_all = seen_catch_all or r.is_catch_all
        if r.role not in known_roles:
            problems.append(f"{where}: role {r.role!r} is not in [[org.roles]]")
    if org.routing and not seen_catch_all:
        problems.append(
            "[[org.routing]]: the last rule should match everything (leave out "
            "category, department and channel) so no complaint goes unassigned"
        )
    for name, value in (
        ("care_manager_role", org.care_manager_role),
        ("general_manager_role", org.general_manager_role),
        ("legal_role", org.legal_role),
    ):
        if value not in known_roles:
            problems.append(f"[org] {name}: {value!r} is not in [[org.roles]]")
    for name, values in (
        ("director_roles", org.director_roles),
        ("escalation_copy_roles", org.escalation_copy_roles),
    ):
        for value in values:
            if value not in known_roles:
                problems.append(f"[org] {name}: {value!r} is not in [[org.roles]]")
    return problems


def org_warnings(org: OrgSettings) -> list[str]:
    """Roles nobody holds, each saying what will reach nobody; empty when every role the chart
    relies on is filled. Unknown roles are left to check_org."""
    if not org.people:
        return [
            "[org] lists nobody: every ticket is filed unassigned and only the customer is told"
        ]
    known = {r.key for r in org.roles}
    held = {p.role for p in org.people}

    def unfilled(role: str) -> bool:
        return role in known and role not in held

    warnings: list[str] = []
    # The routing table the file never wrote is the default one: say so, not "[[org.routing]]".
    table = "default routing" if org.routing == DEFAULT_ROUTING else "routing"
    for n, rule in enumerate(org.routing, start=1):
        if unfilled(rule.role):
            what = _complaints(rule, first=n == 1)
            warnings.append(f"nobody holds {rule.role}: {what} go unassigned ({table} #{n})")
    if unfilled(org.care_manager_role):
        warnings.append(
            f"no {org.care_manager_role}: nobody in customer care is told of new tickets"
        )
    if unfilled(org.general_manager_role):
        warnings.append(
            f"no {org.general_manager_role}: major complaints reach nobody, "
            "and escalations stop below the general manager"
        )
    if unfilled(org.legal_role):
        warnings.append(f"no {org.legal_role}: major complaints are not reported to legal")
    for role in org.director_roles:
        if unfilled(role):
            warnings.append(
                f"no {role}: escalations that would reach a {role} skip the director step"
            )
    for role in org.escalation_copy_roles:
        if unfilled(role):
            warnings.append(f"no {role}: escalations are not copied to a neutral third party")
    return warnings


def _complaints(rule: RoutingRule, first: bool) -> str:
    """The complaints a routing rule takes, in words: "sales complaints", "all other ..."."""
    if rule.is_catch_all:
        return "all complaints" if first else "all other complaints"
    words = [v.replace("_", "-") for v in (rule.category, rule.department) if v != ANY]
    text = " ".join([*words, "complaints"])
    return text if rule.channel == ANY else f"{text} from the {rule.channel} channel"


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
