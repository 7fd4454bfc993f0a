"""Builds the long-lived parts from settings: the database, the composer, the triage tables."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.compose import Composer, TemplateError
from daemon.config import ConfigError, Settings, database_url
from daemon.pipeline import Deps
from daemon.store import Store
from daemon.triage import Triage
from daemon.values import Clock, Notice


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_store(settings: Settings, upgrade: bool | None = None) -> Store:
    """The database, migrated when allowed; otherwise an error saying what to run."""
    store = Store(database_url(settings), echo=settings.database.echo)
    if settings.database.auto_upgrade if upgrade is None else upgrade:
        store.upgrade()
    elif store.pending_migrations():
        raise ConfigError("the database schema is not up to date: run `complaintd db upgrade`")
    return store


def build(settings: Settings, store: Store, clock: Clock = utc_now) -> Deps:
    composer = Composer(
        settings.templates.directory, settings.outbox, settings.service.default_language
    )
    check_templates(composer, settings)
    return Deps(store, settings, composer, Triage.load(settings), clock)


# Every template must render with the variables the daemon gives it; find out at start, not at
# the first complaint.
_SAMPLE = {
    "ticket": "TS-202601-0001",
    "subject": "示例 sample",
    "customer": "customer@example.com",
    "customer_name": "",
    "text": "…",
    "category": "service",
    "department": "after_sales",
    "severity": "general",
    "opened_at": "2026-01-05 09:00",
    "service_name": "Customer Care",
    "reply_by": "2026-01-05 11:00",
    "evidence": [],
    "major": [],
    "handler": "someone",
    "deadlines": [],
    "sender": "customer@example.com",
    "sender_role": "customer",
    "clock": "first_contact",
    "rule": "first-contact",
    "due": "2026-01-05 11:00",
    "basis": "working",
    "act_event": "contact",
    "act_command": "complaintd tickets act TS-202601-0001 contact",
    "used_percent": 50,
    "left_minutes": 60,
    "late_minutes": 90,
    "step": 1,
    "steps": 3,
    "handler_email": "someone@example.com",
    "recipient_name": "someone",
    "delegated_from": "",
    "copy": False,
    "told_before": [
        {
            "at": "2026-01-05 10:00",
            "what": "reminder",
            "step": None,
            "clock": "first_contact",
            "who": "someone",
        },
    ],
}


def check_templates(composer: Composer, settings: Settings) -> None:
    for name in ("acknowledgement", "assignment", "inform", "followup", "reminder", "escalation"):
        for language in ("zh-CN", "en"):
            try:
                composer.render(Notice(name, language, "x@example.com", _SAMPLE))
            except TemplateError as exc:
                raise ConfigError(f"[templates] directory: {exc}") from None
