"""The complaintd command line: how sub-commands are registered and what an instant is called."""

from __future__ import annotations

import re

import pytest

from daemon.cli import build_parser


def test_sweep_takes_its_instant_as_at(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["sweep", "--at", "2026-11-23T12:01+08:00"])
    assert args.at == "2026-11-23T12:01+08:00"
    assert capsys.readouterr().err == ""


def test_sweep_still_takes_now_and_says_once_that_it_is_deprecated(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["sweep", "--now", "2026-11-23T12:01+08:00"])
    assert args.at == "2026-11-23T12:01+08:00"
    assert capsys.readouterr().err == "complaintd: --now is deprecated; use --at\n"


def test_the_deprecated_now_is_left_out_of_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sweep", "--help"])
    shown = capsys.readouterr().out
    assert "--at ISO-8601" in shown and "--now" not in shown


def test_tickets_act_and_sweep_name_an_instant_the_same_way() -> None:
    parser = build_parser()
    act = parser.parse_args(["tickets", "act", "TS-1", "contact", "--at", "2026-11-23T12:00"])
    sweep = parser.parse_args(["sweep", "--at", "2026-11-23T12:00"])
    assert act.at == sweep.at == "2026-11-23T12:00"


@pytest.mark.parametrize("action", ["list", "show", "act"])
def test_one_tickets_group_holds_the_actions_of_both_modules(action: str) -> None:
    extra = {"list": [], "show": ["TS-1"], "act": ["TS-1", "contact"]}[action]
    args = build_parser().parse_args(["tickets", action, *extra])
    assert (args.command, args.tickets_command) == ("tickets", action)
    assert callable(args.handler)


def test_the_top_level_help_lists_every_command_once_in_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    shown = capsys.readouterr().out
    listed = [m[1] for m in re.finditer(r"^    ([a-z][a-z-]*)", shown, re.MULTILINE)]
    assert listed == [
        "run", "check-config", "db", "replay", "tickets", "quarantine", "outbox",
        "held", "classify", "train", "status", "sweep", "report", "calendar", "feeds",
        "retention",
    ]  # fmt: skip


# Every command that lists or shows what the daemon holds, with the arguments it needs.
LISTINGS = [
    ["tickets", "list"],
    ["tickets", "show", "TS-1"],
    ["tickets", "act", "TS-1", "contact"],
    ["outbox", "list"],
    ["quarantine", "list"],
    ["quarantine", "show", "1"],
    ["quarantine", "retry", "--all"],
    ["held", "list"],
    ["held", "show", "1"],
    ["report", "missed"],
    ["report", "summary"],
    ["calendar", "show", "2027"],
    ["retention", "run"],
    ["status"],
]


@pytest.mark.parametrize("args", LISTINGS, ids=" ".join)
def test_every_listing_takes_json(args: list[str]) -> None:
    assert build_parser().parse_args([*args, "--json"]).json is True
