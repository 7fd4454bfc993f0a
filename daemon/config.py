"""config.toml -> frozen, validated settings; errors name the file, the key and the reason."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from daemon import addresses, permissions, replytokens
from daemon.clocks import ClockSettings
from daemon.feeds.settings import FeedSettings, check_feeds
from daemon.org import OrgSettings
from daemon.orgcheck import check_org, org_warnings
from daemon.reports.settings import ReportsSettings
from daemon.rules import ClassifierSettings
from daemon.sources.imap_settings import MailboxSettings, check_mailboxes, is_loopback
from daemon.values import ConfigPath
from daemon.workdays import CalendarSettings


class ConfigError(Exception):
    """A config file that cannot be used; the message says where and why."""


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServiceSettings(Section):
    timezone: str = "Asia/Shanghai"
    default_language: Literal["zh-CN", "zh-TW", "en"] = "zh-CN"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Seconds the main loop may sleep between looking at its schedule.
    tick_seconds: float = Field(default=1.0, gt=0, le=60)
    # How often the clocks are swept for reminders, breaches and escalations.
    sweep_seconds: int = Field(default=60, ge=1)
    # `complaintd status` exits non-zero once a mailbox has been failing this long.
    mailbox_alert_minutes: float = Field(default=15.0, gt=0)
    # A failing worker retries after 1 s, doubling up to this many seconds.
    retry_max_seconds: float = Field(default=60.0, ge=1)
    # The watchdog is no longer fed once the main loop or a worker is stuck this long.
    stuck_seconds: float = Field(default=300.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class DatabaseSettings(Section):
    # sqlite:///relative/path.db resolves against the config folder; PostgreSQL:
    # postgresql+psycopg://user@host/dbname. Put a URL holding a password in url_env or url_file.
    url: str | None = "sqlite:///var/complaintd.db"
    url_env: str | None = None
    url_file: ConfigPath | None = None
    # Apply pending migrations when the daemon starts (the embedded default wants this).
    auto_upgrade: bool = True
    echo: bool = False


class TicketSettings(Section):
    prefix: str = Field(default="TS", pattern=r"^[A-Z][A-Z0-9]{0,9}$")
    serial_digits: int = Field(default=4, ge=3, le=8)
    # Attachments over this size are recorded by name and size, their bytes not stored.
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=0)
    # A message over this size is quarantined (raw bytes kept) instead of filed.
    max_message_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    # What the acknowledgement promises when no clock says otherwise.
    reply_promise_hours: float = Field(default=2.0, gt=0)
    # Each message is decided (filed, ignored or quarantined) within this budget of time, and
    # of memory on top of its own size; a message over the time budget is logged. The memory
    # budget bounds how much of a body is parsed (a twentieth of it).
    message_budget_seconds: float = Field(default=10.0, gt=0)
    message_budget_mb: int = Field(default=320, ge=64)
    # Answer a complaint at its Reply-To address instead of its From address.
    answer_reply_to: bool = False
    # A sender's mail repeating the body of their mail within this many minutes opens no ticket
    # (an answering robot); it is recorded with the reason "repeat-body". 0 turns this off.
    repeat_body_window_minutes: float = Field(default=60.0, ge=0)
    # authserv-ids of our own receiving servers: their Authentication-Results saying DMARC
    # failed hold the message for review. Empty: nothing is checked.
    trusted_authserv_ids: tuple[str, ...] = ()
    # A group complaint (seed 003) is several customers about one matter: the same vehicle
    # model with the same fault phrase, or one of the named matters (a recall, a campaign).
    vehicle_models: tuple[str, ...] = ()
    matters: tuple[str, ...] = ()


class MaildirSettings(Section):
    enabled: bool = True
    path: ConfigPath = Path("var/maildir")
    # Maildir++ subfolders (".processed", ".quarantine") the files move to once handled.
    processed_folder: str = "processed"
    quarantine_folder: str = "quarantine"
    poll_seconds: int = Field(default=2, ge=1)


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password_env: str | None = None
    password_file: ConfigPath | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)


class OutboxSettings(Section):
    # "smtp" delivers through [smtp]; "files" writes each mail as an .eml file into `directory`.
    transport: Literal["smtp", "files"] = "files"
    directory: ConfigPath = Path("var/outbox")
    from_address: str = "complaints@localhost"
    from_name: str = "客户关爱中心 Customer Care"
    # Domain part of the Message-IDs we generate.
    message_id_domain: str = "complaintd.localhost"
    poll_seconds: int = Field(default=5, ge=1)
    batch_size: int = Field(default=50, ge=1)
    retry_initial_seconds: float = Field(default=60.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    # A row still undelivered this long after it was queued is marked failed.
    give_up_after_hours: float = Field(default=48.0, gt=0)
    # Characters of a customer's subject (and name) our mail quotes, and Message-IDs of their
    # References it carries: nothing they send is reflected at length.
    quoted_subject_chars: int = Field(default=120, ge=10)
    max_references: int = Field(default=10, ge=1)
    # Automatic mail of any kind to one address per day; more is recorded as suppressed (loops).
    max_auto_replies_per_recipient_per_day: int = Field(default=10, ge=1)
    # The same for addresses in [org.people]: staff are told of every ticket they are part of.
    max_staff_notices_per_recipient_per_day: int = Field(default=200, ge=1)

    @field_validator("from_address")
    @classmethod
    def _deliverable_sender(cls, value: str) -> str:
        # Checked here, not at the first send: a bad sender bounces every mail we queue.
        if not value.strip():
            raise ValueError("is empty; set the address our mail comes from")
        if value != value.strip() or any(ch.isspace() for ch in value):
            raise ValueError("contains spaces; give a bare address such as care@example.com")
        if addresses.addr_spec(value) is None:
            raise ValueError("is not a mail address (local@domain); e.g. care@example.com")
        return value


class SecretSource(Section):
    """Where one secret is: an environment variable or a file (never the config itself)."""

    env: str | None = None
    file: Path | None = None  # relative to the config file's folder


class ReplySettings(Section):
    """Replies to staff notices as commands: the signing keys of the reply tokens, how long a
    token lasts, whether the sender's domain must authenticate, and who may do what."""

    # key id -> { env = "VAR" } or { file = "path" }; without any, replies are only notes.
    secrets: dict[str, SecretSource] = Field(default_factory=dict)
    # The key id new tokens are signed with; the other keys still verify (rotation).
    signing_key: str = ""
    token_days: int = Field(default=30, ge=1, le=366)
    # A command counts only when a [tickets] trusted_authserv_ids server says the sender's
    # domain passed DMARC or DKIM; no verdict at all then refuses it.
    require_authentication: bool = False
    # command kind -> roles allowed ("*": everyone in [org.people]); unnamed kinds keep the
    # default (daemon.permissions.DEFAULT).
    allowed: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class TemplateSettings(Section):
    directory: ConfigPath = Path("templates")


