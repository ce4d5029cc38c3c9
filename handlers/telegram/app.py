"""The python-telegram-bot application: polling, one handler, neutral dispatch."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from conversations.core.messages import Inbound
from handlers.telegram.translate import from_update

log = logging.getLogger(__name__)

Dispatch = Callable[[Inbound], Awaitable[str | None]]
OnFailure = Callable[[Inbound | None], Awaitable[str | None]]


def build_application(
    token: str, base_url: str, dispatch: Dispatch, on_failure: OnFailure
) -> Application:  # type: ignore[type-arg]
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{base_url}/bot")
        .base_file_url(f"{base_url}/file/bot")
        .concurrent_updates(False)
        .build()
    )

    async def on_update(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not isinstance(update, Update):
            return
        inbound = from_update(update)
        notice: str | None = None
        try:
            if inbound is not None:
                notice = await dispatch(inbound)
        except Exception:
            log.exception("update %s failed", update.update_id)
            notice = await on_failure(inbound)
        finally:
            if update.callback_query is not None:
                try:
                    await update.callback_query.answer(notice)
                except Exception:
                    log.warning("could not answer callback query", exc_info=True)

    application.add_handler(TypeHandler(Update, on_update))
    return application
