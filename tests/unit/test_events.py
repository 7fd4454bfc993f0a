"""Audit entries keep the kind strings and JSON shapes rows already stored have."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon import events
from daemon.values import Assignment, Classification, Delegation

DUE = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


def test_kind_strings_are_those_of_stored_rows() -> None:
    assert {k.value for k in events.Kind} == {
        "opened", "classified", "delegated", "excluded", "assigned", "transition", "followup",
        "held", "held-released", "held-dropped", "delivery-failed", "reminded", "breached",
        "severity-upgraded", "escalated", "reassigned", "ambiguous-name", "clock-moved", "unheard",
        "major-reported", "satisfaction", "customer-mail",
        "reply-applied", "reply-refused", "note", "manufacturer-updated", "zero-complaint",
        "retention",
    }  # fmt: skip


def test_a_breach_a_sweep_saw_has_no_at_stop_key() -> None:
    detail = events.Breached("first_contact", "r", DUE, "feng_yu", 60.0).as_json()
    assert detail == {
        "clock": "first_contact",
        "rule": "r",
        "due": "2026-11-23T04:00:00+00:00",
        "person": "feng_yu",
        "overdue_seconds": 60.0,
    }


def test_a_breach_met_late_says_so() -> None:
    detail = events.Breached("first_contact", "r", DUE, "", 60.0, at_stop=True).as_json()
    assert detail["at_stop"] is True


def test_a_delegation_names_the_notice_only_when_a_sweep_mailed_the_deputy() -> None:
    d = Delegation("wu", "feng_yu", "leave")
    assert events.Delegated(d).as_json() == {"absent": "wu", "deputy": "feng_yu", "reason": "leave"}
    assert events.Delegated(d, "reminder").as_json()["for"] == "reminder"


def test_classification_and_assignment_details() -> None:
    c = Classification("service", "after_sales", "strong", ("media",), (), "zh-CN", "rules")
    assert events.Classified(c).as_json() == {
        "category": "service",
        "department": "after_sales",
        "severity": "strong",
        "major": ["media"],
        "source": "rules",
    }
    a = Assignment("feng_yu", "f@x.example", ("care@x.example",), (), rule="by care")
    assert events.Assigned.of(a).as_json() == {
        "handler": "feng_yu",
        "inform": ["care@x.example"],
        "rule": "by care",
    }


def test_held_decisions_share_the_held_shape_under_their_own_kinds() -> None:
    released = events.HeldReleased(7, "not-a-party", "x@example.cn")
    assert released.kind is events.Kind.HELD_RELEASED
    assert released.as_json() == {"held": 7, "reason": "not-a-party", "sender": "x@example.cn"}
    assert events.HeldDropped(7, "r", "s").kind is events.Kind.HELD_DROPPED
