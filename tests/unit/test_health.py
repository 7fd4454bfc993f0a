"""In-memory health: what counts as progress, stuck and alarming; outages logged once; a
supervised worker restarted after it dies."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from daemon.health import (
    MAILBOX,
    MAILDIR,
    Health,
    Outage,
    SourceState,
    alert_reason,
    stuck_reason,
)
from daemon.service import supervise

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LIMIT = timedelta(seconds=300)
ALERT = timedelta(minutes=15)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- stuck -----------------------------------------------------------------------------------


def test_a_source_busy_on_one_message_past_the_limit_is_stuck() -> None:
    state = SourceState("box", MAILBOX, busy_since=at(0), heartbeat_at=at(0))
    assert stuck_reason(state, at(301), LIMIT) == "busy on one item for 301s"
    assert stuck_reason(state, at(299), LIMIT) is None


def test_an_idle_mailbox_that_keeps_beating_is_not_stuck() -> None:
    health = Health()
    for second in range(0, 900, 5):
        health.alive("box", at(second))
    assert health.stuck(at(900), LIMIT) == []


def test_a_connected_mailbox_that_stops_beating_is_stuck() -> None:
    health = Health()
    health.connected("box", at(0))
    health.alive("box", at(1))
    assert health.stuck(at(302), LIMIT) == [("box", "silent for 301s")]


def test_a_failing_mailbox_waiting_out_its_backoff_is_not_stuck() -> None:
    health = Health()
    health.alive("box", at(0))
    health.failed("box", at(1), "connection refused")
    assert health.stuck(at(1000), LIMIT) == []


def test_a_source_that_never_beats_is_judged_only_by_its_work_in_hand() -> None:
    health = Health()
    health.idle("[sweep]", "sweep", at(0))
    assert health.stuck(at(10_000), LIMIT) == []


# --- progress and failure --------------------------------------------------------------------


def test_a_message_in_hand_counts_as_waiting_until_it_is_handled() -> None:
    health = Health()
    health.busy("[maildir]", MAILDIR, at(0), message=True)
    assert health.get("[maildir]") == SourceState(
        "[maildir]", MAILDIR, waiting=1, busy_since=at(0), heartbeat_at=at(0), changed_at=at(0)
    )
    health.handled("[maildir]", MAILDIR, at(2))
    state = health.get("[maildir]")
    assert state is not None
    assert (state.waiting, state.busy_since, state.last_progress_at) == (0, None, at(2))


def test_a_run_of_failures_keeps_the_time_it_started() -> None:
    health = Health()
    health.failed("box", at(0), "timed out")
    health.failed("box", at(30), "connection refused")
    state = health.get("box")
    assert state is not None
    assert state.failing_since == at(0)
    assert state.last_error == "connection refused"
    assert state.connected is False


def test_a_look_that_finds_the_folder_caught_up_ends_the_failure_and_is_progress() -> None:
    health = Health()
    health.failed("box", at(0), "timed out")
    health.fetched("box", at(5), 0)
    state = health.get("box")
    assert state is not None
    assert (state.failing_since, state.last_progress_at, state.connected) == (None, at(5), True)


def test_news_is_told_when_a_source_appears_connects_or_fails_not_on_every_heartbeat() -> None:
    told: list[int] = []
    health = Health(on_news=lambda: told.append(1))
    health.alive("box", at(0))  # appears
    health.connected("box", at(1))
    for second in range(2, 60, 5):
        health.alive("box", at(second))
    health.fetched("box", at(60), 0)
    health.failed("box", at(61), "timed out")
    health.failed("box", at(62), "timed out")
    assert len(told) == 3


def test_a_bad_report_is_dropped_not_raised() -> None:
    health = Health()
    health.fetched("box", at(0), "many")  # type: ignore[arg-type]
    assert health.get("box") is None


# --- status's alarm --------------------------------------------------------------------------


def test_status_alarms_once_a_source_has_failed_for_the_alert_time() -> None:
    assert alert_reason(at(0), None, 0, at(899), ALERT) is None
    assert alert_reason(at(0), None, 0, at(900), ALERT) == "failing for 900s"


def test_status_alarms_when_work_waits_without_progress_for_the_alert_time() -> None:
    assert alert_reason(None, at(0), 3, at(900), ALERT) == "3 waiting and no progress for 900s"
    assert alert_reason(None, at(0), 3, at(899), ALERT) is None


def test_a_source_with_nothing_waiting_is_fine_however_long_it_has_been_quiet() -> None:
    assert alert_reason(None, at(0), 0, at(86_400), ALERT) is None


# --- outages are logged once -----------------------------------------------------------------


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage("database", logging.getLogger("test.outage"))
    with caplog.at_level(logging.DEBUG, logger="test.outage"):
        outage.ok(at(0))
        for second in range(10):
            outage.failed(f"error {second % 3}", at(second))
        outage.ok(at(40))
        outage.ok(at(41))

    loud = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert loud == [
        ("WARNING", "database failing: error 0 (retrying with backoff)"),
        ("INFO", "database working again after 10 failed attempts (40s)"),
    ]


def test_an_outage_told_to_log_each_new_error_logs_a_changed_error_at_its_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage("inbox", logging.getLogger("test.outage"), each_new_error=True)
    with caplog.at_level(logging.DEBUG, logger="test.outage"):
        logged = [
            outage.failed("connection refused", at(0)),
            outage.failed("connection refused", at(1)),
            outage.failed("login refused", at(2), level=logging.ERROR),
            outage.failed("login refused", at(3), level=logging.ERROR),
        ]
    loud = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert logged == [True, False, True, False]
    assert loud == [
        ("WARNING", "inbox failing: connection refused (retrying with backoff)"),
        ("ERROR", "inbox failing: login refused (retrying with backoff)"),
    ]
    assert (outage.since, outage.failures) == (at(0), 4)


def test_the_end_of_an_outage_carries_what_the_caller_adds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage("mail server", logging.getLogger("test.outage"))
    with caplog.at_level(logging.INFO, logger="test.outage"):
        outage.failed("connection refused", at(0))
        outage.ok(at(30), "7 mails waiting")
    assert caplog.records[-1].getMessage() == (
        "mail server working again after 1 failed attempts (30s): 7 mails waiting"
    )


# --- supervision -----------------------------------------------------------------------------


def test_a_worker_that_dies_is_restarted_with_capped_backoff_until_stop() -> None:
    health = Health()
    calls: list[float] = []

    async def main() -> None:
        stop = asyncio.Event()

        async def work() -> None:
            calls.append(time.monotonic())
            if len(calls) < 3:
                raise RuntimeError("thread died")
            stop.set()

        await asyncio.wait_for(
            supervise("box", MAILBOX, work, health, stop, lambda: datetime.now(UTC), 1.0), 10
        )

    asyncio.run(main())

    assert len(calls) == 3
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(0.9 < gap < 1.5 for gap in gaps), gaps  # 1 s, then capped at 1 s
    state = health.get("box")
    assert state is not None and state.last_error == "RuntimeError: thread died"
