"""Posting the queued write-backs (feeds.writeback) to the manufacturers: a refusal (4xx) marks a
post failed for `complaintd feeds status`, anything else is retried with backoff. Kept apart from
the queue so that filing, which queues posts, does not load the HTTP client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

import httpx

from daemon.deps import Deps
from daemon.feeds.client import PollFailed, client_for
from daemon.feeds.settings import FeedSettings
from daemon.store import writeback

log = logging.getLogger(__name__)

# A post taken by a worker is left to others after this long (the worker died meanwhile).
_LEASE = timedelta(minutes=5)
# Refusals that are worth asking again: the manufacturer timed out or asks us to slow down.
_TRANSIENT_4XX = (408, 425, 429)


def backoff(feed: FeedSettings, attempts: int) -> timedelta:
    """How long after its `attempts`-th failure a post is tried again: doubling, capped."""
    seconds = feed.writeback_retry_initial_seconds * 2 ** min(attempts - 1, 30)
    return timedelta(seconds=min(seconds, feed.writeback_retry_max_seconds))


async def deliver_due(
    deps: Deps, stop: asyncio.Event, on_post: Callable[[], None] = lambda: None
) -> int:
    """Send every post due now, oldest first, until none is left or `stop`; how many were
    tried. A post in hand at `stop` is finished; the rest wait in the table."""
    tried = 0
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        while not stop.is_set():
            due = await asyncio.to_thread(writeback.claim, deps.store, deps.clock(), _LEASE)
            if not due:
                break
            for post in due:
                if stop.is_set():
                    # Not sent: free it for the next run at once rather than after the lease.
                    await asyncio.to_thread(writeback.release, deps.store, post.id)
                    continue
                await _send(post, deps, clients)
                tried += 1
                on_post()
    finally:
        for client in clients.values():
            await client.aclose()
    return tried


async def _send(post: writeback.Post, deps: Deps, clients: dict[str, httpx.AsyncClient]) -> None:
    store = deps.store
    feed = next((f for f in deps.settings.feeds if f.name == post.feed), None)
    if feed is None or not feed.writeback_url:
        why = f"feed {post.feed} no longer writes back (not in [[feeds]] with writeback_url)"
        await asyncio.to_thread(writeback.failed, store, post.id, why)
        log.warning("write-back %d (%s) failed: %s", post.id, post.case_id, why)
        return
    url = feed.writeback_url.replace("{case_id}", quote(post.case_id, safe=""))
    try:
        client = clients.get(feed.name) or clients.setdefault(feed.name, client_for(feed))
        response = await client.post(url, json=post.body)
    except (httpx.HTTPError, PollFailed) as exc:
        detail = "no answer in time" if isinstance(exc, httpx.TimeoutException) else str(exc)
        await _again(post, feed, deps, f"{type(exc).__name__}: {detail}")
        return
    code = response.status_code
    if response.is_success:
        await asyncio.to_thread(writeback.sent, store, post.id, deps.clock())
        log.info("write-back %d: %s %s posted to %s", post.id, post.case_id, post.status,
                 feed.oem)  # fmt: skip
    elif 400 <= code < 500 and code not in _TRANSIENT_4XX:
        why = f"HTTP {code} {response.reason_phrase}: {response.text[:300]}"
        await asyncio.to_thread(writeback.failed, store, post.id, why)
        log.warning("write-back %d (%s %s) refused by %s: %s", post.id, post.case_id,
                    post.status, feed.oem, why)  # fmt: skip
    else:
        await _again(post, feed, deps, f"HTTP {code} {response.reason_phrase}")


async def _again(post: writeback.Post, feed: FeedSettings, deps: Deps, error: str) -> None:
    wait = backoff(feed, post.attempts + 1)
    at = deps.clock() + wait
    await asyncio.to_thread(writeback.retry, deps.store, post.id, at, error)
    log.warning("write-back %d (%s %s) not taken: %s; again in %.0fs", post.id, post.case_id,
                post.status, error, wait.total_seconds())  # fmt: skip
