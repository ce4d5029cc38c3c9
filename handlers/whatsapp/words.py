"""Words a WhatsApp citizen types instead of Telegram's slash commands."""

from __future__ import annotations

import re

# Words a citizen types instead of a command; "status ADU-2025-000123" takes the rest.
WORDS = {
    "lapor": "lapor",
    "report": "lapor",
    "status": "status",
    "batal": "batal",
    "cancel": "batal",
    "menu": "menu",
    "start": "menu",
    "mulai": "menu",
    "bantuan": "bantuan",
    "help": "bantuan",
    "aduansaya": "aduansaya",
    "bahasa": "bahasa",
    "language": "bahasa",
    "privasi": "privasi",
    "privacy": "privasi",
}
WITH_ARGUMENTS = frozenset({"status"})


_SLASHED = re.compile(r"(?<![\w/])/(" + "|".join(sorted(WORDS, key=len, reverse=True)) + r")\b")


def without_slashes(text: str) -> str:
    """The catalogs' "/status ADU-…" as a WhatsApp citizen types it: "status ADU-…"."""
    return _SLASHED.sub(r"\1", text)
