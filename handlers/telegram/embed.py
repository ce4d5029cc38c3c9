"""The python-telegram-bot handler that hands Kanal Aduan's updates (``Claim``, in
``handlers.telegram.common``) from a city's existing ``Application`` to its inbox
(``bot.embed`` puts the parts together)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, ContextTypes

from handlers.telegram.common import Claim, Ingest


class KanalAduanHandler(BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]):
    """Add to an ``Application`` in a group before the host's handlers (``group=-1``): an
    update Kanal Aduan takes is stored in its inbox and goes no further."""

    def __init__(self, rule: Claim, ingest: Ingest):
        async def store(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            await ingest(update.to_dict())
            raise ApplicationHandlerStop

        super().__init__(store)
        self.rule = rule

    def check_update(self, update: object) -> bool:
        return isinstance(update, Update) and self.rule.takes(update.to_dict())
