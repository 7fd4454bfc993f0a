"""Builds the long-lived parts from settings: the database, the composer, the triage tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daemon import notices, rulefiles, train
from daemon.compose import Composer, TemplateError
from daemon.config import ConfigError, Settings, database_url
from daemon.deps import Deps
from daemon.store import Store
from daemon.triage import Triage
from daemon.values import Clock
from daemon.workdays import BusinessCalendar


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
    return Deps(store, settings, composer, triage_from_settings(settings), clock)


def triage_from_settings(settings: Settings) -> Triage:
    """The classifier's rule files and model read, and the triage tables built from config."""
    classifier = settings.classifier
    return Triage(
        classifier=classifier,
        rules=rulefiles.load_rules(classifier),
        model=train.load_model(classifier.model) if classifier.model else None,
        org=settings.org,
        calendar=BusinessCalendar.from_settings(settings.calendar),
        clock_settings=settings.clocks,
        reply_promise=timedelta(hours=settings.tickets.reply_promise_hours),
        staff={p.email.lower(): p.key for p in settings.org.people},
        repeat_body_window=timedelta(minutes=settings.tickets.repeat_body_window_minutes),
    )


def check_templates(composer: Composer, settings: Settings) -> None:
    """Every template must render with the variables its notice gives it: find out at start,
    not at the first complaint."""
    for body in notices.samples():
        for language in ("zh-CN", "en"):
            try:
                composer.render(body.letter(language, "x@example.com"))
            except TemplateError as exc:
                raise ConfigError(f"[templates] directory: {exc}") from None
