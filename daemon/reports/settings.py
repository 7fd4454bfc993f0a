"""[reports] in config.toml: what missed clocks cost, and the recurring-complaint rule.

Defaults are the regulations' (seed 000 articles 3, 6 and 8; seed 002 7.6.3.2). The amounts
are whole yuan.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from daemon.org import OrgSettings
from daemon.reports.figures import ClockPenalty, ReportSettings
from daemon.reports.mailsettings import ReportMailSettings


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClockPenaltySettings(_Section):
    handler: int = Field(default=0, ge=0)
    manager: int = Field(default=0, ge=0)  # to the handler's line manager as well


def _clock_defaults() -> dict[str, ClockPenaltySettings]:
    return {
        kind: ClockPenaltySettings(handler=p.handler, manager=p.manager)
        for kind, p in ReportSettings().penalties.items()
    }


_DEFAULTS = _clock_defaults()


class PenaltySettings(_Section):
    """[reports.penalties]: per clock kind, e.g. `resolution = { handler = 50, manager = 50 }`."""

    first_response: ClockPenaltySettings = _DEFAULTS["first_response"]
    first_contact: ClockPenaltySettings = _DEFAULTS["first_contact"]
    resolution: ClockPenaltySettings = _DEFAULTS["resolution"]
    close: ClockPenaltySettings = _DEFAULTS["close"]
    callback: ClockPenaltySettings = _DEFAULTS["callback"]
    reply: ClockPenaltySettings = ClockPenaltySettings()
    major_report: ClockPenaltySettings = ClockPenaltySettings()
    # A clock still missed this many days later is charged once more (0: never).
    repeat_after_days: int = Field(default=30, ge=0)
    # A 零抱怨 case whose re-survey fails, charged to the dealership.
    zero_complaint_failure: int = Field(default=3000, ge=0)
    # The line manager's share when their people's attitude/process complaints in a week
    # exceed the threshold.
    recurring: int = Field(default=50, ge=0)


class ReportsSettings(_Section):
    """[reports]"""

    penalties: PenaltySettings = PenaltySettings()
    # [reports.mail]: the weekly and monthly reports by mail, and who receives them.
    mail: ReportMailSettings = ReportMailSettings()
    # Attitude and process complaints per manager per week before they share responsibility.
    recurring_threshold: int = Field(default=3, ge=0)
    recurring_categories: tuple[str, ...] = ("service",)


def report_settings(reports: ReportsSettings, org: OrgSettings) -> ReportSettings:
    """The pure settings figures.summarize counts with: amounts, and who manages whom."""
    p = reports.penalties
    clocks = {
        "first_response": p.first_response,
        "first_contact": p.first_contact,
        "resolution": p.resolution,
        "close": p.close,
        "callback": p.callback,
        "reply": p.reply,
        "major_report": p.major_report,
    }
    return ReportSettings(
        penalties={k: ClockPenalty(v.handler, v.manager) for k, v in clocks.items()},
        repeat_after_days=p.repeat_after_days,
        zero_complaint_penalty=p.zero_complaint_failure,
        recurring_threshold=reports.recurring_threshold,
        recurring_penalty=p.recurring,
        recurring_categories=reports.recurring_categories,
        manager_of={p.key: p.manager for p in org.people if p.manager},
        names={p.key: p.name for p in org.people},
    )
