"""Write-back: when a manufacturer case's ticket is acknowledged, contacted or resolved, its new
status is posted to the manufacturer. The post is queued here, in the transaction that made the
change (so it exists exactly when the change does, across restarts); feeds.posting sends it."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from daemon.deps import Deps
from daemon.feeds.settings import FeedSettings
from daemon.store import writeback
from daemon.store.cases import case_of_ticket

log = logging.getLogger(__name__)


def writeback_feed(deps: Deps, oem: str, named: str) -> FeedSettings | None:
    """The feed a case's posts go through: the one that last described it when it writes
    back, else another feed of the same manufacturer that does."""
    feeds = [f for f in deps.settings.feeds if f.oem == oem and f.writeback_url]
    return next((f for f in feeds if f.name == named), feeds[0] if feeds else None)


def on_transition(
    session: Session, deps: Deps, ticket_id: int, number: str, status: str, now: datetime
) -> None:
    """Queue the post of a ticket's new status when it is a case whose feed writes back."""
    if not any(f.writeback_url for f in deps.settings.feeds):
        return  # no feed writes back: no need to look the case up on every transition
    case = case_of_ticket(session, ticket_id)
    if case is None:
        return
    feed = writeback_feed(deps, case.oem, case.feed)
    if feed is None or status not in feed.writeback_statuses:
        return
    body: dict[str, object] = {
        "oem": case.oem,
        "case_id": case.case_id,
        "status": feed.writeback_statuses[status],
        "dealer_status": status,
        "ticket": number,
        "at": now.isoformat(),
    }
    writeback.enqueue(session, feed.name, ticket_id, case.case_id, status, body, now)
    log.info("%s %s queued for the manufacturer (%s %s)", number, status, case.oem, case.case_id)
