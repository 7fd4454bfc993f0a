"""The HTTP client a feed talks to its manufacturer with (polls and write-back posts): its
token or basic auth, read when needed, and its timeout."""

from __future__ import annotations

import httpx

from daemon.config import ConfigError, resolve_secret
from daemon.feeds.settings import FeedSettings


class PollFailed(Exception):
    """The endpoint did not give a page of records: its answer or its silence, in one line."""


def auth_of(feed: FeedSettings) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    """The headers and basic auth a feed's requests carry (its write-back posts too)."""
    what = f"[[feeds]] {feed.name}"
    try:
        token = resolve_secret(feed.token_env, feed.token_file, f"{what} token")
        password = resolve_secret(feed.password_env, feed.password_file, f"{what} password")
    except ConfigError as exc:
        raise PollFailed(str(exc)) from None
    headers = {"Accept": "application/json"}
    if token:
        headers[feed.token_header] = f"{feed.token_prefix}{token}"
    basic = httpx.BasicAuth(feed.username, password or "") if feed.username else None
    return headers, basic


def client_for(feed: FeedSettings) -> httpx.AsyncClient:
    headers, basic = auth_of(feed)
    return httpx.AsyncClient(
        headers=headers, auth=basic, timeout=feed.timeout_seconds, follow_redirects=True
    )
