"""What the shell hands every stage: the long-lived parts, and how one message is being run."""

from __future__ import annotations

from dataclasses import dataclass

from daemon.compose import Composer
from daemon.config import Settings
from daemon.store import Store
from daemon.triage import Triage
from daemon.values import Clock


@dataclass(frozen=True)
class Deps:
    """What processing a message needs, built once per (re)load of the config."""

    store: Store
    settings: Settings
    composer: Composer
    triage: Triage
    clock: Clock


@dataclass(frozen=True, slots=True)
class Run:
    """How this message is being processed."""

    send_mail: bool = True  # False for a backfill: record, but queue no mail
    retry_of: int | None = None  # the quarantine row being retried, released once filed
    # Backfill (replay --as-received): each message is filed as at its own arrival time
    # (RawMail.received_at), so its ticket's clocks start then.
    as_received: bool = False
