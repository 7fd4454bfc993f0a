from pathlib import Path

import pytest

from daemon import config
from daemon.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_is_valid_as_is():
    settings = config.load(ROOT / "config.toml")
    assert settings.database.auto_upgrade is True
    assert settings.outbox.transport == "files"


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = tmp_path / "etc" / "config.toml"
    path.parent.mkdir()
    path.write_text('[maildir]\npath = "mail/in"\n[templates]\ndirectory = "tpl"\n')
    settings = config.load(path)
    assert settings.maildir.path == path.parent.resolve() / "mail/in"
    assert settings.templates.directory == path.parent.resolve() / "tpl"


def test_relative_sqlite_url_resolves_against_the_config_folder(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "sqlite:///var/db.sqlite"\n')
    url = config.database_url(config.load(path))
    assert url == f"sqlite:///{tmp_path.resolve()}/var/db.sqlite"


def test_bad_value_names_file_line_key_and_reason(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[smtp]\nhost = "mail"\nport = "twenty-five"\n')
    with pytest.raises(ConfigError) as err:
        config.load(path)
    message = str(err.value)
    assert f"{path}:3" in message
    assert "[smtp] port" in message
    assert "twenty-five" in message


def test_unknown_key_is_refused_by_name(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[outbox]\ntransprot = "smtp"\n')
    with pytest.raises(ConfigError, match=r"\[outbox\] transprot"):
        config.load(path)


def test_invalid_toml_says_so_with_the_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[service\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(path)


def test_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError, match="--config"):
        config.load(tmp_path / "nope.toml")


def test_secret_from_an_unset_environment_variable_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_SECRET_VAR", raising=False)
    path = tmp_path / "config.toml"
    path.write_text('[smtp]\npassword_env = "NO_SUCH_SECRET_VAR"\n')
    with pytest.raises(ConfigError, match="NO_SUCH_SECRET_VAR"):
        config.load(path)


def test_secret_is_read_from_a_file(tmp_path):
    (tmp_path / "pw").write_text("s3cret\n")
    path = tmp_path / "config.toml"
    path.write_text('[smtp]\npassword_file = "pw"\n')
    settings = config.load(path)
    assert config.resolve_secret(None, settings.smtp.password_file, "pw") == "s3cret"


def test_masked_settings_hide_the_database_password(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "postgresql+psycopg://app:hunter2@db/complaints"\n')
    shown = config.masked(config.load(path))
    assert "hunter2" not in str(shown)
    assert shown["database"]["url"] == "postgresql+psycopg://app:****@db/complaints"


def test_clear_text_smtp_login_to_a_remote_host_is_refused(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[smtp]\nhost = "smtp.example.com"\nusername = "u"\nsecurity = "none"\n')
    with pytest.raises(ConfigError, match="starttls"):
        config.load(path)


def test_unknown_time_zone_is_refused(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[service]\ntimezone = "Asia/Beijing"\n')
    with pytest.raises(ConfigError, match="unknown time zone"):
        config.load(path)


def test_relative_paths_in_dataclass_sections_resolve_against_the_config_folder(tmp_path):
    path = tmp_path / "etc" / "config.toml"
    path.parent.mkdir()
    path.write_text(
        '[classifier]\nextra_rules = ["local.toml", "/abs/more.toml"]\nmodel = "shop.model"\n'
        '[[mailboxes]]\nname = "inbox"\nhost = "imap.example.com"\nusername = "u"\n'
        'password_file = "secrets/imap"\n'
    )
    settings = config.load(path)
    folder = path.parent.resolve()
    assert settings.classifier.extra_rules == (folder / "local.toml", Path("/abs/more.toml"))
    assert settings.classifier.model == folder / "shop.model"
    assert settings.mailboxes[0].password_file == folder / "secrets/imap"


def test_calendar_time_zone_is_refused_naming_the_service_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[service]\ntimezone = "UTC"\n\n[calendar]\ntimezone = "Asia/Tokyo"\n')
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(err.value).startswith(f"{path}:5: [calendar] timezone: no longer read; ")
    assert "set [service] timezone instead" in str(err.value)


def test_deadlines_use_the_service_time_zone(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[service]\ntimezone = "Europe/Berlin"\n')
    assert config.load(path).calendar.timezone == "Europe/Berlin"


def test_clocks_severity_scale_is_refused_naming_the_classifier_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[clocks]\nreminders = [0.5]\nseverity_scale = ["low", "high"]\n')
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(err.value).startswith(f"{path}:3: [clocks] severity_scale: no longer read; ")
    assert "set [classifier] severity_scale instead" in str(err.value)
