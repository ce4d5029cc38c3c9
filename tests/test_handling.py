"""``transition``: one move, its history, the citizen's push and the card edits (no platform)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.core.domain import CardLink, Complaint
from conversations.core.handling import SYSTEM, Actor, Conflict, MessageRequired, transition
from conversations.core.lifecycle import Action, IllegalTransition, Role, Status
from conversations.engine import CitizenChat
from conversations.officer_desk import citizen_follow_up
from storage.database import session_factory
from storage.tables import OutboxRow
from tests.support.chat import Citizen
from tests.support.core import ADMIN_CHAT, Core, build_core

DESK = Actor(Role.DESK, "501", "Budi (meja aduan)")
AGENCY = Actor(Role.AGENCY, "601", "Wati (PUPR)")


@pytest.fixture
def core(engine: AsyncEngine, tmp_path: Path) -> Core:
    return build_core(engine, tmp_path / "media")


@pytest.fixture
def chat(core: Core) -> CitizenChat:
    chat = CitizenChat(core.ctx)
    chat.idle_handlers.append(citizen_follow_up)
    return chat


async def filed(core: Core, chat: CitizenChat, anonymous: bool = False) -> Complaint:
    siti = Citizen(core, chat)
    await siti.says("/lapor")
    await siti.presses("Jalan dan jembatan")
    await siti.says("Jalan di depan SDN 2 berlubang besar sejak seminggu, motor sering jatuh.")
    await siti.says("Jl. Merdeka no. 5, depan SDN 2")
    await siti.presses("Lewati ➡️")
    await siti.presses("🕶️ Anonim" if anonymous else "Biasa")
    await siti.presses("📨 Kirim")
    async with core.ctx.uow() as uow:
        complaints = await uow.complaints.for_citizen(1)
    return complaints[0]


async def move(
    core: Core, complaint_id: int, action: Action, actor: Actor, **kwargs: Any
) -> Complaint:
    async with core.ctx.uow() as uow:
        complaint = await uow.complaints.get(complaint_id)
        assert complaint is not None
        await transition(core.ctx, uow, complaint, action, actor, **kwargs)
        await uow.commit()
    return complaint


async def outbox(engine: AsyncEngine, kind: str | None = None) -> list[OutboxRow]:
    async with session_factory(engine)() as session:
        rows = (await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars()  # type: ignore[arg-type]
        return [row for row in rows if kind is None or row.kind == kind]


async def test_a_move_is_recorded_as_an_event_with_who_when_from_and_to(
    core: Core, chat: CitizenChat
) -> None:
    complaint = await filed(core, chat)
    assert complaint.id is not None
    moved = await move(core, complaint.id, Action.VERIFY, DESK)
    assert moved.status is Status.TERVERIFIKASI
    assert moved.version == complaint.version + 1
    async with core.ctx.uow() as uow:
        last = (await uow.events.for_complaint(complaint.id))[-1]
    assert (last.action, last.from_status, last.to_status) == ("verify", "baru", "terverifikasi")
    assert (last.actor_role, last.actor_id, last.actor_name) == ("desk", "501", "Budi (meja aduan)")
    assert last.at == core.clock.now()


async def test_every_move_queues_one_push_to_the_citizen_keyed_by_its_event(
    core: Core, chat: CitizenChat, engine: AsyncEngine
) -> None:
    complaint = await filed(core, chat)
    assert complaint.id is not None
    await move(core, complaint.id, Action.VERIFY, DESK)
    await move(core, complaint.id, Action.DISPATCH, DESK)
    pushes = await outbox(engine, "push")
    async with core.ctx.uow() as uow:
        events = (await uow.events.for_complaint(complaint.id))[1:]
    assert [p.dedupe_key for p in pushes] == [f"push:{e.id}" for e in events]
    assert all(p.chat_id == "1001" for p in pushes)
    text = pushes[-1].payload["reply"]["text"]
    assert complaint.ticket in text
    assert "Aduan Anda sudah diteruskan ke Dinas PUPR." in text
    assert "👉 Berikutnya: Dinas PUPR menindaklanjuti aduan Anda paling lambat" in text


async def test_cards_already_posted_are_edited_to_the_new_state(
    core: Core, chat: CitizenChat, engine: AsyncEngine
) -> None:
    complaint = await filed(core, chat)
    assert complaint.id is not None
    async with core.ctx.uow() as uow:
        await uow.cards.add(CardLink(ADMIN_CHAT, 77, complaint.id, "desk"))
        await uow.commit()
    await move(core, complaint.id, Action.VERIFY, DESK)
    (edit,) = await outbox(engine, "edit")
    assert edit.chat_id == ADMIN_CHAT and edit.payload["message_id"] == 77
    assert "Status: Terverifikasi" in edit.payload["reply"]["text"]
    assert "diverifikasi oleh Budi (meja aduan)" in edit.payload["reply"]["text"]
    buttons = [c["id"].split(":")[1] for row in edit.payload["reply"]["choices"] for c in row]
    assert "verify" not in buttons and "dispatch" in buttons


async def test_an_illegal_move_is_refused_and_changes_nothing(
    core: Core, chat: CitizenChat, engine: AsyncEngine
) -> None:
    complaint = await filed(core, chat)
    assert complaint.id is not None
    before = len(await outbox(engine))
    with pytest.raises(IllegalTransition) as refused:
        await move(core, complaint.id, Action.RESOLVE, AGENCY)
    assert refused.value.reason == "transition"
    async with core.ctx.uow() as uow:
        again = await uow.complaints.get(complaint.id)
        assert again is not None and again.status is Status.BARU
        assert again.version == complaint.version
        assert len(await uow.events.for_complaint(complaint.id)) == 1
    assert len(await outbox(engine)) == before


async def test_reject_needs_a_reason_the_citizen_reads(core: Core, chat: CitizenChat) -> None:
    complaint = await filed(core, chat)
    assert complaint.id is not None
    with pytest.raises(MessageRequired):
        await move(core, complaint.id, Action.REJECT, DESK)
    moved = await move(core, complaint.id, Action.REJECT, DESK, message="Bukan jalan kota.")
    assert moved.status is Status.DITOLAK


async def test_a_stale_version_loses_and_learns_who_won(core: Core, chat: CitizenChat) -> None:
    complaint = await filed(core, chat)
    assert complaint.id is not None
    async with core.ctx.uow() as uow:
        stale = await uow.complaints.get(complaint.id)  # the other officer's screen
    assert stale is not None
    await move(core, complaint.id, Action.VERIFY, DESK)
    async with core.ctx.uow() as uow:
        with pytest.raises(Conflict) as lost:
            await transition(core.ctx, uow, stale, Action.VERIFY, Actor(Role.DESK, "502", "Ani"))
    assert lost.value.winner == "Budi (meja aduan)"


async def test_the_scheduler_closes_a_resolved_complaint_as_the_system(
    core: Core, chat: CitizenChat
) -> None:
    complaint = await filed(core, chat)
    assert complaint.id is not None
    await move(core, complaint.id, Action.DISPATCH, DESK)
    await move(core, complaint.id, Action.START, AGENCY)
    await move(core, complaint.id, Action.RESOLVE, AGENCY, message="Lubang sudah ditambal.")
    closed = await move(core, complaint.id, Action.CLOSE, SYSTEM)
    assert closed.status is Status.DITUTUP and closed.closed_at == core.clock.now()


async def test_the_citizens_next_message_resumes_a_complaint_on_hold(
    core: Core, chat: CitizenChat, engine: AsyncEngine
) -> None:
    complaint = await filed(core, chat)
    assert complaint.id is not None
    await move(core, complaint.id, Action.VERIFY, DESK)
    await move(core, complaint.id, Action.REQUEST_INFO, DESK, message="Nomor rumah terdekat?")
    siti = Citizen(core, chat)
    await siti.says("Depan rumah nomor 12")
    assert "ditambahkan ke aduan" in siti.last_text
    async with core.ctx.uow() as uow:
        resumed = await uow.complaints.get(complaint.id)
        history = await uow.events.for_complaint(complaint.id)
    assert resumed is not None and resumed.status is Status.TERVERIFIKASI
    assert [e.action for e in history][-2:] == ["followup", "resume"]
    assert history[-2].public_message == "Depan rumah nomor 12"
    relayed = [r for r in await outbox(engine, "reply") if r.chat_id == ADMIN_CHAT]
    assert "Depan rumah nomor 12" in relayed[-1].payload["reply"]["text"]
