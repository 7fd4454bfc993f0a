"""The daemon's waits end when asked: a cancel that arrives just as the awaited event is set is
not lost (asyncio.wait_for on Python 3.11 loses it, and shutdown then hung)."""

from __future__ import annotations

import asyncio

from daemon.service import _sleep_unless


async def _wait_then_report(event: asyncio.Event, ran_on: list[bool]) -> None:
    await _sleep_unless(event, 60)
    ran_on.append(True)  # reached only when the cancel was lost


def test_a_cancel_arriving_as_the_event_is_set_ends_the_wait() -> None:
    async def scenario() -> tuple[bool, list[bool]]:
        event, ran_on = asyncio.Event(), []
        task = asyncio.create_task(_wait_then_report(event, ran_on))
        await asyncio.sleep(0)  # the task is now waiting
        event.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return task.cancelled(), ran_on

    cancelled, ran_on = asyncio.run(scenario())
    assert cancelled and not ran_on


def test_the_wait_returns_true_when_the_event_is_set_before_the_time() -> None:
    async def scenario() -> bool:
        event = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, event.set)
        return await _sleep_unless(event, 60)

    assert asyncio.run(scenario())


def test_the_wait_returns_false_when_the_time_runs_out() -> None:
    assert not asyncio.run(_sleep_unless(asyncio.Event(), 0.01))
