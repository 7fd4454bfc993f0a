"""The org chart check: mistakes refuse the file, unfilled roles only warn and say what will
then reach nobody."""

from __future__ import annotations

from dataclasses import replace

from daemon.org import OrgSettings, Person, RoutingRule
from daemon.orgcheck import check_org, org_warnings


def person(
    key: str, name: str, role: str, department: str = "", manager: str | None = None
) -> Person:
    return Person(key, name, f"{key}@dealer.test", role, department, manager)


# One of each role a dealership's escalations and reports rely on.
FULL = (
    person("gm", "赵刚", "general_manager"),
    person("counsel", "林娜", "legal", manager="gm"),
    person("cs_director", "李娜", "customer_service_director", "customer_care", "gm"),
    person("care", "周杰", "customer_care_manager", "customer_care", "cs_director"),
    person("sales_director", "钱红", "sales_director", "sales", "gm"),
    person("retail", "吴芳", "retail_manager", "sales", "sales_director"),
    person("service_director", "孙伟", "service_director", "after_sales", "gm"),
    person("service", "郑浩", "service_manager", "after_sales", "service_director"),
)


def without(*keys: str) -> OrgSettings:
    people = tuple(p for p in FULL if p.key not in keys)
    return OrgSettings(
        people=tuple(replace(p, manager=None) if p.manager in keys else p for p in people)
    )


def test_a_chart_with_every_role_filled_has_no_warning() -> None:
    assert org_warnings(OrgSettings(people=FULL)) == []


def test_a_chart_of_one_person_is_not_refused() -> None:
    assert check_org(OrgSettings(people=(person("service", "郑浩", "service_manager"),))) == []


def test_a_chart_of_one_person_warns_of_each_role_nobody_holds() -> None:
    warnings = org_warnings(OrgSettings(people=(person("service", "郑浩", "service_manager"),)))
    assert len(warnings) == 9
    assert not any("service_manager" in w for w in warnings)


def test_no_general_manager_warns_that_major_complaints_reach_nobody() -> None:
    (warning,) = org_warnings(without("gm"))
    assert warning.startswith("no general_manager: major complaints reach nobody")


def test_no_legal_warns_that_major_complaints_are_not_reported_to_legal() -> None:
    assert org_warnings(without("counsel")) == [
        "no legal: major complaints are not reported to legal"
    ]


def test_an_unfilled_role_of_the_default_routing_names_the_default_table() -> None:
    warnings = org_warnings(without("retail"))
    assert warnings == [
        "nobody holds retail_manager: sales complaints go unassigned (default routing #1)"
    ]


def test_an_unfilled_role_of_written_routing_names_the_rule() -> None:
    routing = (
        RoutingRule("customer_care_manager", channel="manufacturer"),
        RoutingRule("showroom_manager", category="service", department="sales"),
        RoutingRule("customer_care_manager"),
    )
    warnings = org_warnings(OrgSettings(people=FULL, routing=routing))
    assert warnings == [
        "nobody holds showroom_manager: service sales complaints go unassigned (routing #2)"
    ]


def test_no_care_manager_warns_of_the_catch_all_rule_and_of_new_tickets_unannounced() -> None:
    routing, told = org_warnings(without("care"))
    assert routing == (
        "nobody holds customer_care_manager: all other complaints go unassigned "
        "(default routing #3)"
    )
    assert told == "no customer_care_manager: nobody in customer care is told of new tickets"


def test_no_customer_service_director_warns_that_escalations_lack_the_third_party() -> None:
    warnings = org_warnings(without("cs_director"))
    assert "no customer_service_director: escalations are not copied to a neutral third party" in (
        warnings
    )


def test_an_empty_chart_is_accepted_with_one_warning_that_nobody_is_assigned() -> None:
    assert check_org(OrgSettings()) == []
    (warning,) = org_warnings(OrgSettings())
    assert "nobody" in warning and "unassigned" in warning


def test_routing_to_a_role_that_does_not_exist_is_still_an_error() -> None:
    routing = (RoutingRule("retail_manger", department="sales"), RoutingRule("service_manager"))
    assert check_org(OrgSettings(people=FULL, routing=routing)) == [
        "[[org.routing]] #1: role 'retail_manger' is not in [[org.roles]]"
    ]
    assert org_warnings(OrgSettings(people=FULL, routing=routing)) == []


def test_a_legal_role_that_does_not_exist_is_an_error() -> None:
    assert check_org(OrgSettings(people=FULL, legal_role="lawyer")) == [
        "[org] legal_role: 'lawyer' is not in [[org.roles]]"
    ]


def test_a_notice_language_the_templates_do_not_have_is_an_error() -> None:
    people = (replace(FULL[0], language="fr"), *FULL[1:])
    expected = (
        "[[org.people]] gm: language 'fr' is not one of zh-CN, zh-TW, en "
        "(leave it out for [service] default_language)"
    )
    assert check_org(OrgSettings(people=people)) == [expected]


def test_each_shipped_notice_language_is_accepted() -> None:
    for language in ("zh-CN", "zh-TW", "en"):
        people = (replace(FULL[0], language=language), *FULL[1:])
        assert check_org(OrgSettings(people=people)) == []
