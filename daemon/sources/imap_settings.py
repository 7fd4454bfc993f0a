"""One [[mailboxes]] table and its checks: what config.py needs to know about a mailbox.

Kept apart from the worker so that loading the configuration (and the pipeline, which reads
it) does not import imapclient or ssl.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from daemon.values import ConfigPath

Security = Literal["tls", "starttls", "none"]


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    """One [[mailboxes]] table: where the mailbox is, how to log in, which folders to use.

    security: "tls" (implicit TLS, usually port 993), "starttls" (port 143, upgraded before
    login; refused if the server does not offer it) or "none" (loopback hosts only).

    auth = "password": the password comes from password_env (an environment variable) or
    password_file (a file holding only the password); it is never written in config.toml.

    auth = "xoauth2": a bearer token from exactly one of
      token_file     a file another program keeps fresh (read at every login);
      token_command  argv of a program printing a token on stdout, e.g. ["/usr/local/bin/tok"];
      client_id      OAuth2 client credentials through MSAL, with tenant (or a full authority
                     URL), client_secret_env or client_secret_file, and cloud:
        cloud = "global": authority https://login.microsoftonline.com/<tenant>,
                          scope https://outlook.office365.com/.default, host outlook.office365.com
        cloud = "china":  Microsoft 365 operated by 21Vianet (世纪互联):
                          authority https://login.partner.microsoftonline.cn/<tenant>,
                          scope https://partner.outlook.cn/.default, host partner.outlook.cn
      The app registration needs the Office 365 Exchange Online application permission
      IMAP.AccessAsApp with admin consent, and its service principal must be given access to
      the mailbox in Exchange (New-ServicePrincipal, Add-MailboxPermission); username is the
      mailbox address.

    Other servers: Tencent Exmail imap.exmail.qq.com (hwimap.exmail.qq.com abroad) and Aliyun
    Mail imap.qiye.aliyun.com take the address and the client-specific password
    (客户端专用密码 / 客户端授权密码) on 993 with TLS; Gmail imap.gmail.com takes an app
    password, or XOAUTH2 through token_command; Exchange Server and Dovecot take a password.

    folder is watched. Handled mail moves to processed_folder, quarantined mail to
    quarantine_folder (created when missing); "" leaves the mail where it is (quarantine_folder
    = "" sends quarantined mail to processed_folder). With processed_folder = "" the checkpoint
    alone keeps the daemon from reading a message twice.

    poll_seconds is used only when the server lacks IDLE. idle_seconds: IDLE is re-issued this
    often (servers may end an IDLE after 30 minutes). retry_*: reconnect delays after a failure,
    doubling from retry_initial_seconds up to retry_max_seconds, with jitter; a refused login
    waits retry_max_seconds straight away, so a wrong password does not lock the account.
    A FETCH asks for at most batch_size messages (never more than 1,000) or about batch_bytes.
    timeout_seconds bounds connecting and each command (IDLE excepted).
    """

    name: str
    host: str
    port: int = 993
    security: Security = "tls"
    username: str = ""
    auth: Literal["password", "xoauth2"] = "password"
    password_env: str | None = None
    password_file: ConfigPath | None = None
    token_file: ConfigPath | None = None
    token_command: tuple[str, ...] = ()
    client_id: str = ""
    client_secret_env: str | None = None
    client_secret_file: ConfigPath | None = None
    tenant: str = ""
    cloud: Literal["global", "china"] = "global"
    authority: str = ""  # overrides the cloud's sign-in host + tenant
    scope: str = ""  # overrides the cloud's default scope
    tls_ca_file: ConfigPath | None = None  # a private CA; the system's CAs otherwise
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    poll_seconds: float = 60.0
    idle_seconds: float = 25 * 60.0
    batch_size: int = 50
    batch_bytes: int = 32 * 1024 * 1024
    timeout_seconds: float = 60.0
    retry_initial_seconds: float = 2.0
    retry_max_seconds: float = 300.0


def check_mailbox(m: MailboxSettings) -> list[str]:
    """Problems with one [[mailboxes]] table, each naming the key (no I/O, secrets unread)."""
    where = f"[[mailboxes]] {m.name!r}"
    problems: list[str] = []
    if not m.name.strip():
        problems.append("[[mailboxes]] name: must not be empty")
    if not m.host.strip():
        problems.append(f"{where} host: must not be empty")
    if not 1 <= m.port <= 65535:
        problems.append(f"{where} port: {m.port} is not a TCP port")
    if m.security == "none" and not is_loopback(m.host):
        problems.append(
            f"{where} security: 'none' would send the login in clear to {m.host}; "
            "use 'tls' or 'starttls' ('none' is for loopback hosts only)"
        )
    if not m.username:
        problems.append(f"{where} username: must not be empty")
    if m.auth == "password":
        problems += _one_of(
            where, "password", password_env=m.password_env, password_file=m.password_file
        )
    else:
        sources = {
            "token_file": m.token_file,
            "token_command": m.token_command,
            "client_id": m.client_id,
        }
        problems += _one_of(where, "xoauth2 token source", **sources)
        if m.client_id:
            if not (m.tenant or m.authority):
                problems.append(f"{where} tenant: client_id needs tenant (or authority)")
            problems += _one_of(
                where,
                "client secret",
                client_secret_env=m.client_secret_env,
                client_secret_file=m.client_secret_file,
            )
    for key in ("processed_folder", "quarantine_folder"):
        if getattr(m, key) == m.folder:
            problems.append(f"{where} {key}: must differ from folder {m.folder!r}")
    positive = (
        "poll_seconds",
        "idle_seconds",
        "batch_size",
        "batch_bytes",
        "timeout_seconds",
        "retry_initial_seconds",
        "retry_max_seconds",
    )
    problems += [
        f"{where} {key}: must be greater than 0" for key in positive if getattr(m, key) <= 0
    ]
    if m.idle_seconds > 29 * 60:
        problems.append(f"{where} idle_seconds: servers end IDLE after 30 minutes; use <= 1740")
    if m.retry_max_seconds < m.retry_initial_seconds:
        problems.append(f"{where} retry_max_seconds: must be >= retry_initial_seconds")
    return problems


def _one_of(where: str, what: str, **keys: object) -> list[str]:
    given = [key for key, value in keys.items() if value]
    if len(given) == 1:
        return []
    names = " or ".join(keys)
    if not given:
        return [f"{where} {what}: set {names}"]
    return [f"{where} {what}: set only one of {', '.join(given)}"]


def check_mailboxes(mailboxes: Sequence[MailboxSettings]) -> list[str]:
    """check_mailbox for each, plus names that must be unique (checkpoints are keyed by name)."""
    problems = [p for m in mailboxes for p in check_mailbox(m)]
    seen: set[str] = set()
    for m in mailboxes:
        if m.name in seen:
            problems.append(f"[[mailboxes]] name: {m.name!r} is used twice")
        seen.add(m.name)
    return problems


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; names are not resolved."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
