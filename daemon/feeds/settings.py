"""[[feeds]] in config.toml: where manufacturer cases come from and how their fields are named."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from daemon.feeds.records import FIELDS, REQUIRED
from daemon.values import ConfigPath

# The ticket statuses a write-back reports to the manufacturer, and the manufacturer's word for
# each unless a feed names its own.
WRITEBACK_STATUSES = ("acknowledged", "contacted", "resolved")
# The health name of the one worker that sends every feed's write-back posts.
WRITEBACK_WORKER = "[feed write-back]"


class FeedSettings(BaseModel):
    """One manufacturer feed: a drop folder, a polled JSON endpoint or a webhook receiver, each
    a source of the same records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    oem: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")  # the key cases are known by
    kind: Literal["folder", "http", "webhook", "mail"] = "folder"
    # Our field name -> the source's column (or key) name, e.g. case_id = "投诉单号".
    fields: dict[str, str]
    # Where exports are dropped; done/ and failed/ inside it unless given.
    path: ConfigPath | None = None
    done_folder: ConfigPath | None = None
    failed_folder: ConfigPath | None = None
    poll_seconds: int = Field(default=60, ge=1)
    # Mail the case's customer our acknowledgement, when the case carries their address.
    acknowledge: bool = False
    # The manufacturer's levels; a case with another level is quarantined. Empty: any level.
    levels: tuple[str, ...] = ()
    # A survey score at or below this makes a zero-complaint case (零抱怨).
    zero_complaint_max_score: float = 6.0
    # A column the mapping does not name: "ignore" it, or "quarantine" the record (strict
    # exports whose every column is known).
    extra_columns: Literal["ignore", "quarantine"] = "ignore"

    # -- http: a JSON endpoint polled every poll_seconds -------------------------------------
    url: str | None = Field(default=None, pattern=r"^https?://")
    # Where the records are in the response, as dotted keys ("data.items"); "" the body itself.
    records_path: str = ""
    # The query parameter our cursor is sent in (e.g. "since", "cursor"); "" sends none.
    cursor_param: str = ""
    # Where the response gives the next cursor ("next_cursor"); "" keeps the newest value of
    # `since_column` among the records instead (a since-timestamp).
    cursor_field: str = ""
    # The record key a since-timestamp is read from; "" the one dispatched_at maps to.
    since_column: str = ""
    # Pagination: a page-number parameter counting from first_page until a page comes back
    # empty, or the dotted key of the next page's link (absolute or relative); neither: one page.
    page_param: str = ""
    first_page: int = 1
    next_field: str = ""
    max_pages: int = Field(default=100, ge=1)
    # A header token (`Authorization: Bearer …` unless told otherwise) or basic auth.
    token_env: str | None = None
    token_file: ConfigPath | None = None
    token_header: str = "Authorization"
    token_prefix: str = "Bearer "
    username: str = ""
    password_env: str | None = None
    password_file: ConfigPath | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)

    # -- webhook: deliveries signed the Standard Webhooks way -------------------------------
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=0, ge=0, le=65535)
    listen_path: str = Field(default="/", pattern=r"^/")
    # The signing secret, `whsec_<base64>` (or plain base64).
    secret_env: str | None = None
    secret_file: ConfigPath | None = None
    tolerance_seconds: int = Field(default=300, ge=1)

    # -- write-back: our progress posted to the manufacturer -------------------------------
    # POSTed a JSON status when the case's ticket is acknowledged, contacted or resolved;
    # `{case_id}` in it is replaced. Uses the feed's token or basic auth.
    writeback_url: str | None = Field(default=None, pattern=r"^https?://")
    # Our status -> the manufacturer's word for it; a status left out is not posted.
    writeback_statuses: dict[str, str] = Field(
        default_factory=lambda: {s: s for s in WRITEBACK_STATUSES}
    )
    writeback_retry_initial_seconds: float = Field(default=30.0, gt=0)
    writeback_retry_max_seconds: float = Field(default=3600.0, gt=0)

    # -- mail: the portal's notification mails, in a mailbox or Maildir the daemon reads ----
    # Shell-style patterns on the sender address ("*@dscrm.faw-vw.com"); such mail is read as
    # a case (never answered, even when marked automatic).
    senders: tuple[str, ...] = ()
    # Regular expressions searched in the subject; empty: any subject from those senders.
    subjects: tuple[str, ...] = ()
    # Field -> a regular expression whose first group is the value, where the portal's mail
    # has no `label：value` line or table cell for it.
    patterns: dict[str, str] = Field(default_factory=dict)

    # -- what the manufacturer's status words mean (any kind) ----------------------------
    # e.g. { "已结案" = "closed", "升级" = "escalated", "回访满意" = "satisfied" }
    statuses: dict[str, Literal["open", "closed", "escalated", "satisfied", "unsatisfied"]] = Field(
        default_factory=dict
    )
    # `complaintd status` alerts when the feed has failed this long; default
    # [service] mailbox_alert_minutes.
    alert_minutes: int | None = Field(default=None, ge=1)

    @field_validator("writeback_statuses")
    @classmethod
    def _known_statuses(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(WRITEBACK_STATUSES))
        if unknown:
            raise ValueError(
                f"unknown status(es) {unknown}; known: {', '.join(WRITEBACK_STATUSES)}"
            )
        return value

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; known: {', '.join(FIELDS)}")
        missing = [f for f in REQUIRED if f not in value]
        if missing:
            raise ValueError(f"must map {', '.join(missing)} to the source's column names")
        empty = [f for f, column in value.items() if not column.strip()]
        if empty:
            raise ValueError(f"empty column name for {', '.join(empty)}")
        return value

    @model_validator(mode="after")
    def _folder_has_path(self) -> FeedSettings:
        if self.kind == "folder" and self.path is None:
            raise ValueError("a folder feed needs `path`, the folder exports are dropped into")
        if self.kind == "http" and self.url is None:
            raise ValueError("an http feed needs `url`, the endpoint it polls")
        if self.kind == "http" and self.page_param and self.next_field:
            raise ValueError("an http feed pages by `page_param` or by `next_field`, not both")
        if self.kind == "webhook" and not self.listen_port:
            raise ValueError("a webhook feed needs `listen_port`, where deliveries arrive")
        if self.kind == "webhook" and not (self.secret_env or self.secret_file):
            raise ValueError(
                "a webhook feed needs `secret_env` or `secret_file`: unsigned "
                "deliveries are refused"
            )
        if self.token_env and self.token_file:
            raise ValueError("set either token_env or token_file, not both")
        if (self.password_env or self.password_file) and not self.username:
            raise ValueError("basic auth needs `username` beside password_env/password_file")
        return self

    @model_validator(mode="after")
    def _mail_is_recognisable(self) -> FeedSettings:
        if self.kind == "mail" and not self.senders:
            raise ValueError(
                "a mail feed needs `senders`, the addresses its notifications come from"
            )
        for field, expression in self.patterns.items():
            if field not in FIELDS:
                raise ValueError(f"patterns: unknown field {field!r}; known: {', '.join(FIELDS)}")
            try:
                re.compile(expression)
            except re.error as exc:
                raise ValueError(f"patterns.{field}: not a regular expression: {exc}") from None
        for expression in self.subjects:
            try:
                re.compile(expression)
            except re.error as exc:
                raise ValueError(
                    f"subjects: {expression!r} is no regular expression: {exc}"
                ) from None
        return self

    @property
    def folder(self) -> Path:
        assert self.path is not None  # checked for folder feeds
        return self.path

    @property
    def worker(self) -> str:
        """The name its worker's health is reported under (not a mailbox name)."""
        return f"[feed {self.name}]"

    @property
    def since_key(self) -> str:
        return self.since_column or self.fields["dispatched_at"]

    @property
    def done(self) -> Path:
        return self.done_folder or self.folder / "done"

    @property
    def failed(self) -> Path:
        return self.failed_folder or self.folder / "failed"


def check_feeds(feeds: tuple[FeedSettings, ...]) -> list[str]:
    """Problems across [[feeds]]: each name once, and no two folder feeds on one folder."""
    problems = []
    names = [f.name for f in feeds]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"[[feeds]] name: {name!r} is used twice; each feed needs its own name")
    folders = [f.folder for f in feeds if f.kind == "folder"]
    for folder in sorted({p for p in folders if folders.count(p) > 1}):
        problems.append(f"[[feeds]] path: {folder} is the folder of two feeds")
    hooks = [(f.listen_host, f.listen_port) for f in feeds if f.kind == "webhook"]
    for host, port in sorted({h for h in hooks if hooks.count(h) > 1}):
        problems.append(f"[[feeds]] listen_port: {host}:{port} is the address of two feeds")
    return problems
