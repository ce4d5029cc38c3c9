"""Typed settings: the environment first, then ``.env`` in the working directory."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from conversations.core.config import CityConfig
from conversations.core.i18n import LANGUAGES

PACKAGE_DIR = Path(__file__).resolve().parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    telegram_bot_token: SecretStr = Field(default=SecretStr(""))
    telegram_api_base_url: str = "https://api.telegram.org"
    admin_chat_id: int = 0
    database_url: str = "sqlite+aiosqlite:///data/kanal_aduan.db"
    city_config_path: Path = PACKAGE_DIR / "city.yaml"
    media_dir: Path = Path("data/media")
    log_level: str = "INFO"
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

    @field_validator("telegram_mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("PUBLIC_URL must start with https:// (or http:// for tests)")
        return value

    @field_validator("telegram_webhook_path")
    @classmethod
    def _webhook_path(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/"):
            raise ValueError("TELEGRAM_WEBHOOK_PATH must start with /")
        return value

    def webhook_secret(self) -> str:
        """The secret Telegram sends with every webhook call: the setting, or one
        derived from the token (the same in every process, never the token itself)."""
        given = self.telegram_webhook_secret.get_secret_value()
        if given:
            return given
        token = self.telegram_bot_token.get_secret_value()
        return hashlib.sha256(f"kanal-aduan-webhook:{token}".encode()).hexdigest()

    def city(self) -> CityConfig:
        """The city's YAML, validated; a clear message instead of a traceback when wrong."""
        path = self.city_config_path
        if not path.is_absolute() and not path.exists():
            # A relative path from .env.example works from any working directory.
            path = PACKAGE_DIR.parent / path
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise SystemExit(f"CITY_CONFIG_PATH: cannot read {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise SystemExit(f"CITY_CONFIG_PATH: {path} is not valid YAML: {error}") from None
        try:
            return CityConfig.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                for e in error.errors()
            )
            raise SystemExit(f"CITY_CONFIG_PATH: {path}: {problems}") from None

    def require_telegram(self) -> None:
        missing = [
            name
            for name, ok in (
                ("TELEGRAM_BOT_TOKEN", bool(self.telegram_bot_token.get_secret_value())),
                ("ADMIN_CHAT_ID", self.admin_chat_id != 0),
            )
            if not ok
        ]
        if self.telegram_mode == "webhook" and not self.public_url:
            missing.append("PUBLIC_URL (needed for TELEGRAM_MODE=webhook)")
        if missing:
            raise SystemExit(f"missing settings: {', '.join(missing)} (see .env.example)")
