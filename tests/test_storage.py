"""Storage contract: the same specification on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.core.domain import Citizen, Complaint, Dialogue, Draft, OutboxItem
from conversations.core.lifecycle import Status
from storage import migrate
from storage.database import session_factory
from storage.unit_of_work import SqlUnitOfWork
from tests.conftest import NEEDS_POSTGRES

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def uow_factory(engine: AsyncEngine) -> SqlUnitOfWork:
    return SqlUnitOfWork(session_factory(engine))


async def a_citizen(engine: AsyncEngine, external_id: str = "1001") -> Citizen:
    async with uow_factory(engine) as uow:
        citizen = await uow.citizens.add(
            Citizen(
                channel="telegram",
                external_id=external_id,
                chat_id=external_id,
                display_name="Siti",
            )
        )
        await uow.commit()
    return citizen


async def a_complaint(engine: AsyncEngine, citizen: Citizen) -> Complaint:
    assert citizen.id is not None
    async with uow_factory(engine) as uow:
        complaint = await uow.complaints.add(
            Complaint(
                ticket=await uow.complaints.next_ticket("ADU", NOW),
                citizen_id=citizen.id,
                channel="telegram",
                chat_id=citizen.chat_id,
                category="jalan",
                agency="pupr",
                description="Jalan berlubang di depan sekolah",
                created_at=NOW,
                verify_due=NOW + timedelta(days=5),
            )
        )
        await uow.commit()
    return complaint


async def test_migrations_run_twice_without_harm(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    citizen = await a_citizen(engine)
    assert citizen.id is not None


async def test_an_update_is_claimed_only_once(engine: AsyncEngine) -> None:
    async with uow_factory(engine) as uow:
        assert await uow.updates.claim("tg:1")
        await uow.commit()
    async with uow_factory(engine) as uow:
        assert not await uow.updates.claim("tg:1")


async def test_an_uncommitted_claim_is_forgotten(engine: AsyncEngine) -> None:
    async with uow_factory(engine) as uow:
        assert await uow.updates.claim("tg:2")
    async with uow_factory(engine) as uow:
        assert await uow.updates.claim("tg:2")


async def test_dialogue_state_survives_a_new_session(engine: AsyncEngine) -> None:
    citizen = await a_citizen(engine)
    assert citizen.id is not None
    draft = Draft(
        category="jalan",
        description="Lubang besar",
        latitude=-8.1,
        longitude=112.2,
        photo_ids=[3, 4],
        anonymous=True,
    )
    async with uow_factory(engine) as uow:
        await uow.dialogues.save(Dialogue(citizen.id, "photos", draft, back=["category"]))
        await uow.commit()
    async with uow_factory(engine) as uow:
        loaded = await uow.dialogues.get(citizen.id)
    assert loaded == Dialogue(citizen.id, "photos", draft, back=["category"])


async def test_tickets_are_unique_under_concurrent_submissions(engine: AsyncEngine) -> None:
    async def one() -> str:
        for _ in range(20):
            try:
                async with uow_factory(engine) as uow:
                    ticket = await uow.complaints.next_ticket("ADU", NOW)
                    await uow.commit()
                    return ticket
            except Exception:  # SQLite may report "database is locked" under contention
                await asyncio.sleep(0.05)
        raise AssertionError("no ticket")

    tickets = await asyncio.gather(*(one() for _ in range(10)))
    assert sorted(tickets) == [f"ADU-2611-{n:04d}" for n in range(1, 11)]


@NEEDS_POSTGRES
async def test_a_submission_does_not_wait_for_another_still_committing_on_postgresql(
    postgres_engine: AsyncEngine,
) -> None:
    # Several processes on PostgreSQL (SQLite has one writer: submissions queue there).
    async with uow_factory(postgres_engine) as slow, uow_factory(postgres_engine) as quick:
        first = await slow.complaints.next_ticket("ADU", NOW)
        # ``slow`` goes on writing its complaint; ``quick`` gets its number meanwhile.
        second = await asyncio.wait_for(quick.complaints.next_ticket("ADU", NOW), timeout=5)
        await quick.commit()
        await slow.commit()
    assert (first, second) == ("ADU-2611-0001", "ADU-2611-0002")


async def test_times_come_back_timezone_aware_and_equal(engine: AsyncEngine) -> None:
    complaint = await a_complaint(engine, await a_citizen(engine))
    assert complaint.id is not None
    async with uow_factory(engine) as uow:
        loaded = await uow.complaints.get(complaint.id)
    assert loaded is not None
    assert loaded.created_at == NOW
    assert loaded.verify_due == NOW + timedelta(days=5)
    assert loaded.status is Status.BARU


async def test_a_stale_version_does_not_overwrite(engine: AsyncEngine) -> None:
    complaint = await a_complaint(engine, await a_citizen(engine))
    assert complaint.id is not None
    async with uow_factory(engine) as uow:
        mine = await uow.complaints.get(complaint.id)
    async with uow_factory(engine) as uow:
        theirs = await uow.complaints.get(complaint.id)
    assert mine is not None and theirs is not None
    async with uow_factory(engine) as uow:
        mine.status = Status.TERVERIFIKASI
        assert await uow.complaints.update(mine, expected_version=1)
        await uow.commit()
    async with uow_factory(engine) as uow:
        theirs.status = Status.DITOLAK
        assert not await uow.complaints.update(theirs, expected_version=1)
        await uow.commit()
    async with uow_factory(engine) as uow:
        stored = await uow.complaints.get(complaint.id)
    assert stored is not None
    assert (stored.status, stored.version) == (Status.TERVERIFIKASI, 2)


async def test_ticket_lookup_ignores_case(engine: AsyncEngine) -> None:
    complaint = await a_complaint(engine, await a_citizen(engine))
    async with uow_factory(engine) as uow:
        found = await uow.complaints.by_ticket(complaint.ticket.lower())
    assert found is not None and found.id == complaint.id


async def test_the_outbox_refuses_a_second_row_with_the_same_key(engine: AsyncEngine) -> None:
    def push() -> OutboxItem:
        return OutboxItem(
            channel="telegram",
            chat_id="1001",
            kind="push",
            payload={"reply": {"text": "hi"}},
            dedupe_key="push:7",
        )

    async with uow_factory(engine) as uow:
        assert await uow.outbox.add(push())
        assert not await uow.outbox.add(push())
        await uow.commit()
    async with uow_factory(engine) as uow:
        assert not await uow.outbox.add(push())


async def test_my_complaints_are_mine_newest_first(engine: AsyncEngine) -> None:
    siti, budi = await a_citizen(engine, "1001"), await a_citizen(engine, "1002")
    first = await a_complaint(engine, siti)
    second = await a_complaint(engine, siti)
    await a_complaint(engine, budi)
    assert siti.id is not None
    async with uow_factory(engine) as uow:
        mine = await uow.complaints.for_citizen(siti.id)
    assert [c.id for c in mine] == [second.id, first.id]
