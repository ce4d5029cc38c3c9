"""The core wired to real storage with hand-written fakes for the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import PACKAGE_DIR
from conversations.core.config import CityConfig
from conversations.core.context import CoreContext
from conversations.core.i18n import Catalog
from conversations.core.messages import Channel, ChatAddress, MediaRef
from conversations.core.workdays import WorkingCalendar
from storage.database import session_factory
from storage.files import LocalFileStore
from storage.unit_of_work import SqlUnitOfWork

ADMIN_CHAT = "-1001"


class FrozenClock:
    """A clock the test moves by hand."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


class FakeMediaFetcher:
    """Serves bytes for file ids the test registered, like getFile would."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.fetched: list[str] = []

    def add(self, file_id: str, data: bytes) -> None:
        self.files[file_id] = data

    async def fetch(self, media: MediaRef) -> bytes:
        self.fetched.append(media.file_id)
        return self.files[media.file_id]


def sample_city() -> CityConfig:
    data = yaml.safe_load((PACKAGE_DIR / "city.yaml").read_text(encoding="utf-8"))
    return CityConfig.model_validate(data)


@dataclass
class Core:
    ctx: CoreContext
    clock: FrozenClock
    fetcher: FakeMediaFetcher


def build_core(engine: AsyncEngine, media_dir: Path, now: datetime | None = None) -> Core:
    config = sample_city()
    sessions = session_factory(engine)
    clock = FrozenClock(now or datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    fetcher = FakeMediaFetcher()
    ctx = CoreContext(
        config=config,
        catalog=Catalog.load(),
        calendar=WorkingCalendar(config.timezone, config.cuti_bersama, config.extra_working_days),
        uow=lambda: SqlUnitOfWork(sessions),
        files=LocalFileStore(media_dir),
        desk_chat=ChatAddress(Channel.TELEGRAM, ADMIN_CHAT),
        clock=clock,
        fetchers={Channel.TELEGRAM.value: fetcher},
    )
    return Core(ctx, clock, fetcher)
