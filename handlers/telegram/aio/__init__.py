"""The Telegram channel on aiogram 3 (``TELEGRAM_FRAMEWORK=aiogram``): the same parts as
``handlers.telegram`` (python-telegram-bot), with aiogram's types and Bot."""
