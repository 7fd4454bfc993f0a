"""A webhook feed: the manufacturer pushes cases to a small HTTP receiver in the daemon's own
event loop. Deliveries are signed the Standard Webhooks way (webhook-id, webhook-timestamp,
webhook-signature = "v1,<base64 HMAC-SHA256 of 'id.timestamp.body'>"); each is answered 2xx only
after its records are committed, 4xx when it is not signed right, stale or not JSON (kept in the
quarantine when the body is readable), 503 when the database is down, so the sender retries."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from daemon.config import ConfigError, resolve_secret
from daemon.deps import Deps
from daemon.feeds import ingest
from daemon.feeds.client import PollFailed
from daemon.feeds.http import records_in
from daemon.feeds.records import FEED_ORIGIN
from daemon.feeds.settings import FeedSettings
from daemon.health import describe
from daemon.store import records, writeback
from daemon.values import RawMail

log = logging.getLogger(__name__)

# A delivery larger than this is refused before it is read whole.
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a delivery is refused: the HTTP status and a short reason key."""

    status: int
    reason: str  # bad-signature | stale-timestamp | missing-headers | bad-json | no-records
    detail: str


def secret_bytes(secret: str) -> bytes:
    """The signing key of a `whsec_<base64>` secret (a plain base64 one works too)."""
    text = secret.strip().removeprefix("whsec_")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("the webhook secret is not whsec_ followed by base64") from None


def sign(key: bytes, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The v1 signature of one delivery, as the sender puts it in webhook-signature."""
    content = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    key: bytes,
    delivery_id: str,
    timestamp: str,
    signatures: str,
    body: bytes,
    now: datetime,
    tolerance_seconds: int,
) -> Refusal | None:
    """None when the delivery is signed with `key` and recent; else why not. The timestamp is
    checked after the signature, so an unsigned body learns nothing of our clock."""
    if not (delivery_id and timestamp and signatures):
        return Refusal(400, "missing-headers", "webhook-id, -timestamp and -signature needed")
    expected = sign(key, delivery_id, timestamp, body)
    # The header may carry several signatures (a key being rotated): one match is enough.
    if not any(hmac.compare_digest(expected, s) for s in signatures.split() if s):
        return Refusal(401, "bad-signature", "no v1 signature matches the feed's secret")
    try:
        sent_at = int(timestamp)
    except ValueError:
        return Refusal(400, "stale-timestamp", f"webhook-timestamp {timestamp[:40]!r} is no number")
    off = abs(now.timestamp() - sent_at)
    if off > tolerance_seconds:
        return Refusal(400, "stale-timestamp", f"signed {off:.0f}s away from now")
    return None


class Receiver:
    """One webhook feed's deliveries: checked, filed, answered."""

    def __init__(self, feed: FeedSettings, deps: Deps, hooks: Hooks) -> None:
        self.feed = feed
        self.deps = deps
        self._hooks = hooks
        what = f"[[feeds]] {feed.name} secret"
        secret = resolve_secret(feed.secret_env, feed.secret_file, what)
        if not secret:
            raise ConfigError(f"{what}: empty")
        self._key = secret_bytes(secret)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        delivery_id = request.headers.get("webhook-id", "")
        refused = verify(
            self._key,
            delivery_id,
            request.headers.get("webhook-timestamp", ""),
            request.headers.get("webhook-signature", ""),
            body,
            self.deps.clock(),
            self.feed.tolerance_seconds,
        )
        if refused is None:
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                refused = Refusal(400, "bad-json", f"not JSON: {exc}")
        if refused is not None:
            return await self._refuse(refused, delivery_id, body)
        source = f"webhook {delivery_id}"
        try:
            items = records_in(data, self.feed.records_path, source)
        except PollFailed as exc:
            return await self._refuse(Refusal(400, "no-records", str(exc)), delivery_id, body)
        try:
            if await asyncio.to_thread(writeback.delivery_seen, self.deps.store, self.feed.name,
                                       delivery_id):  # fmt: skip
                log.info("feed %s: %s is a replay; answered, not filed", self.feed.name, source)
                return web.json_response({"duplicate": True})
            report = await asyncio.to_thread(ingest.ingest, items, self.feed, self.deps, source)
            await asyncio.to_thread(
                writeback.delivery_taken,
                self.deps.store,
                self.feed.name,
                delivery_id,
                self.deps.clock(),
            )
        except Exception as exc:
            # The database (or our own code) failed: nothing is committed, and the sender's
            # retry will bring the delivery again.
            log.exception("feed %s: %s not filed; answered 503", self.feed.name, source)
            self._hooks.failed(describe(exc))
            raise web.HTTPServiceUnavailable(text="not stored; try again later") from None
        self._hooks.delivered()
        return web.json_response(
            {"imported": report.imported, "updated": report.updated, "quarantined": report.refused}
        )

    async def _refuse(self, why: Refusal, delivery_id: str, body: bytes) -> web.Response:
        log.warning("feed %s: delivery %r refused: %s (%s)", self.feed.name, delivery_id[:80],
                    why.reason, why.detail)  # fmt: skip
        if _readable(body):
            try:
                await asyncio.to_thread(self._quarantine, why, delivery_id, body)
            except Exception:
                log.warning("feed %s: refused delivery not quarantined", self.feed.name,
                            exc_info=True)  # fmt: skip
        return web.json_response({"error": why.reason, "detail": why.detail}, status=why.status)

    def _quarantine(self, why: Refusal, delivery_id: str, body: bytes) -> None:
        now = self.deps.clock()
        sha256 = hashlib.sha256(self.feed.name.encode() + b"\0" + body).hexdigest()
        origin = f"{FEED_ORIGIN}{self.feed.name}: webhook {delivery_id[:200]}"
        with self.deps.store.transaction() as session:
            if records.quarantine_seen(session, sha256):
                return
            detail = f"feed {self.feed.name}: {why.detail}"
            records.quarantine(session, RawMail(body, origin, now), sha256, why.reason, detail, now)


def _readable(body: bytes) -> bool:
    if not body:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Hooks:
    """What the receiver tells its owner (the daemon's health): listening, a delivery filed,
    a delivery that could not be."""

    listening: Callable[[], None] = lambda: None
    delivered: Callable[[], None] = lambda: None
    failed: Callable[[str], None] = lambda error: None


async def serve(feed: FeedSettings, deps: Deps, stop: asyncio.Event, hooks: Hooks) -> None:
    """Receive the feed's deliveries on its address until `stop`."""
    receiver = Receiver(feed, deps, hooks)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(feed.listen_path, receiver.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, feed.listen_host, feed.listen_port)
        await site.start()
        log.info("feed %s: receiving webhooks on %s:%d%s", feed.name, feed.listen_host,
                 feed.listen_port, feed.listen_path)  # fmt: skip
        hooks.listening()
        await stop.wait()
    finally:
        await runner.cleanup()
