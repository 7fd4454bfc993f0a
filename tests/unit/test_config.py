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


# -- the demo dealership and unfilled roles -----------------------------------------------------


def test_demo_dealership_fills_every_role_and_warns_of_nothing():
    settings = config.load(ROOT / "examples" / "dealership.toml")
    assert {p.role for p in settings.org.people} == {r.key for r in settings.org.roles}
    assert config.warnings(settings) == []


def test_demo_dealership_keeps_its_state_where_the_shipped_config_does():
    demo = config.load(ROOT / "examples" / "dealership.toml")
    shipped = config.load(ROOT / "config.toml")
    assert config.database_url(demo) == config.database_url(shipped)
    assert demo.maildir.path.resolve() == shipped.maildir.path.resolve()
    assert demo.outbox.directory.resolve() == shipped.outbox.directory.resolve()
    assert demo.templates.directory.resolve() == shipped.templates.directory.resolve()


def test_shipped_config_with_nobody_in_org_warns_once_that_nobody_is_assigned():
    (warning,) = config.warnings(config.load(ROOT / "config.toml"))
    assert "unassigned" in warning


def test_a_config_naming_one_person_loads_and_warns_of_what_reaches_nobody(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[[org.people]]\nkey = "zheng_hao"\nname = "郑浩"\nemail = "zheng.hao@dealer.test"\n'
        'role = "service_manager"\n'
    )
    warnings = config.warnings(config.load(path))
    assert "no legal: major complaints are not reported to legal" in warnings
    assert any(w.startswith("no general_manager: major complaints reach nobody") for w in warnings)


# -- where the CLI finds its config -------------------------------------------------------------


def test_config_named_on_the_command_line_comes_first(tmp_path):
    env = {"COMPLAINTD_CONFIG": "/elsewhere.toml"}
    assert config.config_path(Path("mine.toml"), env) == (Path("mine.toml"), True)


def test_config_named_in_the_environment_comes_next():
    env = {"COMPLAINTD_CONFIG": "/srv/c.toml"}
    assert config.config_path(None, env) == (Path("/srv/c.toml"), True)


def test_config_in_the_current_folder_comes_before_the_installed_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text("")
    installed = tmp_path / "etc" / "config.toml"
    installed.parent.mkdir()
    installed.write_text("")
    assert config.config_path(None, {}, installed) == (Path("config.toml"), False)


def test_installed_config_is_found_when_the_current_folder_has_none(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    installed = tmp_path / "etc" / "config.toml"
    installed.parent.mkdir()
    installed.write_text("")
    assert config.config_path(None, {}, installed) == (installed, False)


def test_without_any_config_the_current_folders_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "etc" / "config.toml"
    assert config.config_path(None, {}, missing) == (Path("config.toml"), False)


def test_the_installed_config_is_looked_for_in_etc():
    assert Path("/etc/complaintd/config.toml") == config.INSTALLED_CONFIG
