"""[replies]: the reply-token keys, who may do what, and what a config without keys says."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon import config
from daemon.config import ConfigError

PERSON = (
    '[[org.people]]\nkey = "zheng_hao"\nname = "郑浩"\nemail = "zheng.hao@dealer.test"\n'
    'role = "service_manager"\n'
)
KEY = "a-long-enough-reply-signing-secret"


def load(tmp_path: Path, text: str) -> config.Settings:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    return str(err.value)


def test_a_key_file_beside_the_config_is_read(tmp_path: Path) -> None:
    (tmp_path / "k1.key").write_text(KEY + "\n")
    settings = load(tmp_path, '[replies]\nsigning_key = "k1"\nsecrets.k1 = { file = "k1.key" }\n')
    assert config.reply_secrets(settings) == {"k1": KEY.encode()}


def test_a_key_from_the_environment_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLY_KEY", KEY)
    settings = load(tmp_path, '[replies]\nsigning_key = "k1"\nsecrets.k1 = { env = "REPLY_KEY" }\n')
    assert config.reply_secrets(settings) == {"k1": KEY.encode()}


def test_the_signing_key_must_be_one_of_the_secrets(tmp_path: Path) -> None:
    (tmp_path / "k1.key").write_text(KEY)
    text = '[replies]\nsigning_key = "k2"\nsecrets.k1 = { file = "k1.key" }\n'
    assert "[replies] signing_key: 'k2' is not one of [replies] secrets (k1)" in refused(
        tmp_path, text
    )


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k1.key").write_text("short")
    text = '[replies]\nsigning_key = "k1"\nsecrets.k1 = { file = "k1.key" }\n'
    assert "shorter than 16 characters" in refused(tmp_path, text)


def test_an_unset_environment_variable_is_refused(tmp_path: Path) -> None:
    text = '[replies]\nsigning_key = "k1"\nsecrets.k1 = { env = "NO_SUCH_REPLY_KEY_VAR" }\n'
    assert "NO_SUCH_REPLY_KEY_VAR is not set" in refused(tmp_path, text)


def test_the_permission_table_names_known_commands_and_roles(tmp_path: Path) -> None:
    message = refused(tmp_path, '[replies.allowed]\nshut = ["legal"]\nclose = ["janitor"]\n')
    assert "[replies.allowed] shut: not a command" in message
    assert "[replies.allowed] close: unknown role 'janitor'" in message


def test_requiring_authentication_needs_trusted_servers(tmp_path: Path) -> None:
    assert "needs [tickets] trusted_authserv_ids" in refused(
        tmp_path, "[replies]\nrequire_authentication = true\n"
    )


def test_staff_without_reply_keys_are_warned_that_replies_are_notes(tmp_path: Path) -> None:
    warnings = config.warnings(load(tmp_path, PERSON))
    assert any(w.startswith("[replies] secrets: none set") for w in warnings)
