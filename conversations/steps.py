"""Shared shapes of a dialogue step: what it receives and what it decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from conversations.core.context import CoreContext
from conversations.core.domain import Dialogue
from conversations.core.messages import InboundKind, Location, Reply


@dataclass(frozen=True)
class StepInput:
    kind: InboundKind
    text: str | None = None
    choice: str | None = None
    location: Location | None = None
    attachment_id: int | None = None
    media_problem: str | None = None
    # Part of an album: several photos sent at once, each its own event.
    media_group: str | None = None


@dataclass
class Outcome:
    """The next step (None ends the dialogue) and what to say. ``prompted``: the
    replies already ask for ``step`` (no need to show its prompt after them)."""

    step: str | None
    replies: list[Reply] = field(default_factory=list)
    submit: bool = False
    advance: bool = True
    prompted: bool = False


@dataclass(frozen=True)
class Step:
    name: str
    prompt: Callable[[CoreContext, str, Dialogue], Reply]
    handle: Callable[[CoreContext, str, Dialogue, StepInput], Outcome]
    accepts_media: Callable[[CoreContext, Dialogue], bool] = lambda ctx, d: False
