"""An http feed: the manufacturer's JSON endpoint, polled with a cursor (or since-timestamp),
page by page. Each page's records are committed before the next is asked for; the cursor moves
only after the poll's last page is committed, so a 500 or a timeout half way leaves it where it
was and the next poll asks again (records already filed are then unchanged, not duplicated)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from daemon.deps import Deps
from daemon.feeds import ingest
from daemon.feeds.client import PollFailed, client_for
from daemon.feeds.folder import SourceRecord
from daemon.feeds.records import Cell, parse_instant
from daemon.feeds.settings import FeedSettings
from daemon.store import writeback

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollReport:
    pages: int
    records: int
    cursor: str


def at_path(body: object, path: str) -> object:
    """The value at dotted keys `path` ("data.items") in a JSON body; "" is the body itself;
    None when a key is missing."""
    value = body
    for key in (k for k in path.split(".") if k):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def flat(record: Mapping[str, object], prefix: str = "") -> dict[str, Cell]:
    """A JSON object as one level of cells: a nested object's keys joined with dots
    ("customer.name"), a list kept as its JSON text."""
    out: dict[str, Cell] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = json.dumps(value, ensure_ascii=False)
        elif value is None or isinstance(value, str | int | float | bool):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def records_in(body: object, path: str, source: str) -> list[SourceRecord]:
    """The records of one response (or one webhook body): a list at `path`, or one object."""
    found = at_path(body, path)
    if isinstance(found, Mapping):
        found = [found]
    if not isinstance(found, list):
        where = f"at {path!r}" if path else "in the body"
        raise PollFailed(f"{source}: no list of records {where}")
    out = []
    for n, item in enumerate(found, start=1):
        # A record that is no object is still kept: read_record refuses it as drift, and the
        # quarantine shows what came.
        data: dict[str, Cell] = (
            flat(item) if isinstance(item, Mapping) else {"(not an object)": json.dumps(item)}
        )
        out.append(SourceRecord(f"{source} record {n}", data))
    return out


def newest_since(items: list[SourceRecord], key: str, zone: ZoneInfo, before: str) -> str:
    """The since-timestamp after these records: the newest value of `key`, as the source wrote
    it; `before` when none is newer."""
    best: tuple[datetime, str] | None = None
    if before:
        at = parse_instant(before, zone)
        best = (at, before) if at is not None else None
    for item in items:
        value = item.data.get(key)
        at = parse_instant(value, zone)
        if at is not None and (best is None or at > best[0]):
            best = (at, str(value))
    return best[1] if best is not None else before


async def _get(client: httpx.AsyncClient, url: str, params: Mapping[str, str]) -> httpx.Response:
    try:
        response = await client.get(url, params=params)
    except httpx.TimeoutException:
        raise PollFailed(f"{url}: no answer within {client.timeout.read}s") from None
    except httpx.HTTPError as exc:
        raise PollFailed(f"{url}: {type(exc).__name__}: {exc}") from None
    if not response.is_success:
        raise PollFailed(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
    return response


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise PollFailed(f"{response.url}: not JSON: {exc}") from None


async def poll(
    feed: FeedSettings, deps: Deps, on_page: Callable[[], None] = lambda: None
) -> PollReport:
    """One poll: every page from the saved cursor on, each page's records filed; the new
    cursor saved at the end. Raises PollFailed when the endpoint fails."""
    store = deps.store
    cursor = await asyncio.to_thread(writeback.cursor_of, store, feed.name)
    assert feed.url is not None  # checked for http feeds
    url = feed.url
    params: dict[str, str] = {feed.cursor_param: cursor} if feed.cursor_param and cursor else {}
    page, pages, count, after = feed.first_page, 0, 0, cursor
    async with client_for(feed) as client:
        while pages < feed.max_pages:
            if feed.page_param:
                params[feed.page_param] = str(page)
            response = await _get(client, url, params)
            body = _body(response)
            source = str(response.url)
            items = records_in(body, feed.records_path, source)
            if items:
                await asyncio.to_thread(ingest.ingest, items, feed, deps, source)
            pages, count = pages + 1, count + len(items)
            on_page()
            if feed.cursor_field:
                given = at_path(body, feed.cursor_field)
                after = str(given) if given not in (None, "") else after
            else:
                after = newest_since(items, feed.since_key, deps.settings.zone, after)
            if feed.page_param:
                if not items:
                    break
                page += 1
            elif feed.next_field:
                link = at_path(body, feed.next_field)
                if not link:
                    break
                url, params = str(response.url.join(str(link))), {}
            else:
                break
    if after != cursor:
        await asyncio.to_thread(writeback.save_cursor, store, feed.name, after)
    return PollReport(pages, count, after)


async def poll_feed(
    feed: FeedSettings, deps: Deps, on_page: Callable[[], None] = lambda: None
) -> PollReport:
    """poll(), its failure kept as the feed's last error (for `feeds status`) and raised on,
    so the worker retries with backoff."""
    try:
        return await poll(feed, deps, on_page)
    except PollFailed as exc:
        try:
            await asyncio.to_thread(ingest.record_failure, deps, feed.name, "poll", str(exc))
        except Exception:
            log.debug("feed %s: its failure not recorded", feed.name, exc_info=True)
        raise