class RetentionSettings(Section):
    """How long personal data of closed tickets is kept (daemon.retention); None keeps it."""

    # Raw mail bytes and attachments of tickets closed more than this many days ago.
    raw_mail_days: int | None = Field(default=None, ge=1)
    # Customers whose every ticket closed more than this many days ago are anonymised.
    anonymise_days: int | None = Field(default=None, ge=1)


class Settings(Section):
    """Everything config.toml can say; each section has working defaults."""

    service: ServiceSettings = ServiceSettings()
    database: DatabaseSettings = DatabaseSettings()
    tickets: TicketSettings = TicketSettings()
    maildir: MaildirSettings = MaildirSettings()
    outbox: OutboxSettings = OutboxSettings()
    smtp: SmtpSettings = SmtpSettings()
    templates: TemplateSettings = TemplateSettings()
    classifier: ClassifierSettings = ClassifierSettings()
    org: OrgSettings = OrgSettings()
    calendar: CalendarSettings = CalendarSettings()
    clocks: ClockSettings = ClockSettings()
    mailboxes: tuple[MailboxSettings, ...] = ()
    feeds: tuple[FeedSettings, ...] = ()  # manufacturer case feeds (daemon.feeds)
    replies: ReplySettings = ReplySettings()
    retention: RetentionSettings = RetentionSettings()  # [retention] (daemon.retention)
    reports: ReportsSettings = ReportsSettings()  # [reports]: penalties (daemon.reports)
    source_file: Path | None = Field(default=None, exclude=True)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.service.timezone)


def load(path: Path) -> Settings:
    """Read and validate one config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file; pass --config PATH or set COMPLAINTD_CONFIG"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse(text, path)


def parse(text: str, path: Path) -> Settings:
    """Validate config text as if read from `path` (relative paths resolve beside it)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config_dir = path.resolve().parent
    retired = _retired_keys(data, text, path)
    if retired:
        raise ConfigError("\n".join(retired))
    _derive(data)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, text, path)) from None
    settings = _resolve_paths(settings, config_dir)
    settings = settings.model_copy(update={"source_file": path.resolve()})
    problems = check(settings)
    if problems:
        raise ConfigError("\n".join(f"{path}: {p}" for p in problems))
    return settings


# Keys that once said the same as another key; each concept now has one, and a file still
# setting the old one is refused rather than half-obeyed.
_RETIRED = (
    (
        ("calendar", "timezone"),
        "[service] timezone",
        "deadlines, ticket numbers and the times in mail use one zone",
    ),
    (
        ("clocks", "severity_scale"),
        "[classifier] severity_scale",
        "classification and breaches use one severity scale",
    ),
)


