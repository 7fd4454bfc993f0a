"""Scheduled reports: who gets which figures, and sending each period's report exactly once.

The figures are read and the mails composed first, in a read-only view; then one transaction
records the period as sent (report_runs, unique per kind and period) and queues every mail in
the outbox. A second daemon racing for the same period finds the row taken and queues nothing;
a daemon that was down sends what fell due meanwhile when it starts (within catch_up_days).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from daemon import notify
from daemon.compose import Composer
from daemon.config import Settings
from daemon.deps import Deps
from daemon.org import ANY
from daemon.reports import charts, content, figures, gather, mailing, workbook
from daemon.reports.mailsettings import ReportMailSettings
from daemon.reports.schedule import ReportKind, ReportPeriod, due_since, week_of
from daemon.reports.settings import report_settings
from daemon.reports.words import Words
from daemon.store import outgoing, reportruns
from daemon.workdays import BusinessCalendar

log = logging.getLogger(__name__)

TREND_WEEKS = 8
DAEMON = "daemon"


def mail_settings(settings: Settings) -> ReportMailSettings:
    """The one place the report mail's config is read from."""
    return settings.reports.mail


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    language: str
    department: str = ""  # "" for the whole dealership's figures


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: ReportKind
    period: ReportPeriod
    mails: tuple[outgoing.Queued, ...]
    sent: bool  # queued now (False: a dry run, or already sent)
    already_sent_at: datetime | None = None


def recipients(settings: Settings) -> list[Recipient]:
    """The configured roles (whole dealership), each routed department's manager (its own
    figures), and the extra addresses; each address once per set of figures."""
    mail = mail_settings(settings)
    default = settings.service.default_language
    people = [p for p in settings.org.people if p.email]
    found = [Recipient(p.email, p.language or default) for p in people if p.role in set(mail.roles)]
    found += [Recipient(address, default) for address in mail.to]
    if mail.department_managers:
        for rule in settings.org.routing:
            if rule.department != ANY:
                found += [
                    Recipient(p.email, p.language or default, rule.department)
                    for p in people
                    if p.role == rule.role
                ]
    unique: dict[tuple[str, str], Recipient] = {}
    for r in found:
        unique.setdefault((r.address.strip().lower(), r.department), r)
    return list(unique.values())


def restrict(facts: figures.Facts, department: str) -> figures.Facts:
    """The facts of one department's tickets only."""
    if not department:
        return facts
    tickets = tuple(t for t in facts.tickets if t.department == department)
    ids = {t.id for t in tickets}
    return figures.Facts(
        tickets=tickets,
        transitions=tuple(x for x in facts.transitions if x.ticket_id in ids),
        clocks=tuple(x for x in facts.clocks if x.ticket_id in ids),
        ledger=tuple(x for x in facts.ledger if x.ticket_id in ids),
        surveys=tuple(x for x in facts.surveys if x.ticket_id in ids),
        cases=tuple(x for x in facts.cases if x.ticket_id in ids),
        working_days=facts.working_days,
    )


class _Reader:
    """Reads each period's facts once, however many audiences are cut from them."""

    def __init__(self, session: Session, settings: Settings, calendar: BusinessCalendar) -> None:
        self._session = session
        self._calendar = calendar
        self._zone = settings.zone
        self._rules = report_settings(settings.reports, settings.org)
        self._facts: dict[tuple[datetime, datetime], figures.Facts] = {}

    def window(self, start: datetime, end: datetime) -> figures.Period:
        return figures.Period(start, end, self._zone)

    def facts(self, window: figures.Period) -> figures.Facts:
        key = (window.since, window.until)
        if key not in self._facts:
            self._facts[key] = gather.gather(self._session, window, self._calendar)
        return self._facts[key]

    def summary(self, facts: figures.Facts, window: figures.Period) -> figures.Summary:
        return figures.summarize(facts, window, self._rules)

    def report(self, kind: ReportKind, period: ReportPeriod, department: str) -> content.Report:
        window = self.window(period.start, period.end)
        main = self.summary(restrict(self.facts(window), department), window)
        weeks = [
            week_of(period.last - timedelta(days=7 * n), self._calendar)
            for n in reversed(range(TREND_WEEKS))
        ]
        span = self.window(weeks[0].start, weeks[-1].end)
        facts = restrict(self.facts(span), department)
        trend = tuple(
            (week, self.summary(facts, self.window(week.start, week.end))) for week in weeks
        )
        return content.Report(kind, period, main, trend, department)


