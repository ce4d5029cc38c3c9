"""Typing instead of pressing: a typed label, a number or yes/no picks one of the choices
last offered, on every channel (other channels show choices as a numbered list in
the order they were offered, row by row)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from conversations.core.messages import NO, YES, Choice, Reply

# Emoji, their modifiers and joiners, and punctuation do not count when comparing a
# typed text with a label: "lewati" picks "Lewati ➡️", "anonim" picks "🕶️ Anonim".
_IGNORED = {"So", "Sk", "Cf", "Mn", "Me", "Cs", "Co"}


def plain(text: str) -> str:
    kept = []
    for char in unicodedata.normalize("NFKC", text):
        category = unicodedata.category(char)
        if category in _IGNORED:
            continue
        kept.append(" " if category.startswith("P") else char)
    return " ".join("".join(kept).casefold().split())


def flat(reply: Reply) -> list[Choice]:
    """The choices of a reply in the order they are offered, row by row."""
    return [choice for row in reply.choices for choice in row]


def to_stored(choices: Iterable[Choice]) -> list[dict[str, str]]:
    return [{"id": c.id, "label": c.label, "means": c.means} for c in choices]


def from_stored(stored: Sequence[dict[str, str]] | None) -> list[Choice]:
    return [
        Choice(str(c.get("id", "")), str(c.get("label", "")), str(c.get("means", "")))
        for c in stored or ()
        if c.get("id")
    ]


def parse_words(text: str) -> frozenset[str]:
    """A catalog list of words ("ya, iya, yes") as plain words."""
    return frozenset(plain(word) for word in text.split(",") if plain(word))


def pick(
    text: str,
    choices: Sequence[Choice],
    yes_words: frozenset[str] = frozenset(),
    no_words: frozenset[str] = frozenset(),
    numbers: bool = True,
) -> Choice | None:
    """The choice ``text`` names: its 1-based number, its label, or yes/no."""
    wanted = plain(text)
    if not wanted or not choices:
        return None
    if numbers and wanted.isdigit():
        number = int(wanted)
        return choices[number - 1] if 1 <= number <= len(choices) else None
    for choice in choices:
        if plain(choice.label) == wanted:
            return choice
    means = YES if wanted in yes_words else NO if wanted in no_words else None
    if means is not None:
        return next((c for c in choices if c.means == means), None)
    return None
