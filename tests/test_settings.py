"""Settings: every key documented, the environment wins over .env, bad values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, settings_problems

ROOT = Path(__file__).resolve().parent.parent
KEYS = sorted(name.upper() for name in Settings.model_fields)


def test_every_setting_is_in_env_example_with_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    for key in KEYS:
        index = next((i for i, line in enumerate(lines) if line.startswith(f"{key}=")), None)
        assert index is not None, f"{key} missing from .env.example"
        above = lines[index - 1]
        assert above.startswith("#") or above.startswith(tuple(f"{k}=" for k in KEYS)), key


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [key for key in KEYS if f"`{key}`" not in readme] == []


@pytest.fixture
def env_file_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose ``.env`` the settings read, as ``aduan`` does."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(Settings.model_config, "env_file", ".env")
    return tmp_path / ".env"


def test_environment_overrides_the_env_file(
    env_file_here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file_here.write_text("ADMIN_CHAT_ID=-100111\nLOG_LEVEL=DEBUG\n")
    monkeypatch.setenv("ADMIN_CHAT_ID", "-100222")
    settings = Settings()
    assert settings.admin_chat_id == -100222
    assert settings.log_level == "DEBUG"


def test_the_token_is_not_printed_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:SECRET-TOKEN")
    settings = Settings(_env_file=None)
    assert "SECRET-TOKEN" not in repr(settings)
    assert settings.telegram_bot_token.get_secret_value() == "123:SECRET-TOKEN"


@pytest.mark.parametrize(
    "url", ["api.telegram.org", "http://127.0.0.1:8081/bot", "ftp://example.org"]
)
def test_the_api_base_url_is_scheme_host_and_port(url: str) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"telegram_api_base_url": url})


def test_without_a_token_telegram_is_off_and_nothing_is_missing() -> None:
    settings = Settings.model_validate({"admin_chat_id": -1001})
    assert not settings.telegram_on
    assert settings.missing_keys() == []
    assert settings.telegram_state() == "Telegram off: no TELEGRAM_BOT_TOKEN"


def test_a_token_without_admin_chat_id_is_set_up_mode() -> None:
    settings = Settings.model_validate({"telegram_bot_token": "123:abc"})
    assert settings.telegram_on and settings.setup_mode


def test_webhook_mode_needs_a_public_url() -> None:
    settings = Settings.model_validate(
        {"telegram_bot_token": "123:abc", "telegram_mode": "webhook"}
    )
    with pytest.raises(SystemExit, match="PUBLIC_URL"):
        settings.require_telegram()


def test_a_heartbeat_too_slow_for_the_leases_it_keeps_is_refused() -> None:
    with pytest.raises(ValidationError, match="WORKER_HEARTBEAT_SECONDS"):
        Settings.model_validate({"outbox_lease_seconds": 4, "worker_heartbeat_seconds": 2})
    assert Settings.model_validate({"outbox_lease_seconds": 6, "worker_heartbeat_seconds": 2})


def test_whatsapp_keys_without_the_phone_number_id_are_named_not_ignored() -> None:
    settings = Settings.model_validate(
        {
            "whatsapp_access_token": "EAAG-token",
            "whatsapp_app_secret": "app-secret",
            "whatsapp_verify_token": "verify",
        }
    )
    assert not settings.whatsapp_on
    assert settings.missing_keys() == ["WHATSAPP_PHONE_NUMBER_ID"]
    with pytest.raises(SystemExit, match="WHATSAPP_PHONE_NUMBER_ID"):
        settings.require_telegram()


def test_empty_values_from_env_example_count_as_unset(env_file_here: Path) -> None:
    env_file_here.write_text("TELEGRAM_BOT_TOKEN=\nADMIN_CHAT_ID=\n")
    settings = Settings()
    assert not settings.telegram_on and settings.admin_chat_id == 0


def test_the_sample_city_file_is_found_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.model_validate({"city_config_path": "bot/city.yaml"})
    assert settings.city().city_name == "Kota Blitar"


def test_a_broken_city_file_is_explained(tmp_path: Path) -> None:
    city = tmp_path / "city.yaml"
    city.write_text(
        "agencies: []\ncategories:\n  - {code: jalan, name: {id: Jalan}, agency: pupr}\n"
    )
    settings = Settings.model_validate({"city_config_path": city})
    with pytest.raises(SystemExit, match="unknown agency pupr"):
        settings.city()


def test_cli_explains_invalid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main

    monkeypatch.setenv("ADMIN_CHAT_ID", "not-a-number")
    with pytest.raises(SystemExit, match="ADMIN_CHAT_ID"):
        main(["migrate"])


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"REDIS_URL": "foo"}, "REDIS_URL must start with redis://, rediss:// or unix://"),
        (
            {"TELEGRAM_MODE": "webhook", "PUBLIC_URL": "http://aduan.example.go.id"},
            "PUBLIC_URL must start with https:// for TELEGRAM_MODE=webhook",
        ),
    ],
)
def test_run_stops_with_one_line_on_a_wrong_redis_url_or_a_plain_http_webhook(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], said: str
) -> None:
    from bot.cli import main

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as stop:
        main(["run"])
    assert isinstance(stop.value.code, str) and "\n" not in stop.value.code
    assert said in stop.value.code


def test_default_language_is_checked_against_the_catalogs() -> None:
    assert Settings.model_validate({"default_language": "EN"}).default_language == "en"
    with pytest.raises(ValidationError, match="DEFAULT_LANGUAGE"):
        Settings.model_validate({"default_language": "en_US"})


def test_hosted_postgres_urls_with_sslmode_work_with_asyncpg() -> None:
    from storage.database import normalise_url

    url = normalise_url("postgresql://aduan:pw@db.example.org/aduan?sslmode=require")
    assert url == "postgresql+asyncpg://aduan:pw@db.example.org/aduan?ssl=require"


def test_an_unwritable_media_folder_stops_the_start(tmp_path: Path) -> None:
    from bot.startup import check_writable

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit, match="MEDIA_DIR"):
        check_writable(blocker / "media")


def test_a_token_with_quotes_or_spaces_is_refused_without_being_repeated() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({"telegram_bot_token": "'123456:AAsecret-part' "})
    [problem] = settings_problems(caught.value)
    assert problem == (
        "TELEGRAM_BOT_TOKEN does not look like a token from @BotFather "
        "(digits, a colon, letters; no quotes or spaces)"
    )


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (
            {"log_level": "verbose"},
            "LOG_LEVEL must be one of: DEBUG, INFO, WARNING, ERROR, CRITICAL",
        ),
        ({"log_format": "xml"}, "LOG_FORMAT must be text or json"),
        ({"admin_chat_id": 1234}, "ADMIN_CHAT_ID must be a group's id, which is negative"),
        (
            {"database_url": "mysql://u:pw@db/x"},
            "DATABASE_URL names mysql; only SQLite and PostgreSQL are supported",
        ),
        ({"database_url": "postgresql://u:pw@db"}, "DATABASE_URL names no PostgreSQL database"),
    ],
)
def test_wrong_values_are_explained_by_their_key(values: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate(values)
    [found] = settings_problems(caught.value)
    assert found.startswith(problem)
    assert "pw" not in found


def test_log_settings_are_read_in_any_case() -> None:
    settings = Settings.model_validate({"log_level": "debug", "log_format": "JSON"})
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
