"""Typed settings: the environment first, then ``.env`` in the working directory."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.city_file import CityFileError, load_city
from conversations.core.config import CityConfig
from conversations.core.i18n import LANGUAGES
from storage.database import url_password, validate_url

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/kanal_aduan.db"
DEFAULT_MEDIA_DIR = Path("data/media")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _loopback(url: str) -> bool:
    """A URL on this machine (the fake Bot API of the tests and benchmarks)."""
    try:
        return urlsplit(url).hostname in LOOPBACK_HOSTS
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    telegram_bot_token: SecretStr = Field(default=SecretStr(""))
    telegram_api_base_url: str = "https://api.telegram.org"
    admin_chat_id: int = 0
    database_url: str = DEFAULT_DATABASE_URL
    city_config_path: Path = PACKAGE_DIR / "city.yaml"
    media_dir: Path = DEFAULT_MEDIA_DIR
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    default_language: str = "id"
    telegram_poll_timeout: int = Field(default=30, ge=0, le=50)

    outbox_interval_seconds: float = Field(default=1.0, gt=0)
    outbox_max_attempts: int = Field(default=8, ge=1)
    telegram_global_rate: float = Field(default=30.0, gt=0)
    telegram_private_rate: float = Field(default=1.0, gt=0)
    telegram_private_burst: int = Field(default=3, ge=1)
    telegram_group_per_minute: int = Field(default=20, ge=1)
    deadline_scan_minutes: float = Field(default=5.0, gt=0)
    outbox_batch: int = Field(default=100, ge=1)
    outbox_lease_seconds: float = Field(default=120.0, gt=0)
    outbox_backoff_base_seconds: float = Field(default=2.0, gt=0)
    outbox_backoff_max_seconds: float = Field(default=300.0, gt=0)
    statistics_cache_seconds: float = Field(default=300.0, gt=0)

    telegram_framework: Literal["ptb", "aiogram"] = "ptb"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_path: str = "/webhooks/telegram"
    telegram_webhook_secret: SecretStr = Field(default=SecretStr(""))
    public_url: str = ""
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)

    worker_heartbeat_seconds: float = Field(default=2.0, gt=0)
    worker_timeout_seconds: float = Field(default=10.0, gt=0)
    inbox_max_attempts: int = Field(default=5, ge=1)
    inbox_sweep_seconds: float = Field(default=1.0, gt=0)
    inbox_retention_days: int = Field(default=14, ge=1)
    redis_url: str = ""

    web_secret: SecretStr = Field(default=SecretStr(""))
    web_session_per_minute: int = Field(default=30, ge=1)
    web_address_per_minute: int = Field(default=120, ge=1)

    whatsapp_phone_number_id: str = ""
    whatsapp_access_token: SecretStr = Field(default=SecretStr(""))
    whatsapp_app_secret: SecretStr = Field(default=SecretStr(""))
    whatsapp_verify_token: SecretStr = Field(default=SecretStr(""))
    whatsapp_api_base_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "23.0"
    whatsapp_webhook_path: str = "/webhooks/whatsapp"
    whatsapp_rate: float = Field(default=80.0, gt=0)
    whatsapp_pair_seconds: float = Field(default=6.0, gt=0)
    whatsapp_pair_burst: int = Field(default=45, ge=1)

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if token and not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            # Never echo it: the message must be safe to print.
            raise ValueError(
                "TELEGRAM_BOT_TOKEN does not look like a token from @BotFather "
                "(digits, a colon, letters; no quotes or spaces)"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL must be one of: {', '.join(LOG_LEVELS)}")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        value = value.strip().lower() if isinstance(value, str) else value
        if value not in ("text", "json"):
            raise ValueError("LOG_FORMAT must be text or json")
        return value

    @field_validator("admin_chat_id")
    @classmethod
    def _group_id(cls, value: int) -> int:
        if value > 0:
            raise ValueError(
                "ADMIN_CHAT_ID must be a group's id, which is negative (e.g. -1001234567890); "
                "a positive id is a person's: send /id in the group to get its id"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        problem = validate_url(value)
        if problem:
            raise ValueError(f"DATABASE_URL {problem}")
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in LANGUAGES:
            raise ValueError(f"DEFAULT_LANGUAGE must be one of: {', '.join(LANGUAGES)}")
        return value

    @field_validator("telegram_api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("TELEGRAM_API_BASE_URL must start with http:// or https://")
        if value.endswith("/bot"):
            raise ValueError("TELEGRAM_API_BASE_URL is scheme, host and port only (no /bot)")
        return value

    @field_validator("whatsapp_api_base_url")
    @classmethod
    def _graph_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("WHATSAPP_API_BASE_URL must start with http:// or https://")
        if value.count("/") > 2:
            raise ValueError("WHATSAPP_API_BASE_URL is scheme, host and port only (no /v23.0)")
        return value

    @field_validator("whatsapp_api_version")
    @classmethod
    def _graph_version(cls, value: str) -> str:
        value = value.strip().removeprefix("v")
        if not re.fullmatch(r"\d+\.\d+", value):
            raise ValueError("WHATSAPP_API_VERSION is a Graph API version such as 23.0")
        return value

    @field_validator("whatsapp_phone_number_id")
    @classmethod
    def _phone_number_id(cls, value: str) -> str:
        value = value.strip()
        if value and not value.isdigit():
            raise ValueError(
                "WHATSAPP_PHONE_NUMBER_ID is the number's id from WhatsApp Manager (digits), "
                "not the phone number itself"
            )
        return value

    @field_validator("telegram_mode", "telegram_framework", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("PUBLIC_URL must start with https:// (or http:// for tests)")
        webhook = info.data.get("telegram_mode") == "webhook"
        if webhook and value.startswith("http://") and not _loopback(value):
            raise ValueError(
                "PUBLIC_URL must start with https:// for TELEGRAM_MODE=webhook: Telegram "
                "sends webhooks only over HTTPS (http:// only to 127.0.0.1 or localhost)"
            )
        return value

    @field_validator("worker_heartbeat_seconds")
    @classmethod
    def _heartbeat(cls, value: float, info: ValidationInfo) -> float:
        lease = info.data.get("outbox_lease_seconds")
        # A held row's lease is extended once half of it is left: a slower beat would
        # let another process take over (and send again) a row this one still holds.
        if lease is not None and value > lease / 3:
            raise ValueError(
                f"WORKER_HEARTBEAT_SECONDS ({value:g}) must be at most a third of "
                f"OUTBOX_LEASE_SECONDS ({lease:g})"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(REDIS_SCHEMES):
            # Never echo it: it may hold a password.
            raise ValueError(
                "REDIS_URL must start with redis://, rediss:// or unix:// "
                "(e.g. redis://127.0.0.1:6379/0); leave it empty to run without Redis"
            )
        return value

    @field_validator("telegram_webhook_path", "whatsapp_webhook_path")
    @classmethod
    def _webhook_path(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/"):
            raise ValueError("a webhook path must start with /")
        return value

    def webhook_secret(self) -> str:
        """The secret Telegram sends with every webhook call: the setting, or one
        derived from the token (the same in every process, never the token itself)."""
        given = self.telegram_webhook_secret.get_secret_value()
        if given:
            return given
        token = self.telegram_bot_token.get_secret_value()
        return hashlib.sha256(f"kanal-aduan-webhook:{token}".encode()).hexdigest()

    def city_path(self) -> Path:
        path = self.city_config_path
        if not path.is_absolute() and not path.exists():
            # A relative path from .env.example works from any working directory.
            path = PACKAGE_DIR.parent / path
        return path

    def city(self) -> CityConfig:
        """The city's YAML, validated; a clear message instead of a traceback when wrong."""
        try:
            return load_city(self.city_path())
        except CityFileError as error:
            raise SystemExit("CITY_CONFIG_PATH: " + "\n".join(error.problems)) from None

    @property
    def telegram_on(self) -> bool:
        """Telegram is used when a token is set; without one the web part runs alone."""
        return bool(self.telegram_bot_token.get_secret_value())

    @property
    def whatsapp_on(self) -> bool:
        """WhatsApp is used when a phone number id is set."""
        return bool(self.whatsapp_phone_number_id)

    @property
    def setup_mode(self) -> bool:
        """A token without ADMIN_CHAT_ID: Telegram only answers /id, to find that id."""
        return self.telegram_on and self.admin_chat_id == 0

    def missing_keys(self) -> list[str]:
        """Settings the configured channels cannot work without."""
        wa = not self.whatsapp_on
        wa_keys = (
            self.whatsapp_access_token,
            self.whatsapp_app_secret,
            self.whatsapp_verify_token,
        )
        wa_begun = any(key.get_secret_value() for key in wa_keys)
        required = (
            # The other keys without it would leave WhatsApp silently off.
            ("WHATSAPP_PHONE_NUMBER_ID", not wa_begun or self.whatsapp_on),
            (
                "PUBLIC_URL (needed for TELEGRAM_MODE=webhook)",
                not self.telegram_on or self.telegram_mode != "webhook" or bool(self.public_url),
            ),
            ("WHATSAPP_ACCESS_TOKEN", wa or bool(self.whatsapp_access_token.get_secret_value())),
            # Without it no webhook can be verified: anyone could post as any citizen.
            ("WHATSAPP_APP_SECRET", wa or bool(self.whatsapp_app_secret.get_secret_value())),
            ("WHATSAPP_VERIFY_TOKEN", wa or bool(self.whatsapp_verify_token.get_secret_value())),
        )
        return [name for name, ok in required if not ok]

    def require_telegram(self) -> None:
        missing = self.missing_keys()
        if missing:
            raise SystemExit(f"missing settings: {', '.join(missing)} (see .env.example)")

    def telegram_state(self) -> str:
        """How Telegram is used, for the start-up line."""
        if not self.telegram_on:
            return "Telegram off: no TELEGRAM_BOT_TOKEN"
        if self.setup_mode:
            return "Telegram in set-up mode: no ADMIN_CHAT_ID, it only answers /id"
        how: str = self.telegram_mode
        if self.telegram_framework != "ptb":
            how += f", {self.telegram_framework}"
        return f"Telegram on ({how}), complaint desk {self.admin_chat_id}"

    def secrets(self) -> list[str]:
        """Every value that must never be printed: each ``SecretStr`` setting, and the
        password of each URL setting (a database, a cache)."""
        values: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                values.append(value.get_secret_value())
            elif isinstance(value, str) and "://" in value:
                values.append(url_password(value) or "")
        if self.telegram_bot_token.get_secret_value():
            values.append(self.webhook_secret())
        return [value for value in values if value]


def settings_problems(error: ValidationError) -> list[str]:
    """One line per wrong setting, named as in ``.env``, never echoing the value."""
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]).upper() or "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        if message.startswith(key):
            problems.append(message)
        else:
            problems.append(f"{key}: {message}")
    return problems
