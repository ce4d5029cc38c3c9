"""Neutral replies -> the WhatsApp messages that show them, within WhatsApp's limits.

Up to three choices become reply buttons (titles at most 20 characters), up to ten
a list message (row titles at most 24), more a numbered text: typing the number or
the label of a choice always works (the core picks from the choices last offered).
Labels are shortened where they are longer; if shortening makes two alike, the
choices are numbered instead, since WhatsApp refuses two buttons of one title.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conversations.core.choices import flat
from conversations.core.messages import Choice, Location, Reply

TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # the body of an interactive message
CAPTION_LIMIT = 1024
BUTTONS_MAX = 3
BUTTON_TITLE = 20
ROWS_MAX = 10
ROW_TITLE = 24
ROW_DESCRIPTION = 72
ID_LIMIT = 200  # list row ids; reply button ids may be 256


@dataclass(frozen=True)
class Outgoing:
    """One WhatsApp message: ``kind`` is text, buttons, list, location_request,
    location or image."""

    kind: str
    text: str = ""
    options: tuple[tuple[str, str, str], ...] = field(default=())  # (id, title, description)
    location: Location | None = None


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


def numbered(text: str, choices: list[Choice]) -> str:
    lines = [f"{index}. {choice.label}" for index, choice in enumerate(choices, 1)]
    return text + "\n\n" + "\n".join(lines)


def _titles(choices: list[Choice], limit: int) -> list[str] | None:
    titles = [shorten(choice.label, limit) for choice in choices]
    if len(set(titles)) < len(titles) or any(len(c.id) > ID_LIMIT for c in choices):
        return None
    return titles


def render(reply: Reply, more: str = "⬇️") -> list[Outgoing]:
    """The messages that show ``reply``; photos are sent by the caller, with
    ``reply.text`` as the first photo's caption. ``more`` is the text of a second
    message that carries the choices one message cannot hold (e.g. "cancel" beside
    ten categories)."""
    if reply.location is not None:
        return [Outgoing("location", location=reply.location)]
    choices = flat(reply)
    messages: list[Outgoing] = []
    text = reply.text
    if reply.ask_location:
        *before, final = split_text(text, BODY_LIMIT)
        messages += [Outgoing("text", part) for part in before]
        messages.append(Outgoing("location_request", final))
        if not choices:
            return messages
        # The choices beside the location button (e.g. "skip") come in a message of
        # their own; its text only points at them.
        text = more
    if not choices:
        # WhatsApp refuses an empty text; a reply without words sends nothing.
        parts = split_text(text) if text.strip() else []
        return [*messages, *(Outgoing("text", part) for part in parts)]
    *before, body = split_text(text, BODY_LIMIT)
    messages += [Outgoing("text", part) for part in before]
    shown = _interactive(body, choices)
    if shown is not None:
        return [*messages, shown]
    # Ten categories and "cancel": a list, and the last row as buttons beneath it.
    last = list(reply.choices[-1]) if len(reply.choices) > 1 else []
    if last and len(choices) - len(last) <= ROWS_MAX and len(last) <= BUTTONS_MAX:
        head = _interactive(body, choices[: -len(last)])
        tail = _interactive(more, last)
        if head is not None and tail is not None and _unique([head, tail]):
            return [*messages, head, tail]
    # Too many to show as buttons: the citizen types the number or the label.
    return [*messages, *(Outgoing("text", part) for part in split_text(numbered(text, choices)))]


def _interactive(body: str, choices: list[Choice]) -> Outgoing | None:
    if len(choices) <= BUTTONS_MAX and (titles := _titles(choices, BUTTON_TITLE)) is not None:
        options = tuple((c.id, t, "") for c, t in zip(choices, titles, strict=True))
        return Outgoing("buttons", body, options)
    if len(choices) <= ROWS_MAX and (titles := _titles(choices, ROW_TITLE)) is not None:
        options = tuple(
            (c.id, t, shorten(c.label, ROW_DESCRIPTION) if t != c.label else "")
            for c, t in zip(choices, titles, strict=True)
        )
        return Outgoing("list", body, options)
    return None


def _unique(messages: list[Outgoing]) -> bool:
    """A title shown twice (on the list and on a button) would be ambiguous to tap."""
    titles = [title for message in messages for _, title, _ in message.options]
    return len(set(titles)) == len(titles)
