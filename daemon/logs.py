"""Logging for journald and terminals: one line per event, the ticket or message id first."""

from __future__ import annotations

import logging
import os
from typing import ClassVar


class _JournalFormatter(logging.Formatter):
    """journald reads the syslog priority from a <N> prefix and stamps the time itself."""

    _PRIORITY: ClassVar[dict[int, int]] = {
        logging.DEBUG: 7,
        logging.INFO: 6,
        logging.WARNING: 4,
        logging.ERROR: 3,
        logging.CRITICAL: 2,
    }

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", " | ")
        return f"<{self._PRIORITY.get(record.levelno, 6)}>{text}"


def setup_logging(level: str) -> None:
    """One line per event on stderr; under systemd the journal gets priorities."""
    handler = logging.StreamHandler()
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries speak at WARNING and above only; their INFO lines are not our events.
    for noisy in ("imapclient", "aiosmtplib", "sqlalchemy", "alembic", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