def _retired_keys(data: dict[str, Any], text: str, path: Path) -> list[str]:
    problems = []
    for (section, key), replacement, reason in _RETIRED:
        table = data.get(section)
        if isinstance(table, dict) and key in table:
            where = _line_of(text, [section, key])
            place = f"{path}:{where}" if where else f"{path}"
            problems.append(
                f"{place}: [{section}] {key}: no longer read; set {replacement} instead ({reason})"
            )
    return problems


def _derive(data: dict[str, Any]) -> None:
    """Fill the values the pure core needs from the one key that says them."""
    zone_name = data.get("service", {}).get("timezone", ServiceSettings().timezone)
    calendar = data.get("calendar")
    if calendar is None or isinstance(calendar, dict):
        # The working calendar keeps its own zone field; it is always the service's zone.
        data.setdefault("calendar", {})["timezone"] = zone_name
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return  # reported by the [service] timezone validator
    # An absence written as a local date-time (no offset) is in the service's time zone.
    for absence in data.get("org", {}).get("absences", []):
        for key in ("start", "end"):
            value = absence.get(key) if isinstance(absence, dict) else None
            if isinstance(value, datetime) and value.tzinfo is None:
                absence[key] = value.replace(tzinfo=zone)


_Node = TypeVar("_Node")


def _resolve_paths(value: _Node, base: Path) -> _Node:
    """`value` with every relative path written in the file made absolute under `base`.

    Defaults are left as they are: only what the file says is relative to the file.
    """
    resolved: Any = value
    if isinstance(value, Path):
        # Normalised, so "../var" beside an example config reads as the folder it names.
        resolved = value if value.is_absolute() else Path(os.path.normpath(base / value))
    elif isinstance(value, tuple):
        items = tuple(_resolve_paths(item, base) for item in value)
        resolved = value if all(a is b for a, b in zip(items, value, strict=True)) else items
    elif isinstance(value, BaseModel):
        changes = {
            name: new
            for name in value.model_fields_set
            if (new := _resolve_paths(old := getattr(value, name), base)) is not old
        }
        resolved = value.model_copy(update=changes) if changes else value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: new
            for f in dataclasses.fields(value)
            if f.init and (new := _resolve_paths(old := getattr(value, f.name), base)) is not old
        }
        resolved = dataclasses.replace(value, **changes) if changes else value
    return cast(_Node, resolved)


def check(settings: Settings) -> list[str]:
    """Problems that need more than one key to see; each names the key."""
    problems: list[str] = [*check_org(settings.org), *check_mailboxes(settings.mailboxes)]
    problems += check_feeds(settings.feeds)
    try:
        database_url(settings)
    except ConfigError as exc:
        problems.append(str(exc))
    for key in ("smtp",):
        section = getattr(settings, key)
        try:
            resolve_secret(section.password_env, section.password_file, f"[{key}] password")
        except ConfigError as exc:
            problems.append(str(exc))
    problems.extend(_check_replies(settings))
    if (
        settings.smtp.security == "none"
        and not is_loopback(settings.smtp.host)
        and (settings.smtp.username)
    ):
        problems.append(
            "[smtp] security: 'none' would send the password in clear to "
            f"{settings.smtp.host}; use 'starttls' or 'tls'"
        )
    return problems


def warnings(settings: Settings) -> list[str]:
    """What a valid config leaves undone, each saying what will reach nobody; shown by
    check-config, status and at start, never a refusal."""
    gaps = org_warnings(settings.org)
    if settings.org.people and not settings.replies.secrets:
        gaps.append(
            "[replies] secrets: none set, so staff replies to notices are stored as notes "
            "and their commands never applied"
        )
    return gaps


# 80 bits at least (issue 12); a passphrase of 16 characters is the least we accept.
_MIN_SECRET_CHARS = 16


def _check_replies(settings: Settings) -> list[str]:
    r = settings.replies
    problems: list[str] = []
    for kid in r.secrets:
        if not replytokens.KEY_ID.fullmatch(kid):
            problems.append(
                f"[replies] secrets.{kid}: a key id is 1 to 8 lower-case letters or digits"
            )
    if r.secrets and r.signing_key not in r.secrets:
        problems.append(
            f"[replies] signing_key: {r.signing_key!r} is not one of [replies] secrets "
            f"({', '.join(sorted(r.secrets))})"
        )
    try:
        for kid, secret in reply_secrets(settings).items():
            if len(secret) < _MIN_SECRET_CHARS:
                problems.append(
                    f"[replies] secrets.{kid}: shorter than {_MIN_SECRET_CHARS} characters; "
                    "use e.g. `openssl rand -hex 32`"
                )
    except ConfigError as exc:
        problems.append(str(exc))
    roles = {role.key for role in settings.org.roles}
    for kind, allowed in r.allowed.items():
        if kind not in permissions.KINDS:
            problems.append(
                f"[replies.allowed] {kind}: not a command; one of {', '.join(permissions.KINDS)}"
            )
        for role in allowed:
            if role != permissions.EVERYONE and role not in roles:
                problems.append(f"[replies.allowed] {kind}: unknown role {role!r}")
    if r.require_authentication and not settings.tickets.trusted_authserv_ids:
        problems.append(
            "[replies] require_authentication: needs [tickets] trusted_authserv_ids, the "
            "servers whose Authentication-Results are believed"
        )
    return problems


