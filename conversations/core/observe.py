"""What the core reports about its work, for whoever measures it (Prometheus in ``bot``)."""

from __future__ import annotations

from typing import Protocol


class Observer(Protocol):
    def update_handled(self, channel: str, outcome: str, seconds: float) -> None:
        """An inbound update was applied (``handled``), ignored, failed once, or parked."""

    def message_settled(self, channel: str, outcome: str) -> None:
        """An outbox row's send ended: sent, retry_after, transient, forbidden, rejected..."""


class NoObserver:
    def update_handled(self, channel: str, outcome: str, seconds: float) -> None:
        return None

    def message_settled(self, channel: str, outcome: str) -> None:
        return None