def compose_all(
    session: Session,
    settings: Settings,
    composer: Composer,
    calendar: BusinessCalendar,
    kind: ReportKind,
    period: ReportPeriod,
    audience: Iterable[Recipient],
    now: datetime,
) -> list[outgoing.Queued]:
    """Every recipient's mail: figures per department, charts and workbook per language."""
    reader = _Reader(session, settings, calendar)
    reports: dict[str, content.Report] = {}
    rendered: dict[tuple[str, str], tuple[list[charts.Chart], bytes]] = {}
    mails = []
    outbox = settings.outbox
    for r in audience:
        if r.department not in reports:
            reports[r.department] = reader.report(kind, period, r.department)
        report = reports[r.department]
        words = Words(r.language, composer.labels(r.language))
        key = (r.department, words.language)
        if key not in rendered:
            rendered[key] = (
                charts.render_all(content.charts(report, words)),
                workbook.workbook(report, words),
            )
        drawn, book = rendered[key]
        mails.append(
            mailing.compose(
                report,
                words,
                r.address,
                (outbox.from_name, outbox.from_address),
                drawn,
                book,
                now.astimezone(settings.zone),
                outbox.message_id_domain,
            )
        )
    return mails


def send(
    deps: Deps,
    kind: ReportKind,
    period: ReportPeriod,
    now: datetime,
    sent_by: str = DAEMON,
    to: tuple[str, ...] = (),
    dry_run: bool = False,
) -> Outcome:
    """Send one period's report, once: without `to`, to the configured recipients, recorded
    so no instance sends it again; with `to`, a copy of the whole dealership's figures to
    those addresses, not recorded."""
    settings = deps.settings
    calendar = deps.triage.calendar
    if not to and not dry_run:
        with deps.store.reading() as session:
            already = reportruns.sent_at(session, kind.value, period.key)
        if already is not None:
            log.debug("%s report %s already sent at %s", kind, period.key, already)
            return Outcome(kind, period, (), False, already)
    default = settings.service.default_language
    audience = (
        [_as_staff(Recipient(a, default), settings) for a in to] if to else recipients(settings)
    )
    with deps.store.reading() as session:
        mails = compose_all(session, settings, deps.composer, calendar, kind, period, audience, now)
    if dry_run:
        return Outcome(kind, period, tuple(mails), False)
    with deps.store.transaction() as session:
        if not to and not reportruns.claim(
            session, kind.value, period.key, period.due, now, len(mails), sent_by
        ):
            already = reportruns.sent_at(session, kind.value, period.key)
            log.debug(
                "%s report %s already sent at %s by another instance", kind, period.key, already
            )
            return Outcome(kind, period, (), False, already)
        local_now = now.astimezone(settings.zone)
        day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        for mail in mails:
            row = outgoing.enqueue(
                session, mail, None, now, day_start, notify.daily_cap(mail.recipient, settings)
            )
            if row.status != "pending":
                log.warning("%s report to %s %s: %s", kind, mail.recipient, row.status, row.error)
    if not mails:
        log.warning(
            "%s report %s went to nobody: no one in [org] holds the [reports.mail] roles",
            kind,
            period.key,
        )
    log.info(
        "%s report %s queued to %d recipient(s)%s",
        kind,
        period.key,
        len(mails),
        "" if not to else " (a copy, not recorded)",
    )
    return Outcome(kind, period, tuple(mails), True)


def _as_staff(r: Recipient, settings: Settings) -> Recipient:
    """An address given by hand reads its owner's language when it is someone in [org]."""
    person = notify.staff_member(r.address, settings)
    return replace(r, language=person.language) if person and person.language else r


def send_due(deps: Deps, now: datetime) -> list[Outcome]:
    """The daemon's job: every enabled report that fell due within catch_up_days and was not
    sent yet, oldest first."""
    mail = mail_settings(deps.settings)
    calendar = deps.triage.calendar
    since = now - timedelta(days=mail.catch_up_days)
    done = []
    for kind, enabled in ((ReportKind.WEEKLY, mail.weekly), (ReportKind.MONTHLY, mail.monthly)):
        if not enabled:
            continue
        for period in reversed(list(due_since(kind, now, since, calendar))):
            outcome = send(deps, kind, period, now)
            if outcome.sent:
                done.append(outcome)
    return done
