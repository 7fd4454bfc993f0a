"""The escalation ladder keeps its configured steps: each tells a person new to it, or nobody."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from daemon.ladder import Holder, Rung, escalation_ladder, reminder_recipients
from daemon.org import Absence, OrgSettings, Person

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 10, 9, 10, 0, tzinfo=SH)


def person(key: str, role: str, department: str = "", manager: str | None = None) -> Person:
    return Person(key, key, f"{key}@dealer.test", role, department, manager)


# A dealership: advisor -> service manager -> service director -> general manager.
PEOPLE = (
    person("gm", "general_manager"),
    person("director", "service_director", "after_sales", "gm"),
    person("manager", "service_manager", "after_sales", "director"),
    person("advisor", "service_advisor", "after_sales", "manager"),
    person("care", "customer_care_manager", "customer_care", "gm"),
)
ORG = OrgSettings(people=PEOPLE)


def told(rungs: tuple[Rung, ...]) -> list[tuple[int, str]]:
    return [(r.step, r.person) for r in rungs]


def test_each_step_tells_its_configured_person() -> None:
    rungs = escalation_ladder("advisor", ORG, NOW)
    assert told(rungs) == [(1, "manager"), (2, "director"), (3, "gm")]


def test_when_the_manager_is_the_director_step_two_tells_nobody_new_and_step_three_the_gm() -> None:
    rungs = escalation_ladder("manager", ORG, NOW)
    assert told(rungs) == [(1, "director"), (2, ""), (3, "gm")]
    assert rungs[1].why == "director director already told at step 1"
    assert not rungs[1].unfilled


def test_a_longer_ladder_tells_the_general_manager_once() -> None:
    rungs = escalation_ladder("advisor", ORG, NOW, steps=5)
    assert told(rungs) == [(1, "manager"), (2, "director"), (3, "gm"), (4, ""), (5, "")]


def test_a_shorter_ladder_stops_before_the_general_manager() -> None:
    assert told(escalation_ladder("advisor", ORG, NOW, steps=2)) == [
        (1, "manager"),
        (2, "director"),
    ]


def test_someone_already_told_on_this_clock_is_not_told_again() -> None:
    rungs = escalation_ladder("advisor", ORG, NOW, told=frozenset({"director"}))
    assert told(rungs) == [(1, "manager"), (2, ""), (3, "gm")]
    assert "already told" in rungs[1].why


def test_a_step_that_reaches_the_handler_tells_nobody_and_is_no_warning() -> None:
    rungs = escalation_ladder("director", ORG, NOW)
    assert told(rungs) == [(1, "gm"), (2, ""), (3, "")]
    assert [r.unfilled for r in rungs] == [False, False, False]


def test_an_unfilled_director_is_a_step_to_nobody_that_warns() -> None:
    flat = tuple(replace(p, manager="gm") if p.key == "manager" else p for p in PEOPLE)
    org = replace(ORG, people=tuple(p for p in flat if p.key != "director"))
    rungs = escalation_ladder("advisor", org, NOW)
    assert told(rungs) == [(1, "manager"), (2, ""), (3, "gm")]
    assert rungs[1].unfilled and rungs[1].why == "no director above the handler"


def test_a_step_whose_person_is_named_and_has_nobody_above_warns() -> None:
    rungs = escalation_ladder("advisor", ORG, NOW, excluded=("gm",))
    assert rungs[2].person == "" and rungs[2].unfilled


def test_an_absent_directors_deputy_takes_the_step_with_the_delegation() -> None:
    leave = Absence(
        "director",
        datetime(2025, 10, 1, tzinfo=SH),
        datetime(2025, 10, 11, tzinfo=SH),
        "care",
        "国庆休假",
    )
    rungs = escalation_ladder("advisor", replace(ORG, absences=(leave,)), NOW)
    assert told(rungs) == [(1, "manager"), (2, "care"), (3, "gm")]
    (d,) = rungs[1].delegations
    assert (d.absent, d.deputy, d.until) == ("director", "care", leave.end)


def test_reminder_without_anyone_to_take_it_says_why() -> None:
    org = replace(ORG, people=tuple(p for p in PEOPLE if p.key != "care"))
    recipients, why = reminder_recipients(Holder("", "", ()), org, NOW)
    assert recipients == []
    assert why == "unassigned, and nobody holds role customer_care_manager"
