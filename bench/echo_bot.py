"""The baseline of ``bench.intake``: a bare python-telegram-bot bot that answers every
update with one message (and a pressed button with answerCallbackQuery first).

    python -m bench.echo_bot   (settings from the environment, like ``aduan run``)

Nothing is stored and nothing is checked: the least any bot must do per update.
"""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler


async def echo(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not isinstance(update, Update):
        return
    if update.callback_query is not None:
        query = update.callback_query
        await query.answer()
        if query.message is not None:
            await context.bot.send_message(query.message.chat.id, "ok")
        return
    message = update.message
    if message is not None:
        await message.reply_text(message.text or "ok")


def main() -> None:
    base = os.environ["TELEGRAM_API_BASE_URL"]
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .concurrent_updates(256)
        .build()
    )
    application.add_handler(TypeHandler(Update, echo))
    application.run_polling(poll_interval=0.0, timeout=1, allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
