"""Which updates an embedding bot hands to Kanal Aduan, and the python-telegram-bot handler
that hands them over (``bot.embed`` puts the parts together).

The rule works on the raw update, the same for both frameworks. Kanal Aduan takes:
everything in its own chats (the complaint desk, the agencies' groups); in private chats
its commands, every message that is not a command (the complaint dialogue) and the
buttons pressed, except the commands and button prefixes the host keeps. Everything else
(the host's commands, other groups) stays with the host's handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, ContextTypes

from handlers.telegram.common import update_chat_id

# Every command the citizen dialogue and the officers' desk answer (with the aliases).
COMMANDS = frozenset(
    {
        "start", "menu", "lapor", "aduan_baru", "new", "batal", "cancel", "bahasa",
        "language", "aduansaya", "mine", "status", "bantuan", "help", "privasi", "privacy",
        "aduan", "antrian", "catatan", "laporan",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """Kanal Aduan's part of a shared bot's updates."""

    chats: frozenset[int]
    host_commands: frozenset[str] = frozenset()
    host_buttons: tuple[str, ...] = ()

    def takes(self, update: dict[str, Any]) -> bool:
        chat = update_chat_id(update)
        if chat in self.chats:
            return True
        query = update.get("callback_query")
        if isinstance(query, dict):
            message = query.get("message") or {}
            data = str(query.get("data") or "")
            private = (message.get("chat") or {}).get("type") == "private"
            return private and not data.startswith(self.host_buttons or ("\0",))
        message = update.get("message") or update.get("edited_message")
        if not isinstance(message, dict) or (message.get("chat") or {}).get("type") != "private":
            return False
        text = message.get("text")
        if not isinstance(text, str) or not text.startswith("/"):
            return True
        name = text[1:].split(maxsplit=1)[0].partition("@")[0].lower() if text[1:] else ""
        return name in COMMANDS and name not in self.host_commands


def claim(
    chats: Collection[int], host_commands: Collection[str] = (), host_buttons: Collection[str] = ()
) -> Claim:
    return Claim(
        frozenset(chats),
        frozenset(c.lstrip("/").lower() for c in host_commands),
        tuple(host_buttons),
    )


Ingest = Callable[[dict[str, Any]], Awaitable[None]]


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
