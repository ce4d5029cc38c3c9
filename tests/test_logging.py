"""Logs never carry a secret: not in the message, its arguments, or a traceback."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.logging_setup import JsonFormatter, RedactingFormatter, guard_secrets, redact
from bot.settings import Settings

TOKEN = "555000111:AAFsecretSECRETsecretSECRETsecret123"
PASSWORD = "db-Pa55word-xyz"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream, handler
    logger.removeHandler(handler)


def test_every_secret_setting_is_redacted_without_being_listed() -> None:
    class WithWhatsApp(Settings):
        whatsapp_app_secret: SecretStr = SecretStr("")

    settings = WithWhatsApp.model_validate(
        {
            "telegram_bot_token": TOKEN,
            "whatsapp_app_secret": "wa-app-secret-42",
            "database_url": f"postgresql://aduan:{PASSWORD}@db/aduan",
        }
    )
    derived = settings.webhook_secret()  # made from the token: a secret too
    assert sorted(settings.secrets()) == sorted([TOKEN, "wa-app-secret-42", PASSWORD, derived])
    guard_secrets(settings.secrets())
    assert redact("signature check with wa-app-secret-42 failed") == (
        "signature check with <redacted> failed"
    )


def test_token_and_password_vanish_from_messages_arguments_and_tracebacks(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, _ = captured
    guard_secrets([TOKEN, PASSWORD])
    logger.info("calling https://api.telegram.org/bot%s/getMe", TOKEN)
    logger.warning("connecting with password %s", PASSWORD)
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        logger.exception("start failed")
    text = stream.getvalue()
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert PASSWORD not in text
    assert "https://api.telegram.org/bot<redacted>/getMe" in text
    assert "The token `<redacted>` was rejected" in text


def test_url_passwords_and_bare_tokens_are_caught_even_when_not_registered() -> None:
    assert redact("postgresql+asyncpg://aduan:hunter2@db:5432/aduan failed") == (
        "postgresql+asyncpg://aduan:***@db:5432/aduan failed"
    )
    assert redact("token 123456789:AAH1234567890abcdefghijABCDEFGHIJ-_x") == "token <redacted>"
    assert redact("ticket ADU-2611-0042 at 10:30") == "ticket ADU-2611-0042 at 10:30"


def test_json_lines_are_redacted_objects_with_extras_and_the_traceback() -> None:
    guard_secrets([TOKEN])
    formatter = JsonFormatter()
    try:
        raise ValueError(f"bad {TOKEN}")
    except ValueError:
        record = logging.getLogger("bot.x").makeRecord(
            "bot.x",
            logging.ERROR,
            __file__,
            1,
            "update %s failed",
            ("tg:1",),
            exc_info=sys.exc_info(),
            extra={"reason": "not an officer"},
        )
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "bot.x"
    assert entry["message"] == "update tg:1 failed"
    assert entry["reason"] == "not an officer"
    assert "ValueError: bad <redacted>" in entry["exception"]
    assert TOKEN not in line
