"""Ticket numbers as people type them: ``adu 2611 0042``, ``#ADU26110042``, ``tiket ADU-…``."""

from __future__ import annotations

import re

# A lookup may carry a couple of words around the number ("tiket", "cek status"),
# but a longer text that merely mentions a ticket is a message, not a lookup.
LOOKUP_WORDS = 2
LOOKUP_REST = 20


def ticket_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?<![0-9A-Za-z])#?{re.escape(prefix)}[\s._/-]*(\d{{4}})[\s._/-]*(\d{{4,}})(?!\d)",
        re.IGNORECASE,
    )


class TicketReader:
    """Finds a ticket number in typed text and writes it the way it is stored."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.pattern = ticket_pattern(prefix)

    def find(self, text: str) -> str | None:
        match = self.pattern.search(text)
        if match is None:
            return None
        return f"{self.prefix}-{match.group(1)}-{match.group(2)}"

    def lookup(self, text: str) -> str | None:
        """The ticket when ``text`` is (nearly) only a ticket number, else None."""
        match = self.pattern.search(text)
        if match is None:
            return None
        rest = re.sub(r"[^\w\s]", " ", text[: match.start()] + " " + text[match.end() :])
        words = rest.split()
        if len(words) > LOOKUP_WORDS or len(" ".join(words)) > LOOKUP_REST:
            return None
        return f"{self.prefix}-{match.group(1)}-{match.group(2)}"
