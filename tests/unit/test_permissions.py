"""Who may give which reply command: everyone the work, customer care the verdict and the end."""

from __future__ import annotations

from daemon.permissions import CALLBACK_ROLE, EVERYONE, may, refused, table
from daemon.replycommands import Kind

CARE = ("customer_care_manager", CALLBACK_ROLE)


def test_a_handler_may_record_the_work() -> None:
    allowed = table({}, CARE)
    work = (Kind.ACK, Kind.CONTACTED, Kind.RESOLVED, Kind.REPLY, Kind.ASSIGN, Kind.ESCALATE)
    assert refused(work, "service_manager", allowed) == ()


def test_only_customer_care_confirms_the_callback_closes_and_reopens() -> None:
    allowed = table({}, CARE)
    ending = (Kind.CALLBACK, Kind.CLOSE, Kind.REOPEN)
    assert refused(ending, "service_manager", allowed) == ending
    assert refused(ending, "customer_care_manager", allowed) == ()
    assert refused(ending, CALLBACK_ROLE, allowed) == ()


def test_config_replaces_the_roles_of_the_kinds_it_names_only() -> None:
    allowed = table({"close": ("general_manager",), "pause": ("service_manager",)}, CARE)
    assert may(Kind.CLOSE, "general_manager", allowed)
    assert not may(Kind.CLOSE, "customer_care_manager", allowed)
    assert not may(Kind.PAUSE, "technician", allowed)
    assert may(Kind.REOPEN, "customer_care_manager", allowed)


def test_everyone_means_anyone_in_the_chart() -> None:
    allowed = table({"close": (EVERYONE,)}, CARE)
    assert may(Kind.CLOSE, "technician", allowed)


def test_each_refused_kind_is_named_once_in_order() -> None:
    allowed = table({}, CARE)
    kinds = (Kind.CLOSE, Kind.ACK, Kind.REOPEN, Kind.CLOSE)
    assert refused(kinds, "service_manager", allowed) == (Kind.CLOSE, Kind.REOPEN)
