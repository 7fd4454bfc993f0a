"""A customer's later message read again for names: the exclusion grows, a named handler's ticket
moves up the line, and nobody is left handling a complaint about themselves."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from daemon import events
from daemon.confidential import recheck
from daemon.names import Ambiguity
from daemon.org import Absence, OrgSettings, Person
from daemon.values import Delegation

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 6, 10, 0, tzinfo=SH)


def person(key: str, name: str, role: str, department: str = "", manager: str = "") -> Person:
    return Person(key, name, f"{key}@dealer.test", role, department, manager or None)


ORG = OrgSettings(
    people=(
        person("zhao_gang", "赵刚", "general_manager"),
        person("li_na", "李娜", "customer_service_director", "customer_care", "zhao_gang"),
        person("zhou_jie", "周杰", "customer_care_manager", "customer_care", "li_na"),
        person("sun_li", "孙丽", "sales_director", "sales", "zhao_gang"),
        person("wu_fang", "吴芳", "retail_manager", "sales", "sun_li"),
        person("wang_lei", "王磊", "sales_consultant", "sales", "wu_fang"),
        person("wang_qiang", "王强", "sales_consultant", "sales", "wu_fang"),
    )
)


def test_naming_the_handler_moves_the_ticket_to_their_manager() -> None:
    check = recheck("wu_fang", (), "sales", "你们的吴芳答应给我回电话", ORG, NOW)
    assert check.handover is not None
    assert (check.handover.after, check.handover.after_email) == ("sun_li", "sun_li@dealer.test")
    assert check.excluded == ("wu_fang",)


def test_naming_the_handler_and_their_manager_moves_it_further_up() -> None:
    check = recheck("wu_fang", (), "sales", "吴芳和孙丽都不管", ORG, NOW)
    assert check.handover is not None and check.handover.after == "zhao_gang"


def test_an_absent_manager_hands_the_moved_ticket_to_their_deputy() -> None:
    leave = Absence("sun_li", datetime(2026, 5, 1, tzinfo=SH), datetime(2026, 5, 8, tzinfo=SH),
                    "li_na", "年假")  # fmt: skip
    org = OrgSettings(people=ORG.people, absences=(leave,))
    check = recheck("wu_fang", (), "sales", "吴经理不回电话", org, NOW)
    assert check.handover is not None and check.handover.after == "li_na"
    assert [(d.absent, d.deputy) for d in check.handover.delegations] == [("sun_li", "li_na")]
    assert all(isinstance(d, Delegation) for d in check.handover.delegations)


def test_a_named_general_manager_handler_passes_to_customer_care() -> None:
    check = recheck("zhao_gang", (), "sales", "赵总亲口答应的", ORG, NOW)
    assert check.handover is not None and check.handover.after == "zhou_jie"


def test_naming_another_employee_excludes_them_without_moving_the_ticket() -> None:
    check = recheck("wu_fang", (), "sales", "销售顾问王磊骗了我", ORG, NOW)
    assert (check.added, check.handover) == (("wang_lei",), None)


def test_naming_only_people_already_excluded_changes_nothing() -> None:
    check = recheck("sun_li", ("wu_fang",), "sales", "吴芳还是没打电话", ORG, NOW)
    assert not check.changed


def test_an_ambiguous_title_names_every_candidate_and_is_reported_once() -> None:
    first = recheck("wu_fang", (), "sales", "王顾问说下周到货", ORG, NOW)
    assert first.added == ("wang_lei", "wang_qiang")
    assert first.ambiguous == (Ambiguity("王顾问", ("wang_lei", "wang_qiang")),)
    again = recheck("wu_fang", first.excluded, "sales", "王顾问又没来", ORG, NOW)
    assert (again.changed, again.ambiguous) == (False, ())


def test_nobody_left_to_take_it_leaves_the_ticket_unassigned() -> None:
    everyone = tuple(p.key for p in ORG.people if p.key != "wu_fang")
    check = recheck("wu_fang", everyone, "sales", "吴芳不管", ORG, NOW)
    assert check.handover is not None
    assert (check.handover.after, check.handover.after_email) == ("", "")


def test_the_audit_entries_of_a_move_and_an_ambiguity_keep_their_shapes() -> None:
    moved = events.Reassigned("wu_fang", "sun_li", "named")
    unsure = events.AmbiguousName("王经理", ("wang_lei", "wang_qiang"))
    assert (moved.kind.value, moved.as_json()) == (
        "reassigned",
        {"from": "wu_fang", "to": "sun_li", "why": "named"},
    )
    assert (unsure.kind.value, unsure.as_json()) == (
        "ambiguous-name",
        {"term": "王经理", "people": ["wang_lei", "wang_qiang"]},
    )
