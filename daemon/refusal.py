"""What becomes of a message that cannot be filed: quarantined with its reason and raw bytes in
its batch's transaction, or, when the fault might pass (a deadlock, a lock timeout), left for
the source to try again a few times first."""

from __future__ import annotations

import logging
import weakref

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from daemon.deps import Deps, Run
from daemon.store import Store, faults, records
from daemon.values import Disposition, InboundMessage, Outcome, RawMail

log = logging.getLogger(__name__)


# A message whose filing fails the same way this many times, with the database answering, is
# quarantined: a fault that might pass (deadlock, lock timeout, a driver limit) gets retries,
# but never holds the mailbox up for ever.
STRIKES = 3


def after_database_error(
    session: Session, ident: str, raw: RawMail, sha256: str, exc: DBAPIError, deps: Deps, run: Run
) -> Outcome | None:
    """Decide a message whose filing the database refused, in the batch's transaction (its
    savepoint already rolled back). None when it is to be tried again later; raises when the
    database cannot be reached, so nothing of the batch is committed."""
    fault = faults.fault(exc, deps.store)
    reason = faults.error_line(exc)
    if fault is faults.Fault.UNREACHABLE:
        # The outage itself is logged once by whoever runs the source; not per message.
        log.debug("%s not filed, database unreachable: %s", ident, reason)
        raise exc  # the messages stay where they are; the source tries them again
    if fault is faults.Fault.UNSTORABLE:
        log.error("%s cannot be stored: %s", ident, reason)
        return quarantine_in(session, raw, sha256, "unstorable", reason, deps, run)
    count = _strikes(deps.store).add(sha256, faults.signature(exc))
    if count >= STRIKES:
        log.error("%s failed %d times the same way, quarantined: %s", ident, count, reason)
        detail = f"failed {count} times: {reason}"
        return quarantine_in(session, raw, sha256, "repeated-failure", detail, deps, run)
    log.warning("%s not filed (attempt %d of %d): %s", ident, count, STRIKES, reason)
    return None


def after_conflict(
    session: Session,
    msg: InboundMessage,
    raw: RawMail,
    sha256: str,
    exc: IntegrityError,
    deps: Deps,
    run: Run,
) -> Outcome | None:
    """A constraint refused the message: a duplicate filed a moment ago by another worker or
    instance, or a conflict of its own (tried again later, then quarantined). None when it is
    to be tried again."""
    if records.message_seen(session, msg.dedupe_key):
        return Outcome(Disposition.DUPLICATE, "duplicate", message_id=msg.message_id)
    ident = msg.message_id or sha256[:16]
    reason = faults.error_line(exc)
    if not faults.is_unique_violation(exc):
        # A check, not-null or foreign-key constraint: this message's data, every time.
        log.error("%s cannot be stored: %s", ident, reason)
        return quarantine_in(session, raw, sha256, "unstorable", reason, deps, run)
    count = _strikes(deps.store).add(sha256, faults.signature(exc))
    if count >= STRIKES:
        log.error("%s refused %d times by a constraint, quarantined: %s", ident, count, reason)
        detail = f"failed {count} times: {reason}"
        return quarantine_in(session, raw, sha256, "unstorable", detail, deps, run)
    log.warning("%s refused by a constraint (attempt %d of %d): %s", ident, count, STRIKES, reason)
    return None  # a race between instances passes on the next try


# One count per database: a reload that opens a new store starts afresh.
_STRIKES: weakref.WeakKeyDictionary[Store, faults.Strikes] = weakref.WeakKeyDictionary()


def _strikes(store: Store) -> faults.Strikes:
    found = _STRIKES.get(store)
    if found is None:
        found = _STRIKES[store] = faults.Strikes()
    return found


def check_budget(ident: str, size: int, seconds: float, deps: Deps) -> None:
    """Log a message that took longer than its budget: the intake bounds are meant to keep
    every message, however crafted, well inside it."""
    budget = deps.settings.tickets.message_budget_seconds
    if seconds > budget:
        log.warning(
            "%s took %.1f s (%d bytes), over the %.0f s budget", ident, seconds, size, budget
        )


def after_failure(
    session: Session, ident: str, raw: RawMail, sha256: str, exc: Exception, deps: Deps, run: Run
) -> Outcome:
    """A fault of our own code while filing: logged with its traceback, the message kept."""
    log.error("%s could not be filed", ident, exc_info=exc)
    detail = f"{type(exc).__name__}: {exc}"
    return quarantine_in(session, raw, sha256, "filing-error", detail, deps, run)


def settled(sha256: str, deps: Deps) -> None:
    """The message is decided: its strikes, if any, are forgotten."""
    _strikes(deps.store).forget(sha256)


def quarantine_in(
    session: Session, raw: RawMail, sha256: str, reason: str, detail: str, deps: Deps, run: Run
) -> Outcome:
    if run.retry_of is not None:
        records.hold_again(session, run.retry_of, reason, detail)
        log.warning("quarantine #%d still held: %s (%s)", run.retry_of, reason, detail)
        return Outcome(Disposition.QUARANTINED, reason)
    if records.quarantine_seen(session, sha256):
        return Outcome(Disposition.DUPLICATE, "duplicate")
    row = records.quarantine(session, raw, sha256, reason, detail, deps.clock())
    log.warning("quarantine #%d %s: %s (%s)", row.id, raw.origin, reason, detail)
    return Outcome(Disposition.QUARANTINED, reason)