def reply_secrets(settings: Settings) -> dict[str, bytes]:
    """The reply-token keys by key id, read from their environment variables or files."""
    base = settings.source_file.parent if settings.source_file else Path.cwd()
    out: dict[str, bytes] = {}
    for kid, source in settings.replies.secrets.items():
        file = source.file
        if file is not None and not file.is_absolute():
            file = base / file
        what = f"[replies] secrets.{kid}"
        value = resolve_secret(source.env, file, what)
        if value is None:
            raise ConfigError(f"{what}: set env or file")
        out[kid] = value.encode("utf-8")
    return out


# Where the CLI looks for its config when --config is not given: the environment, the current
# folder (a checkout), then an installed instance's, so staff on the server need no option.
INSTALLED_CONFIG = Path("/etc/complaintd/config.toml")


def config_path(
    given: Path | None, environ: Mapping[str, str], installed: Path = INSTALLED_CONFIG
) -> tuple[Path, bool]:
    """The config file to read, and whether it was named (--config or $COMPLAINTD_CONFIG):
    a named file must exist; otherwise ./config.toml, else `installed` when it exists."""
    if given is not None:
        return given, True
    named = environ.get("COMPLAINTD_CONFIG")
    if named:
        return Path(named), True
    here = Path("config.toml")
    if not _exists(here) and _exists(installed):
        return installed, False
    return here, False


def _exists(path: Path) -> bool:
    # `sudo -u complaintd complaintd ...` may run in a folder that user cannot read.
    try:
        return path.is_file()
    except OSError:
        return False


def resolve_secret(env: str | None, file: Path | None, what: str) -> str | None:
    """A secret from an environment variable or a file; None when neither is set."""
    if env and file:
        raise ConfigError(f"{what}: set either the _env or the _file key, not both")
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"{what}_env: environment variable {env} is not set")
        return value
    if file:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{what}_file: cannot read {file}: {exc.strerror}") from None
    return None


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL, with a relative SQLite path made absolute."""
    db = settings.database
    sources = [s for s in (db.url_env, db.url_file) if s]
    url = resolve_secret(db.url_env, db.url_file, "[database] url") if sources else db.url
    if not url:
        raise ConfigError("[database] url: no database URL; set url, url_env or url_file")
    match = re.match(r"^sqlite(\+\w+)?:///(?!/)(.+)$", url)
    if match and match.group(2) != ":memory:" and settings.source_file is not None:
        absolute = os.path.normpath(settings.source_file.parent / match.group(2))
        url = f"sqlite{match.group(1) or ''}:///{absolute}"
    elif not url.startswith(("sqlite", "postgresql")):
        raise ConfigError("[database] url: only sqlite:/// and postgresql+psycopg:// are supported")
    return url


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, every secret replaced by a mask."""
    data = settings.model_dump(mode="json")
    db = data["database"]
    try:
        db["effective_url"] = _mask_url(database_url(settings))
    except ConfigError:
        db["effective_url"] = None
    if db.get("url"):
        db["url"] = _mask_url(db["url"])
    return data


def _mask_url(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1****@", url)


def _describe(exc: ValidationError, text: str, path: Path) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = _key_name(loc)
        where = _line_of(text, loc)
        place = f"{path}:{where}" if where else f"{path}"
        given = err.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float | bool) else ""
        lines.append(f"{place}: {key}: {err['msg']}{shown}")
    return "\n".join(lines)


def _key_name(loc: list[str]) -> str:
    """[section] key, with array positions shown as [[section]] #n."""
    if not loc:
        return "(top level)"
    section, rest = loc[0], loc[1:]
    if rest and rest[0].isdigit():
        return f"[[{section}]] #{int(rest[0]) + 1} " + ".".join(rest[1:])
    return f"[{section}] " + ".".join(rest) if rest else f"[{section}]"


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line number of the offending key, for people fixing the file."""
    keys = [p for p in loc if not p.isdigit()]
    if not keys:
        return None
    section_seen = len(keys) == 1
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            section_seen = stripped.strip("[] ") == keys[0]
            continue
        if section_seen and re.match(rf"^{re.escape(keys[-1])}\s*=", stripped):
            return number
    return None
