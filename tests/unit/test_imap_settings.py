"""[[mailboxes]] settings: the checks config.py runs, the cloud each login goes to, and that
loading the configuration leaves the IMAP client and TLS unloaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from daemon.sources.imap_auth import authority_of, scope_of
from daemon.sources.imap_settings import MailboxSettings, check_mailbox, check_mailboxes


def test_importing_the_config_loads_neither_imapclient_nor_ssl() -> None:
    probe = (
        "import sys, daemon.config\n"
        "print(sorted(m for m in ('imapclient', 'ssl', 'daemon.sources.imap') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_security_none_is_refused_for_a_remote_host() -> None:
    settings = MailboxSettings(
        name="exmail",
        host="imap.exmail.qq.com",
        port=143,
        security="none",
        username="a@b.cn",
        password_env="PW",
    )
    (problem,) = check_mailbox(settings)
    assert "security" in problem and "imap.exmail.qq.com" in problem


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.53"])
def test_security_none_is_allowed_for_a_loopback_host(host: str) -> None:
    settings = MailboxSettings(
        name="local", host=host, port=143, security="none", username="a", password_env="PW"
    )
    assert check_mailbox(settings) == []


def test_xoauth2_needs_exactly_one_token_source() -> None:
    settings = MailboxSettings(
        name="m365",
        host="outlook.office365.com",
        username="a@b.cn",
        auth="xoauth2",
        token_command=("tok",),
        token_file=Path("/run/token"),
    )
    assert check_mailbox(settings) == [
        "[[mailboxes]] 'm365' xoauth2 token source: set only one of token_file, token_command"
    ]


def test_msal_client_credentials_need_a_tenant_and_a_secret() -> None:
    settings = MailboxSettings(
        name="m365",
        host="outlook.office365.com",
        username="a@b.cn",
        auth="xoauth2",
        client_id="app",
    )
    problems = check_mailbox(settings)
    assert any("tenant" in p for p in problems)
    assert any("client secret" in p for p in problems)


def test_mailbox_names_must_be_unique() -> None:
    one = MailboxSettings(name="inbox", host="localhost", username="a", password_env="PW")
    assert check_mailboxes([one, one])[-1] == "[[mailboxes]] name: 'inbox' is used twice"


def test_the_processed_folder_cannot_be_the_watched_folder() -> None:
    settings = MailboxSettings(
        name="m", host="localhost", username="a", password_env="PW", processed_folder="INBOX"
    )
    assert check_mailbox(settings) == [
        "[[mailboxes]] 'm' processed_folder: must differ from folder 'INBOX'"
    ]


def test_the_china_cloud_uses_its_own_sign_in_host_and_exchange_scope() -> None:
    settings = MailboxSettings(
        name="cn",
        host="partner.outlook.cn",
        username="a@b.cn",
        auth="xoauth2",
        client_id="app",
        cloud="china",
        tenant="contoso.partner.onmschina.cn",
        client_secret_env="SECRET",
    )
    assert authority_of(settings) == (
        "https://login.partner.microsoftonline.cn/contoso.partner.onmschina.cn"
    )
    assert scope_of(settings) == "https://partner.outlook.cn/.default"


def test_the_global_cloud_is_the_default() -> None:
    settings = MailboxSettings(
        name="m365",
        host="outlook.office365.com",
        username="a@b.com",
        auth="xoauth2",
        client_id="app",
        tenant="contoso.onmicrosoft.com",
        client_secret_env="SECRET",
    )
    assert authority_of(settings) == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    assert scope_of(settings) == "https://outlook.office365.com/.default"
