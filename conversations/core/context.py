"""Everything the dialogues and the core need, handed over by ``bot`` (the wiring)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from conversations.core.config import CityConfig
from conversations.core.i18n import Catalog
from conversations.core.messages import ChatAddress
from conversations.core.ports import (
    Clock,
    FileStore,
    MediaFetcher,
    StoredFile,
    UnitOfWorkFactory,
)
from conversations.core.workdays import WorkingCalendar


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    description_min: int = 20
    description_max: int = 4000
    address_min: int = 5
    address_max: int = 500
    max_photos: int = 5
    max_photo_bytes: int = 10 * 1024 * 1024


@dataclass
class CoreContext:
    config: CityConfig
    catalog: Catalog
    calendar: WorkingCalendar
    uow: UnitOfWorkFactory
    files: FileStore
    desk_chat: ChatAddress
    clock: Clock = field(default_factory=SystemClock)
    fetchers: dict[str, MediaFetcher] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    wake_outbox: Callable[[], None] = lambda: None
    # Photos of events being handled, downloaded before their transaction opened.
    media_cache: dict[tuple[str, str], StoredFile] = field(default_factory=dict)

    def t(self, lang: str | None, key: str, **values: object) -> str:
        return self.catalog.t(lang, key, **values)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.calendar.tz)

    def format_date(
        self, moment: datetime | None, lang: str | None = None, with_time: bool = False
    ) -> str:
        """ "Senin, 7 Desember 2026" (with the time: "… pukul 09.12"), in the city's time zone;
        day and month names come from the catalog, not from the system locale."""
        if moment is None:
            return "-"
        local = self.local(moment)
        text = self.t(
            lang,
            "date.date",
            weekday=self.t(lang, f"date.weekday.{local.weekday()}"),
            day=local.day,
            month=self.t(lang, f"date.month.{local.month}"),
            year=local.year,
        )
        if with_time:
            text = self.t(lang, "date.with_time", date=text, hour=local.hour, minute=local.minute)
        return text

    def format_datetime(self, moment: datetime | None, lang: str | None = None) -> str:
        return self.format_date(moment, lang, with_time=True)
