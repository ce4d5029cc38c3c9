"""December 2026 in a small city, built through the core: the dataset the report tests know.

Around Christmas 2026 in Jakarta: Thu 24 December is cuti bersama (the sample city's
YAML), Fri 25 is a national holiday (Christmas), 26-27 the weekend; 1 January 2027
is a national holiday, Sat 2 January cuti bersama, Tue 5 January a national holiday
(Isra' Mi'raj). The report is taken at ``AS_OF``, Fri 15 January 2027 10:00 WIB.

Seven complaints are received in December (local time), two just outside it:

- A  pupr/jalan/telegram, Siti. Wed 23 Dec 16:00; verified Mon 28 Dec 10:00 (0.75 working
  days; due Wed 30 Dec: on time); dispatched 11:00, started Thu 31 Dec 09:00 (2.916667;
  due Wed 6 Jan: on time); resolved Mon 4 Jan 12:00 (4.833333 from submission); the
  citizen says it is fixed (closed) and rates it 4.
- B  pupr/jalan/whatsapp, Bambang. Fri 18 Dec 09:00; dispatched at once Mon 28 Dec 08:00
  (3.958333; due Wed 23 Dec: late); never started (due Wed 6 Jan: late, overdue now).
- C  dlh/sampah/telegram, Siti. Sat 26 Dec 10:00; rejected Mon 28 Dec 09:00 (0.375; on time).
- D  dlh/sampah/whatsapp, Bambang, rahasia. Thu 24 Dec (cuti) 13:00; not the city's
  authority Tue 29 Dec 12:00 (1.5; on time).
- E  pupr/jalan/telegram, Sulastri, anonim and rahasia. Mon 7 Dec 08:00; verified 14:00
  (0.25; on time), dispatched 14:00, started Tue 15 Dec 10:00 (5.833333; due Mon 14 Dec:
  late); resolved Wed 16 Dec 08:00; "not fixed" Thu 17 Dec 09:00 and reopened 09:05;
  resolved again Mon 21 Dec 10:00 (10.083333 from submission); fixed (closed), rated 2.
- F  dishub/pju/telegram, Siti. Wed 30 Dec 20:00; never verified (due Wed 6 Jan: late,
  overdue now).
- H  pupr/jalan/telegram, Siti. Thu 31 Dec 23:30 WIB (16:30 UTC); verified Mon 4 Jan 09:00
  (0.395833; due Thu 7 Jan: on time) but never dispatched: overdue now.
- G  Mon 30 Nov 23:30 WIB and I  Fri 1 Jan 00:30 WIB (still 31 Dec in UTC): not December.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.core.complaints import submit
from conversations.core.domain import Citizen, Complaint, Draft, Event
from conversations.core.handling import Actor, transition
from conversations.core.lifecycle import Action, Role
from conversations.core.survey import NOT_FIXED_EVENT
from storage import migrate
from storage.database import create_engine
from storage.tables import OutboxRow
from tests.conftest import postgres_url, reset_postgres
from tests.support.core import Core, build_core

WIB = ZoneInfo("Asia/Jakarta")
AS_OF = datetime(2027, 1, 15, 10, 0, tzinfo=WIB)
DESK = Actor(Role.DESK, "501", "Budi")
AGENCY = Actor(Role.AGENCY, "601", "Wati")

# Sulastri files anonymously only: her identity must appear in no report output.
ANONYMOUS_NAME = "Sulastri Wibowo"
ANONYMOUS_USERNAME = "sulastri_wib"
ANONYMOUS_ID = "987650001"
DESCRIPTION = "Jalan berlubang besar di depan sekolah, sudah seminggu belum diperbaiki."
CONFIDENTIAL_DESCRIPTION = (
    "Pembuangan limbah diam-diam di belakang pabrik tahu, mohon dirahasiakan."
)
CONFIDENTIAL_ADDRESS = "Gang Kenanga 7, belakang pabrik tahu"


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


@dataclass
class Dataset:
    tickets: dict[str, str]
    ids: dict[str, int]


class CityBuilder:
    """Files complaints and moves them, each step at its own moment."""

    def __init__(self, core: Core):
        self.core = core
        self.citizens: dict[str, Citizen] = {}
        self.complaints: dict[str, int] = {}
        self.tickets: dict[str, str] = {}

    async def citizen(
        self, key: str, name: str, channel: str, external_id: str, username: str | None = None
    ) -> None:
        async with self.core.ctx.uow() as uow:
            self.citizens[key] = await uow.citizens.add(
                Citizen(channel, external_id, external_id, name, username=username)
            )
            await uow.commit()

    async def file(
        self,
        name: str,
        who: str,
        category: str,
        at: datetime,
        description: str = DESCRIPTION,
        address: str | None = "Jl. Merdeka 5",
        anonymous: bool = False,
        confidential: bool = False,
    ) -> None:
        self.core.clock.moment = at
        draft = Draft(
            category=category,
            description=description,
            address=address,
            anonymous=anonymous,
            confidential=confidential,
        )
        async with self.core.ctx.uow() as uow:
            complaint = await submit(self.core.ctx, uow, self.citizens[who], draft)
            await uow.commit()
        assert complaint.id is not None
        self.complaints[name] = complaint.id
        self.tickets[name] = complaint.ticket

    async def _complaint(self, name: str) -> Complaint:
        async with self.core.ctx.uow() as uow:
            found = await uow.complaints.get(self.complaints[name])
        assert found is not None
        return found

    async def move(
        self, name: str, action: Action, actor: Actor, at: datetime, message: str | None = None
    ) -> None:
        self.core.clock.moment = at
        async with self.core.ctx.uow() as uow:
            complaint = await uow.complaints.get(self.complaints[name])
            assert complaint is not None
            needs = action in (Action.REJECT, Action.NOT_AUTHORITY, Action.REQUEST_INFO)
            text = message or ("Alasan untuk warga." if needs else None)
            await transition(self.core.ctx, uow, complaint, action, actor, message=text)
            await uow.commit()

    async def citizen_event(self, name: str, action: str, at: datetime) -> None:
        async with self.core.ctx.uow() as uow:
            await uow.events.add(
                Event(
                    complaint_id=self.complaints[name], at=at, action=action, actor_role="citizen"
                )
            )
            await uow.commit()

    async def rate(self, name: str, stars: int) -> None:
        async with self.core.ctx.uow() as uow:
            complaint = await uow.complaints.get(self.complaints[name])
            assert complaint is not None
            complaint.rating = stars
            assert await uow.complaints.update(complaint, complaint.version)
            await uow.commit()


async def december(core: Core) -> Dataset:
    city = CityBuilder(core)
    citizen = Actor(Role.CITIZEN)
    await city.citizen("siti", "Siti Rahayu", "telegram", "7770123", "siti_rahayu")
    await city.citizen("bambang", "Bambang Sutrisno", "whatsapp", "6281234567890")
    await city.citizen("sulastri", ANONYMOUS_NAME, "telegram", ANONYMOUS_ID, ANONYMOUS_USERNAME)

    await city.file("G", "siti", "jalan", wib(2026, 11, 30, 23, 30))
    await city.file(
        "E",
        "sulastri",
        "jalan",
        wib(2026, 12, 7, 8),
        anonymous=True,
        confidential=True,
        description="Jembatan kayu di RT 3 patah, warga harus memutar jauh setiap hari.",
    )
    await city.move("E", Action.VERIFY, DESK, wib(2026, 12, 7, 14))
    await city.move("E", Action.DISPATCH, DESK, wib(2026, 12, 7, 14))
    await city.move("E", Action.START, AGENCY, wib(2026, 12, 15, 10))
    await city.move("E", Action.RESOLVE, AGENCY, wib(2026, 12, 16, 8), "Sudah diperbaiki.")
    await city.citizen_event("E", NOT_FIXED_EVENT, wib(2026, 12, 17, 9))
    await city.move("E", Action.REOPEN, citizen, wib(2026, 12, 17, 9, 5), "Masih patah.")
    await city.move("E", Action.RESOLVE, AGENCY, wib(2026, 12, 21, 10), "Diganti baru.")
    await city.move("E", Action.CLOSE, citizen, wib(2026, 12, 22, 9))
    await city.rate("E", 2)

    await city.file("B", "bambang", "jalan", wib(2026, 12, 18, 9))
    await city.file("A", "siti", "jalan", wib(2026, 12, 23, 16))
    await city.file(
        "D",
        "bambang",
        "sampah",
        wib(2026, 12, 24, 13),
        description=CONFIDENTIAL_DESCRIPTION,
        address=CONFIDENTIAL_ADDRESS,
        confidential=True,
    )
    await city.file("C", "siti", "sampah", wib(2026, 12, 26, 10))
    await city.move("B", Action.DISPATCH, DESK, wib(2026, 12, 28, 8))
    await city.move("C", Action.REJECT, DESK, wib(2026, 12, 28, 9))
    await city.move("A", Action.VERIFY, DESK, wib(2026, 12, 28, 10))
    await city.move("A", Action.DISPATCH, DESK, wib(2026, 12, 28, 11))
    await city.move("D", Action.NOT_AUTHORITY, DESK, wib(2026, 12, 29, 12))
    await city.file("F", "siti", "pju", wib(2026, 12, 30, 20))
    await city.move("A", Action.START, AGENCY, wib(2026, 12, 31, 9))
    await city.file("H", "siti", "jalan", wib(2026, 12, 31, 23, 30))
    await city.file("I", "siti", "jalan", wib(2027, 1, 1, 0, 30))
    await city.move("A", Action.RESOLVE, AGENCY, wib(2027, 1, 4, 12), "Sudah ditambal.")
    await city.move("H", Action.VERIFY, DESK, wib(2027, 1, 4, 9))
    await city.move("A", Action.CLOSE, citizen, wib(2027, 1, 5, 8))
    await city.rate("A", 4)
    core.clock.moment = AS_OF
    return Dataset(city.tickets, city.complaints)


@dataclass
class DecemberDatabase:
    url: str
    engine: AsyncEngine
    core: Core
    dataset: Dataset


async def module_database_url(kind: str, folder: Path, name: str) -> str:
    """An empty database a test module keeps for all its tests: a file in ``folder``, or
    a PostgreSQL database of its own (the worker's test database is emptied by every
    other test in between)."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{folder / 'aduan.db'}"
    url = make_url(postgres_url())
    own = url.set(database=f"{url.database}_{name}").render_as_string(hide_password=False)
    await reset_postgres(own)
    return own


@asynccontextmanager
async def december_database(url: str, folder: Path) -> AsyncIterator[DecemberDatabase]:
    """The database at ``url``, migrated, holding the December dataset with nothing left
    in the outbox. It takes seconds: test modules build it once."""
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        core = build_core(engine, folder / "media", now=AS_OF)
        dataset = await december(core)
        async with engine.begin() as connection:
            await connection.execute(update(OutboxRow).values(status="sent"))
        yield DecemberDatabase(url, engine, core, dataset)
    finally:
        await engine.dispose()
