"""Logging in to an IMAP mailbox: a password, or an XOAUTH2 token from a file, a command or MSAL.

Secrets are read at each login, never at import or config time, so a rotated password file or a
token refreshed by another program is picked up at the next reconnect.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from daemon.sources.imap_settings import MailboxSettings

TokenSource = Callable[[], str]

# Microsoft Entra ID sign-in hosts and the Exchange Online resource each cloud issues tokens for.
CLOUDS: dict[str, tuple[str, str]] = {
    "global": ("https://login.microsoftonline.com", "https://outlook.office365.com/.default"),
    # Microsoft 365 operated by 21Vianet (世纪互联): a separate directory and a separate Exchange.
    "china": ("https://login.partner.microsoftonline.cn", "https://partner.outlook.cn/.default"),
}


class CredentialError(Exception):
    """A password or token that cannot be obtained; the message never contains the secret."""


def authority_of(settings: MailboxSettings) -> str:
    """The MSAL authority URL: `authority` if given, else the cloud's sign-in host + tenant."""
    if settings.authority:
        return settings.authority.rstrip("/")
    return f"{CLOUDS[settings.cloud][0]}/{settings.tenant}"


def scope_of(settings: MailboxSettings) -> str:
    """The client-credentials scope: `scope` if given, else the cloud's Exchange Online default."""
    return settings.scope or CLOUDS[settings.cloud][1]


def read_secret(env: str | None, file: Path | None, what: str) -> str:
    """A secret from an environment variable or a file (surrounding whitespace dropped)."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise CredentialError(f"{what}: environment variable {env} is not set")
        return value
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CredentialError(f"{what}: cannot read {file}: {exc.strerror}") from None
        if not value:
            raise CredentialError(f"{what}: {file} is empty")
        return value
    raise CredentialError(f"{what}: neither an _env nor a _file key is set")


def token_source(settings: MailboxSettings) -> TokenSource:
    """Where this mailbox's XOAUTH2 access tokens come from (called once per login)."""
    if settings.token_file is not None:
        path = settings.token_file
        return lambda: read_secret(None, path, "token_file")
    if settings.token_command:
        return lambda: _run_token_command(settings.token_command, settings.timeout_seconds)
    if settings.client_id:
        return _MsalClientCredentials(settings)
    raise CredentialError("xoauth2 needs token_file, token_command or client_id")


def login(client: IMAPClient, settings: MailboxSettings, tokens: TokenSource | None) -> None:
    """Authenticate the connection as `settings.username`."""
    if settings.auth == "xoauth2":
        if tokens is None:
            raise CredentialError("xoauth2 without a token source")
        client.oauth2_login(settings.username, tokens())
        return
    password = read_secret(settings.password_env, settings.password_file, "password")
    client.login(settings.username, password)


def _run_token_command(argv: tuple[str, ...], timeout: float) -> str:
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise CredentialError(f"token_command: {argv[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise CredentialError(f"token_command: no token within {timeout:g}s") from None
    except OSError as exc:
        raise CredentialError(f"token_command: {argv[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [""])[-1][:200]
        raise CredentialError(f"token_command exited {done.returncode}: {said}")
    token = done.stdout.strip()
    if not token:
        raise CredentialError("token_command printed no token")
    return token


class _MsalClientCredentials:
    """OAuth2 client credentials through MSAL, which caches a token until shortly before expiry."""

    def __init__(self, settings: MailboxSettings) -> None:
        self._settings = settings
        self._app: Any = None

    def __call__(self) -> str:
        s = self._settings
        if self._app is None:
            import msal  # imported on first use: only Microsoft 365 mailboxes need it

            secret = read_secret(s.client_secret_env, s.client_secret_file, "client_secret")
            try:
                self._app = msal.ConfidentialClientApplication(
                    s.client_id,
                    client_credential=secret,
                    authority=authority_of(s),
                    timeout=s.timeout_seconds,
                    # An authority given in full is trusted as it is: no lookup at the global
                    # cloud, which a network inside China may not reach.
                    instance_discovery=False if s.authority else None,
                )
            except ValueError as exc:
                raise CredentialError(f"MSAL authority {authority_of(s)}: {exc}") from None
        result = self._app.acquire_token_for_client(scopes=[scope_of(s)])
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            self._app = None  # read the client secret again next time: it may have been rotated
            error = result.get("error", "no token") if isinstance(result, dict) else "no answer"
            detail = str(result.get("error_description", "")).splitlines() if result else []
            raise CredentialError(
                f"token from {authority_of(s)} for {scope_of(s)}: {error}"
                + (f": {detail[0][:200]}" if detail else "")
            )
        return str(token)
