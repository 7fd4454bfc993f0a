"""Routing over a 4S-store org chart: handler, notices, deputies, confidentiality, escalation."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from daemon.ladder import escalation_chain, escalation_ladder
from daemon.names import named_people
from daemon.org import Absence, OrgSettings, Person, Role, RoutingRule
from daemon.orgcheck import check_org
from daemon.route import assign, present
from daemon.values import Classification, Delegation

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 6, 10, 0, tzinfo=SH)


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=SH)


def person(
    key: str,
    name: str,
    role: str,
    department: str = "",
    manager: str | None = None,
    aliases: tuple[str, ...] = (),
) -> Person:
    return Person(key, name, f"{key}@dealer.test", role, department, manager, aliases)


PEOPLE = (
    person("zhao_gang", "赵刚", "general_manager", aliases=("赵总",)),
    person("qian_hong", "钱红", "sales_director", "sales", "zhao_gang"),
    person("sun_wei", "孙伟", "service_director", "after_sales", "zhao_gang"),
    person("li_na", "李娜", "customer_service_director", "customer_care", "zhao_gang"),
    person("zhou_jie", "周杰", "customer_care_manager", "customer_care", "li_na"),
    person("wu_fang", "吴芳", "retail_manager", "sales", "qian_hong"),
    person(
        "zheng_hao",
        "郑浩",
        "service_manager",
        "after_sales",
        "sun_wei",
        aliases=("郑经理", "Kevin Zheng"),
    ),
    person("wang_lei", "王磊", "sales_consultant", "sales", "wu_fang", aliases=("Leo Wang",)),
    person("feng_yu", "冯宇", "service_advisor", "after_sales", "zheng_hao"),
    person("he_ping", "何平", "service_advisor", "after_sales", "zheng_hao"),
)

ROUTING = (
    # Manufacturer-system complaints stay with customer care, who owe the 30-minute response.
    RoutingRule("customer_care_manager", channel="manufacturer"),
    RoutingRule("retail_manager", department="sales"),
    RoutingRule("service_manager", department="after_sales"),
    RoutingRule("customer_care_manager"),
)

ORG = OrgSettings(people=PEOPLE, routing=ROUTING)


LEAVE_START = at(5, 1)
LEAVE_END = at(5, 8)


def away(
    who: str, deputy: str, start: datetime = LEAVE_START, end: datetime = LEAVE_END
) -> Absence:
    return Absence(who, start, end, deputy, "年假 annual leave")


def with_absences(*absences: Absence, org: OrgSettings = ORG) -> OrgSettings:
    return replace(org, absences=absences)


def complaint(
    category: str = "repair_quality", department: str = "after_sales", major: tuple[str, ...] = ()
) -> Classification:
    return Classification(category, department, "general", major, (), "zh-CN")


def email(key: str) -> str:
    return f"{key}@dealer.test"


# -- routing ------------------------------------------------------------------------------------


def test_after_sales_repair_complaint_goes_to_the_service_manager() -> None:
    a = assign(complaint(), "email", "保养后发动机还是异响", ORG, NOW)
    assert (a.handler, a.handler_email) == ("zheng_hao", email("zheng_hao"))
    assert a.rule.startswith("routing #3 (department=after_sales) -> service_manager")


def test_sales_complaint_goes_to_the_retail_manager() -> None:
    a = assign(complaint("service", "sales"), "email", "交车时间一拖再拖", ORG, NOW)
    assert a.handler == "wu_fang"


def test_customer_care_manager_is_informed_of_every_new_ticket() -> None:
    a = assign(complaint(), "email", "维修质量差", ORG, NOW)
    assert a.inform == (email("zhou_jie"),)


def test_manufacturer_channel_rule_wins_over_department() -> None:
    a = assign(complaint(), "manufacturer", "400投诉：维修质量差", ORG, NOW)
    assert a.handler == "zhou_jie"


def test_handler_who_is_also_the_care_manager_is_not_informed_twice() -> None:
    a = assign(complaint(), "manufacturer", "400投诉：维修质量差", ORG, NOW)
    assert a.inform == ()


def test_unmatched_complaint_falls_to_the_catch_all_rule() -> None:
    a = assign(complaint("other", "unknown"), "phone", "其它问题", ORG, NOW)
    assert a.handler == "zhou_jie"
    assert a.rule.startswith("routing #4 (any) -> customer_care_manager")


def test_no_delegations_or_exclusions_on_an_ordinary_day() -> None:
    a = assign(complaint(), "email", "维修质量差", ORG, NOW)
    assert (a.delegations, a.excluded) == ((), ())


# -- several holders of one role ----------------------------------------------------------------


SECOND_SERVICE_MANAGER = person("ma_li", "马丽", "service_manager", "", "sun_wei")
BODY_SHOP_MANAGER = person("tang_yu", "唐宇", "service_manager", "body_shop", "sun_wei")


def test_holder_in_the_complaints_department_is_preferred_over_one_listed_first() -> None:
    org = replace(ORG, people=(BODY_SHOP_MANAGER, SECOND_SERVICE_MANAGER, *PEOPLE))
    assert assign(complaint(), "email", "维修质量差", org, NOW).handler == "zheng_hao"


def test_holder_without_a_department_comes_before_one_of_another_department() -> None:
    org = replace(ORG, people=(BODY_SHOP_MANAGER, SECOND_SERVICE_MANAGER, *PEOPLE))
    # Deputies covering for each other: neither can take it, so a colleague does.
    org = with_absences(away("zheng_hao", "feng_yu"), away("feng_yu", "zheng_hao"), org=org)
    assert assign(complaint(), "email", "维修质量差", org, NOW).handler == "ma_li"


def test_configured_deputy_is_chosen_over_a_present_colleague_with_the_same_role() -> None:
    org = replace(ORG, people=(*PEOPLE, SECOND_SERVICE_MANAGER))
    org = with_absences(away("zheng_hao", "he_ping"), org=org)
    a = assign(complaint(), "email", "维修质量差", org, NOW)
    assert a.handler == "he_ping"
    assert [(d.absent, d.deputy, d.until) for d in a.delegations] == [
        ("zheng_hao", "he_ping", LEAVE_END)
    ]


def test_colleague_with_the_same_role_stands_in_when_the_deputy_is_away_too() -> None:
    org = replace(ORG, people=(*PEOPLE, SECOND_SERVICE_MANAGER))
    org = with_absences(away("zheng_hao", "he_ping"), away("he_ping", "zheng_hao"), org=org)
    a = assign(complaint(), "email", "维修质量差", org, NOW)
    assert a.handler == "ma_li"
    (d,) = a.delegations
    assert (d.absent, d.deputy, d.until) == ("zheng_hao", "ma_li", LEAVE_END)
    assert "no deputy available, same role (service_manager)" in d.reason


def test_colleague_with_the_same_role_stands_in_when_the_deputy_is_named() -> None:
    org = replace(ORG, people=(*PEOPLE, SECOND_SERVICE_MANAGER))
    org = with_absences(away("zheng_hao", "he_ping"), org=org)
    a = assign(complaint(), "email", "何平把我的车刮花了", org, NOW)
    assert (a.handler, [(d.absent, d.deputy) for d in a.delegations]) == (
        "ma_li",
        [("zheng_hao", "ma_li")],
    )


def test_a_named_holder_passes_up_the_line_not_to_a_colleague() -> None:
    org = replace(ORG, people=(*PEOPLE, SECOND_SERVICE_MANAGER))
    assert assign(complaint(), "email", "郑浩推脱", org, NOW).handler == "sun_wei"


# -- absence and deputies -----------------------------------------------------------------------


def test_absent_service_manager_is_replaced_by_the_deputy_and_the_delegation_recorded() -> None:
    org = with_absences(away("zheng_hao", "sun_wei"))
    a = assign(complaint(), "email", "维修质量差", org, NOW)
    assert a.handler == "sun_wei"
    assert a.delegations == (
        Delegation(
            "zheng_hao",
            "sun_wei",
            "年假 annual leave, 2026-05-01T00:00+08:00 to 2026-05-08T00:00+08:00",
            LEAVE_END,
        ),
    )


def test_deputy_whose_deputy_is_also_away_hands_on_again() -> None:
    org = with_absences(away("zheng_hao", "sun_wei"), away("sun_wei", "zhao_gang"))
    a = assign(complaint(), "email", "维修质量差", org, NOW)
    assert a.handler == "zhao_gang"
    assert [(d.absent, d.deputy) for d in a.delegations] == [
        ("zheng_hao", "sun_wei"),
        ("sun_wei", "zhao_gang"),
    ]


def test_absence_ends_at_its_end_time() -> None:
    org = with_absences(away("zheng_hao", "sun_wei", end=NOW))
    assert assign(complaint(), "email", "维修质量差", org, NOW).handler == "zheng_hao"


def test_absence_starts_at_its_start_time() -> None:
    org = with_absences(away("zheng_hao", "sun_wei", start=NOW))
    assert assign(complaint(), "email", "维修质量差", org, NOW).handler == "sun_wei"


def test_deputies_covering_for_each_other_fall_back_to_the_manager() -> None:
    org = with_absences(away("zheng_hao", "feng_yu"), away("feng_yu", "zheng_hao"))
    a = assign(complaint(), "email", "维修质量差", org, NOW)
    assert a.handler == "sun_wei"
    assert [(d.absent, d.deputy) for d in a.delegations] == [("zheng_hao", "sun_wei")]


def test_absent_care_manager_is_replaced_by_their_deputy_for_the_notice() -> None:
    org = with_absences(away("zhou_jie", "li_na"))
    a = assign(complaint(), "email", "维修质量差", org, NOW)
    assert a.inform == (email("li_na"),)
    assert [(d.absent, d.deputy) for d in a.delegations] == [("zhou_jie", "li_na")]


def test_present_follows_deputies_and_reports_each_hand_over() -> None:
    org = with_absences(away("feng_yu", "he_ping"), away("he_ping", "zheng_hao"))
    key, used = present("feng_yu", org, NOW, ())
    assert key == "zheng_hao"
    assert [(d.absent, d.deputy) for d in used] == [
        ("feng_yu", "he_ping"),
        ("he_ping", "zheng_hao"),
    ]


def test_present_finds_nobody_when_the_deputy_chain_loops() -> None:
    org = with_absences(away("feng_yu", "he_ping"), away("he_ping", "feng_yu"))
    assert present("feng_yu", org, NOW, ()) == ("", ())


def test_present_never_hands_work_to_an_excluded_deputy() -> None:
    org = with_absences(away("feng_yu", "he_ping"))
    assert present("feng_yu", org, NOW, ("he_ping",)) == ("", ())


# -- confidentiality ----------------------------------------------------------------------------


def test_named_employee_is_excluded() -> None:
    assert named_people("服务顾问冯宇态度恶劣", ORG) == ("feng_yu",)


def test_accused_default_handler_passes_the_ticket_to_their_manager() -> None:
    a = assign(complaint(), "email", "服务经理郑浩一直推脱不处理", ORG, NOW)
    assert a.handler == "sun_wei"
    assert a.excluded == ("zheng_hao",)
    assert "named in the complaint; passed up the line" in a.rule


def test_accused_default_handler_receives_no_notice() -> None:
    a = assign(complaint(major=("media",)), "email", "郑浩不处理，我要找记者曝光", ORG, NOW)
    assert email("zheng_hao") not in (a.handler_email, *a.inform)


def test_when_the_manager_is_named_too_the_ticket_goes_up_again() -> None:
    a = assign(complaint(), "email", "郑浩和孙伟互相推诿", ORG, NOW)
    assert a.handler == "zhao_gang"


def test_absent_handler_whose_deputy_is_accused_passes_up_to_the_manager() -> None:
    org = with_absences(away("zheng_hao", "feng_yu"))
    a = assign(complaint(), "email", "冯宇把我的车刮花了", org, NOW)
    assert a.handler == "sun_wei"
    assert all("feng_yu" not in (d.absent, d.deputy) for d in a.delegations)


def test_accused_named_by_alias_is_excluded() -> None:
    assert named_people("郑经理说这不归他管", ORG) == ("zheng_hao",)


def test_accused_named_by_email_address_in_any_case_is_excluded() -> None:
    assert named_people("I wrote to Feng_Yu@Dealer.TEST twice.", ORG) == ("feng_yu",)


def test_accused_named_by_english_name_in_any_case_is_excluded() -> None:
    for text in ("kevin zheng ignored me", "KEVIN  ZHENG ignored me", "我找了Kevin Zheng三次"):
        assert named_people(text, ORG) == ("zheng_hao",), text


def test_full_width_latin_name_is_recognised() -> None:
    assert named_people("ＬＥＯ ＷＡＮＧ骗我", ORG) == ("wang_lei",)


@pytest.mark.parametrize(
    "invisible",
    ["\u200b", "\u00ad", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad\u200b"],
    ids=["zero-width-space", "soft-hyphen", "zwnj", "zwj", "word-joiner", "bom", "two"],
)
def test_name_split_by_an_invisible_character_is_excluded(invisible: str) -> None:
    a = assign(complaint(), "email", f"服务经理郑{invisible}浩一直推脱不处理", ORG, NOW)
    assert a.excluded == ("zheng_hao",)
    assert email("zheng_hao") not in (a.handler_email, *a.inform)


def test_alias_split_by_a_soft_hyphen_is_excluded() -> None:
    assert named_people("Ke\u00advin Zh\u200beng never called back", ORG) == ("zheng_hao",)


def test_full_width_chinese_name_with_ideographic_space_is_excluded() -> None:
    assert named_people("郑\u3000浩不处理", ORG) == ("zheng_hao",)


def test_traditional_form_of_a_simplified_name_is_excluded() -> None:
    assert named_people("服務經理鄭浩一直推託", ORG) == ("zheng_hao",)


def test_simplified_form_of_a_traditional_name_in_the_chart_is_excluded() -> None:
    org = replace(ORG, people=(*PEOPLE, person("liu_dehua", "劉德華", "technician")))
    assert named_people("技师刘德华没有修好", org) == ("liu_dehua",)


def test_english_name_inside_a_longer_word_does_not_match() -> None:
    assert named_people("Kevin Zhengzhou branch was fine", ORG) == ()


def test_email_address_inside_a_longer_address_does_not_match() -> None:
    assert named_people("cc: xfeng_yu@dealer.test.cn", ORG) == ()


def test_name_inside_a_colleagues_longer_name_names_only_the_colleague() -> None:
    org = replace(
        ORG,
        people=(
            *PEOPLE,
            person("zhang_wei", "张伟", "technician"),
            person("zhang_weiming", "张伟明", "technician"),
        ),
    )
    assert named_people("技师张伟明没有修好", org) == ("zhang_weiming",)


def test_several_people_named_are_listed_in_chart_order() -> None:
    assert named_people("冯宇说去问王磊", ORG) == ("wang_lei", "feng_yu")


def test_accused_care_manager_is_replaced_by_their_manager_in_inform() -> None:
    a = assign(complaint(), "email", "客户关爱经理周杰从不回电话", ORG, NOW)
    assert a.inform == (email("li_na"),)


def test_accused_front_line_employee_does_not_change_the_handler() -> None:
    a = assign(complaint(), "email", "服务顾问冯宇态度恶劣", ORG, NOW)
    assert (a.handler, a.excluded) == ("zheng_hao", ("feng_yu",))


# -- major complaints ---------------------------------------------------------------------------


def test_major_complaint_informs_the_general_manager() -> None:
    a = assign(complaint(major=("media",)), "email", "再不处理我就找媒体曝光", ORG, NOW)
    assert a.inform == (email("zhou_jie"), email("zhao_gang"))


def test_major_complaint_informs_legal_too() -> None:
    org = replace(ORG, people=(*PEOPLE, person("lin_fa", "林法", "legal", "", "zhao_gang")))
    a = assign(complaint(major=("lawsuit",)), "email", "我要起诉", org, NOW)
    assert a.inform == (email("zhou_jie"), email("zhao_gang"), email("lin_fa"))
    assert a.unheard == ()


def test_major_complaint_with_nobody_in_legal_says_so() -> None:
    a = assign(complaint(major=("lawsuit",)), "email", "我要起诉", ORG, NOW)
    assert a.unheard == ("legal: nobody holds role legal",)


def test_ordinary_complaint_does_not_inform_the_general_manager() -> None:
    a = assign(complaint(), "email", "维修质量差", ORG, NOW)
    assert email("zhao_gang") not in a.inform


def test_major_complaint_naming_the_general_manager_informs_nobody_above() -> None:
    a = assign(complaint(major=("lawsuit",)), "email", "赵总亲口承诺的，我要起诉", ORG, NOW)
    assert a.inform == (email("zhou_jie"),)
    assert "general manager (general_manager) named in the complaint; nobody above" in a.rule


def test_absent_general_manager_is_replaced_by_their_deputy_for_a_major_complaint() -> None:
    org = with_absences(away("zhao_gang", "qian_hong"))
    a = assign(complaint(major=("media",)), "email", "找媒体曝光", org, NOW)
    assert email("qian_hong") in a.inform
    assert ("zhao_gang", "qian_hong") in [(d.absent, d.deputy) for d in a.delegations]


# -- escalation ---------------------------------------------------------------------------------


def test_escalation_goes_manager_then_director_then_general_manager() -> None:
    assert escalation_chain("feng_yu", ORG, NOW, ()) == ("zheng_hao", "sun_wei", "zhao_gang")


def test_escalation_skips_a_manager_who_is_also_the_director() -> None:
    assert escalation_chain("zheng_hao", ORG, NOW, ()) == ("sun_wei", "zhao_gang")


def test_escalation_from_a_director_goes_straight_to_the_general_manager() -> None:
    assert escalation_chain("sun_wei", ORG, NOW, ()) == ("zhao_gang",)


def test_escalation_from_the_general_manager_has_nowhere_to_go() -> None:
    assert escalation_chain("zhao_gang", ORG, NOW, ()) == ()


def test_escalation_replaces_an_absent_director_by_their_deputy() -> None:
    org = with_absences(away("sun_wei", "li_na"))
    assert escalation_chain("feng_yu", org, NOW, ()) == ("zheng_hao", "li_na", "zhao_gang")


def test_escalation_reports_the_delegations_it_used() -> None:
    org = with_absences(away("sun_wei", "li_na"))
    rungs = escalation_ladder("feng_yu", org, NOW, ())
    assert [(d.absent, d.deputy) for d in rungs[1].delegations] == [("sun_wei", "li_na")]


def test_escalation_never_reaches_an_excluded_manager() -> None:
    assert escalation_chain("feng_yu", ORG, NOW, ("zheng_hao",)) == ("sun_wei", "zhao_gang")


def test_escalation_skips_an_excluded_general_manager() -> None:
    assert escalation_chain("feng_yu", ORG, NOW, ("zhao_gang",)) == ("zheng_hao", "sun_wei")


def test_escalation_never_lands_on_the_handler_through_a_deputy() -> None:
    org = with_absences(away("sun_wei", "zheng_hao"))
    assert escalation_chain("zheng_hao", org, NOW, ()) == ("zhao_gang",)


def test_escalation_finds_the_departments_director_outside_the_management_line() -> None:
    flat = tuple(replace(p, manager="zhao_gang") if p.key == "zheng_hao" else p for p in PEOPLE)
    org = replace(ORG, people=flat)
    assert escalation_chain("zheng_hao", org, NOW, ()) == ("zhao_gang", "sun_wei")


# -- the empty chart ----------------------------------------------------------------------------


def test_default_settings_pass_the_check() -> None:
    assert check_org(OrgSettings()) == []


def test_empty_chart_files_the_ticket_with_nobody_assigned() -> None:
    a = assign(complaint(major=("media",)), "email", "找媒体曝光", OrgSettings(), NOW)
    assert (a.handler, a.handler_email, a.inform, a.excluded) == ("", "", (), ())
    assert a.rule == "org chart lists nobody; not assigned"


def test_empty_chart_has_no_escalation_ladder() -> None:
    assert escalation_chain("", OrgSettings(), NOW, ()) == ()


def test_unassigned_ticket_climbs_from_the_customer_care_manager() -> None:
    assert escalation_chain("", ORG, NOW, ()) == ("li_na", "zhao_gang")


def test_no_matching_rule_leaves_the_ticket_unassigned_but_informs_care() -> None:
    org = replace(ORG, routing=(RoutingRule("retail_manager", department="sales"),))
    a = assign(complaint(), "email", "维修质量差", org, NOW)
    assert (a.handler, a.inform) == ("", (email("zhou_jie"),))
    assert a.rule == "no routing rule matched; not assigned"


# -- checking the chart -------------------------------------------------------------------------


def problems_with(**changes: object) -> list[str]:
    return check_org(replace(ORG, **changes))  # type: ignore[arg-type]


def test_realistic_chart_passes_the_check() -> None:
    assert check_org(ORG) == []


def test_check_catches_an_unknown_manager() -> None:
    people = (*PEOPLE, person("lu_yi", "陆毅", "technician", manager="nobody"))
    assert problems_with(people=people) == [
        "[[org.people]] lu_yi: manager 'nobody' is not a person key"
    ]


def test_check_catches_a_manager_loop_once() -> None:
    people = tuple(replace(p, manager="feng_yu") if p.key == "zhao_gang" else p for p in PEOPLE)
    problems = problems_with(people=people)
    assert len(problems) == 1
    assert "manager chain loops" in problems[0]
    assert "zhao_gang" in problems[0] and "feng_yu" in problems[0]


def test_check_catches_a_person_managing_themselves() -> None:
    people = (*PEOPLE, person("lu_yi", "陆毅", "technician", manager="lu_yi"))
    assert problems_with(people=people) == ["[[org.people]] lu_yi: manager is themselves"]


def test_check_catches_an_unknown_deputy() -> None:
    assert problems_with(absences=(away("zheng_hao", "ghost"),)) == [
        "[[org.absences]] #1 (zheng_hao): deputy 'ghost' is not a person key"
    ]


def test_check_catches_an_absence_of_an_unknown_person() -> None:
    assert problems_with(absences=(away("ghost", "sun_wei"),)) == [
        "[[org.absences]] #1 (ghost): person 'ghost' is not a person key"
    ]


def test_check_catches_an_absence_without_a_utc_offset() -> None:
    naive = Absence("zheng_hao", datetime(2026, 5, 1), datetime(2026, 5, 8), "sun_wei")  # noqa: DTZ001 (a naive time on purpose)
    (problem,) = problems_with(absences=(naive,))
    assert problem.startswith("[[org.absences]] #1 (zheng_hao): start and end need a UTC offset")


def test_check_catches_an_absence_ending_before_it_starts() -> None:
    assert problems_with(absences=(away("zheng_hao", "sun_wei", at(5, 8), at(5, 1)),)) == [
        "[[org.absences]] #1 (zheng_hao): end is not after start"
    ]


def test_check_catches_routing_to_an_unknown_role() -> None:
    routing = (RoutingRule("retail_manger", department="sales"), *ROUTING)
    assert problems_with(routing=routing) == [
        "[[org.routing]] #1: role 'retail_manger' is not in [[org.roles]]"
    ]


def test_check_catches_a_one_character_alias() -> None:
    people = (*PEOPLE[:-1], replace(PEOPLE[-1], aliases=("何",)))
    (problem,) = problems_with(people=people)
    assert problem.startswith("[[org.people]] he_ping: name or alias '何' is shorter than 2")


def test_check_catches_a_two_letter_latin_alias() -> None:
    people = (*PEOPLE[:-1], replace(PEOPLE[-1], aliases=("He",)))
    (problem,) = problems_with(people=people)
    assert "alias 'He' is shorter than 3 letters" in problem


def test_check_catches_a_person_with_an_unknown_role() -> None:
    people = (*PEOPLE, person("lu_yi", "陆毅", "mechanic"))
    assert problems_with(people=people) == [
        "[[org.people]] lu_yi: role 'mechanic' is not in [[org.roles]]"
    ]


def test_check_catches_a_duplicate_person_key() -> None:
    people = (*PEOPLE, person("feng_yu", "冯雨", "technician"))
    assert problems_with(people=people) == ["[[org.people]] feng_yu: key listed more than once"]


def test_check_catches_a_person_without_an_email_address() -> None:
    people = (*PEOPLE[:-1], replace(PEOPLE[-1], email=""))
    assert problems_with(people=people) == ["[[org.people]] he_ping: email '' is not an address"]


def test_check_catches_rules_after_the_catch_all() -> None:
    routing = (*ROUTING, RoutingRule("retail_manager", department="sales"))
    assert problems_with(routing=routing) == [
        "[[org.routing]] #5: never used, an earlier rule matches everything"
    ]


def test_check_catches_a_routing_table_without_a_catch_all() -> None:
    (problem,) = problems_with(routing=ROUTING[:-1])
    assert problem.startswith("[[org.routing]]: the last rule should match everything")


def test_check_catches_an_unknown_director_role() -> None:
    assert problems_with(director_roles=("sales_director", "cfo")) == [
        "[org] director_roles: 'cfo' is not in [[org.roles]]"
    ]


def test_check_catches_a_role_listed_twice() -> None:
    roles = (*ORG.roles, Role("technician", "技师"))
    assert problems_with(roles=roles) == ["[[org.roles]] technician: listed more than once"]


# -- ambiguous titles ---------------------------------------------------------------------------

TWO_WANGS = replace(
    ORG, people=(*PEOPLE, person("wang_qiang", "王强", "sales_consultant", "sales", "wu_fang"))
)


def test_an_ambiguous_title_and_surname_is_carried_in_the_assignment() -> None:
    a = assign(complaint("service", "sales"), "email", "王经理说会退钱，没退", TWO_WANGS, NOW)
    assert [(u.term, u.people) for u in a.ambiguous] == [("王经理", ("wang_lei", "wang_qiang"))]
    assert a.excluded == ("wang_lei", "wang_qiang")


def test_the_assignment_names_the_care_manager_who_checks_an_ambiguous_name() -> None:
    a = assign(complaint("service", "sales"), "email", "王经理说会退钱", TWO_WANGS, NOW)
    assert a.care_email == email("zhou_jie")


def test_a_title_that_fits_one_person_is_no_ambiguity() -> None:
    a = assign(complaint("service", "sales"), "email", "王经理说会退钱，没退", ORG, NOW)
    assert (a.excluded, a.ambiguous) == (("wang_lei",), ())
