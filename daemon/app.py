"""Builds the long-lived parts from settings: the database, the composer, the triage tables."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from daemon import notices, rulefiles, train
from daemon.compose import Composer, ReplyTokens, TemplateError
from daemon.config import ConfigError, Settings, database_url, reply_secrets, warnings
from daemon.deps import Deps
from daemon.store import Store
from daemon.store.db import Unavailable, UnknownSchema, masked_url, reporting
from daemon.triage import Triage
from daemon.values import Clock
from daemon.workdays import BusinessCalendar, calendar_concerns

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_store(settings: Settings, upgrade: bool | None = None) -> Store:
    """The database, migrated when allowed; otherwise an error saying what to run. One that
    cannot be reached or is not a database raises db.Unavailable, saying what to fix."""
    url = database_url(settings)
    with reporting(url, database_setting(settings)):
        store = Store(url, echo=settings.database.echo)
        try:
            if settings.database.auto_upgrade if upgrade is None else upgrade:
                store.upgrade()
            elif store.pending_migrations():
                raise ConfigError(
                    "the database schema is not up to date: run `complaintd db upgrade`"
                )
        except UnknownSchema as exc:
            store.dispose()
            # A revision we do not know: a newer complaintd migrated this database.
            raise Unavailable(
                f"database {masked_url(url)}: {exc}; its schema is newer than this complaintd: "
                f"run the newer version (or check {database_setting(settings)})"
            ) from None
        except BaseException:
            store.dispose()
            raise
    return store


def database_setting(settings: Settings) -> str:
    """Where the database URL comes from, for advice that names it."""
    db = settings.database
    key = "url_env" if db.url_env else "url_file" if db.url_file else "url"
    source = f" in {settings.source_file}" if settings.source_file else ""
    return f"[database] {key}{source}"


def build(settings: Settings, store: Store, clock: Clock = utc_now) -> Deps:
    composer = Composer(
        settings.templates.directory,
        settings.outbox,
        settings.service.default_language,
        reply_tokens(settings),
    )
    check_templates(composer, settings)
    return Deps(store, settings, composer, triage_from_settings(settings), clock)


def reply_tokens(settings: Settings) -> ReplyTokens | None:
    """How staff notices are signed; None when [replies] has no keys (replies are notes)."""
    secrets = reply_secrets(settings)
    if not secrets:
        return None
    return ReplyTokens(
        secrets,
        settings.replies.signing_key,
        timedelta(days=settings.replies.token_days),
        frozenset(p.email.strip().lower() for p in settings.org.people if p.email),
    )


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


def warn_of_provisional_calendar(settings: Settings, now: datetime) -> int:
    """At start, one WARNING per provisional year (this one, or the next from 1 October):
    deadlines there rest on an estimate without make-up workdays. Returns how many."""
    calendar = BusinessCalendar.from_settings(settings.calendar)
    concerns = calendar_concerns(calendar, calendar.local_date(now))
    for concern in concerns:
        log.warning("%s", concern.message())
    return len(concerns)


def warn_of_config_gaps(settings: Settings) -> int:
    """At start, one WARNING per gap a valid config leaves (a role nobody holds: what will
    reach nobody). Returns how many."""
    gaps = warnings(settings)
    for gap in gaps:
        log.warning("config %s: %s", settings.source_file or "(defaults)", gap)
    return len(gaps)


def check_templates(composer: Composer, settings: Settings) -> None:
    """Every template must render with the variables its notice gives it: find out at start,
    not at the first complaint."""
    for body in notices.samples():
        for language in ("zh-CN", "zh-TW", "en"):
            try:
                composer.render(body.letter(language, "x@example.com"))
            except TemplateError as exc:
                raise ConfigError(f"[templates] directory: {exc}") from None
