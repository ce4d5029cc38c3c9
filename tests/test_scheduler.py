"""Reminders, escalations, surveys, auto-close and the digest, driven by a frozen clock."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.core.complaints import submit
from conversations.core.domain import Citizen, Complaint, Draft, OutboxItem
from conversations.core.duties import Duties
from conversations.core.handling import DESK_ROLE, Actor, agency_role, card_for, transition
from conversations.core.lifecycle import Action, Role, Status
from conversations.core.messages import Channel, ChatAddress, Inbound, InboundKind, Person
from conversations.core.survey import handle_choice, handle_comment
from storage.database import session_factory
from storage.schedule_queries import SqlScheduleQueries
from storage.tables import OutboxRow
from tests.support.core import ADMIN_CHAT, Core, build_core

WIB = ZoneInfo("Asia/Jakarta")
DESK = Actor(Role.DESK, "501", "Budi")
AGENCY = Actor(Role.AGENCY, "601", "Joko")
AGENCY_CHAT = "-2002"


def wib(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


@pytest.fixture
def core(engine: AsyncEngine, tmp_path: Path) -> Core:
    core = build_core(engine, tmp_path / "media", now=wib(2026, 12, 23, 9))
    # PUPR works in its own group; the digest is far away unless a test moves it.
    core.ctx.config.agency("pupr").chat_id = int(AGENCY_CHAT)  # type: ignore[union-attr]
    core.ctx.config.digest_time = time(23, 59)
    return core


@pytest.fixture
def duties(core: Core, engine: AsyncEngine) -> Duties:
    return Duties(core.ctx, SqlScheduleQueries(session_factory(engine)))


async def outbox(engine: AsyncEngine, prefix: str = "") -> list[OutboxRow]:
    async with session_factory(engine)() as session:
        rows = (await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars()  # type: ignore[arg-type]
        return [row for row in rows if row.dedupe_key.startswith(prefix)]


def text_of(row: OutboxRow) -> str:
    return str(row.payload["reply"]["text"])


async def file_complaint(core: Core, user: int = 1001, category: str = "jalan") -> Complaint:
    async with core.ctx.uow() as uow:
        citizen = await uow.citizens.add(
            Citizen("telegram", str(user), str(user), "Siti", language="id")
        )
        draft = Draft(category=category, description="Jalan berlubang besar di depan pasar")
        complaint = await submit(core.ctx, uow, citizen, draft)
        await uow.commit()
    return complaint


async def move(core: Core, complaint_id: int, action: Action, actor: Actor, **kw: Any) -> Complaint:
    async with core.ctx.uow() as uow:
        complaint = await uow.complaints.get(complaint_id)
        assert complaint is not None
        complaint = await transition(core.ctx, uow, complaint, action, actor, **kw)
        await uow.commit()
    return complaint


async def scan_at(core: Core, duties: Duties, moment: datetime) -> None:
    core.clock.moment = moment
    await duties.scan()


async def test_verify_reminder_then_daily_escalation_never_twice(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    c = await file_complaint(core)  # Wed 23 Dec 09:00; 24 cuti, 25 Christmas
    assert c.verify_due == datetime.combine(date(2026, 12, 30), time.max, tzinfo=WIB)
    await scan_at(core, duties, wib(2026, 12, 29, 23, 50))
    assert await outbox(engine, "remind:") == []
    await scan_at(core, duties, wib(2026, 12, 30, 0, 5))  # one working day left, but night
    assert await outbox(engine, "remind:") == []
    await scan_at(core, duties, wib(2026, 12, 30, 8, 5))  # office hours
    await scan_at(core, duties, wib(2026, 12, 30, 15, 0))  # scanning again changes nothing
    reminders = await outbox(engine, "remind:")
    assert len(reminders) == 1
    assert reminders[0].chat_id == ADMIN_CHAT
    assert c.ticket in text_of(reminders[0]) and "Rabu, 30 Desember 2026." in text_of(reminders[0])
    assert await outbox(engine, "escalate:") == []

    await scan_at(core, duties, wib(2026, 12, 31, 8, 0))  # overdue
    await scan_at(core, duties, wib(2026, 12, 31, 16, 0))
    escalations = await outbox(engine, "escalate:")
    assert [row.chat_id for row in escalations] == [ADMIN_CHAT]
    assert "terlambat 1 hari kerja" in text_of(escalations[0])
    await scan_at(core, duties, wib(2027, 1, 1, 9, 0))  # New Year: no escalation
    await scan_at(core, duties, wib(2027, 1, 2, 9, 0))  # Saturday (and cuti bersama)
    assert len(await outbox(engine, "escalate:")) == 1
    await scan_at(core, duties, wib(2027, 1, 4, 9, 0))  # Monday: once more
    await scan_at(core, duties, wib(2027, 1, 4, 10, 0))
    assert len(await outbox(engine, "escalate:")) == 2

    assert c.id is not None
    await move(core, c.id, Action.DISPATCH, DESK)  # acted on: escalations stop
    await scan_at(core, duties, wib(2027, 1, 5, 9, 0))
    assert len(await outbox(engine, "escalate:")) == 2


async def test_followup_reminder_goes_to_the_agency_and_escalation_to_the_desk(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    core.clock.moment = wib(2026, 11, 27, 10)  # Friday
    c = await file_complaint(core, category="adminduk")  # follow-up: 3 working days
    assert c.id is not None
    core.ctx.config.agency("dispendukcapil").chat_id = int(AGENCY_CHAT)  # type: ignore[union-attr]
    dispatched = await move(core, c.id, Action.DISPATCH, DESK)
    assert dispatched.followup_due == datetime.combine(date(2026, 12, 2), time.max, tzinfo=WIB)
    await scan_at(core, duties, wib(2026, 12, 2, 8, 0))
    reminders = await outbox(engine, "remind:")
    followup = [r for r in reminders if ":followup:" in r.dedupe_key]
    assert [r.chat_id for r in followup] == [AGENCY_CHAT]
    await scan_at(core, duties, wib(2026, 12, 3, 8, 0))
    escalations = await outbox(engine, "escalate:")
    assert [(r.chat_id, r.dedupe_key.split(":")[2]) for r in escalations] == [
        (ADMIN_CHAT, "followup")
    ]
    await move(core, c.id, Action.START, AGENCY)
    await scan_at(core, duties, wib(2026, 12, 4, 8, 0))
    assert len(await outbox(engine, "escalate:")) == 1


async def test_a_restart_scans_from_the_database(
    core: Core, engine: AsyncEngine, tmp_path: Path
) -> None:
    await file_complaint(core)
    core.clock.moment = wib(2026, 12, 30, 9, 0)
    first = Duties(core.ctx, SqlScheduleQueries(session_factory(engine)))
    second = Duties(core.ctx, SqlScheduleQueries(session_factory(engine)))  # "after restart"
    await first.scan()
    await second.scan()
    assert len(await outbox(engine, "remind:")) == 1


def tap(user: int, choice: str) -> Inbound:
    return Inbound(
        chat=ChatAddress(Channel.TELEGRAM, str(user)),
        sender=Person(str(user), "Siti"),
        kind=InboundKind.CHOICE,
        update_key=f"t:{choice}",
        choice=choice,
    )


def says(user: int, text: str) -> Inbound:
    return Inbound(
        chat=ChatAddress(Channel.TELEGRAM, str(user)),
        sender=Person(str(user), "Siti"),
        kind=InboundKind.TEXT,
        update_key=f"t:{text}",
        text=text,
    )


async def resolved(core: Core) -> Complaint:
    c = await file_complaint(core)
    assert c.id is not None
    await move(core, c.id, Action.DISPATCH, DESK)
    return await move(core, c.id, Action.RESOLVE, AGENCY, message="Sudah ditambal")


async def answer(core: Core, inbound: Inbound, comment: bool = False) -> list[str]:
    async with core.ctx.uow() as uow:
        citizen = await uow.citizens.find("telegram", inbound.sender.user_id)
        assert citizen is not None
        if comment:
            replies = await handle_comment(core.ctx, uow, citizen, inbound)
        else:
            assert inbound.choice is not None
            replies = await handle_choice(core.ctx, uow, citizen, inbound, inbound.choice)
        await uow.commit()
    return [r.text for r in replies or []]


async def test_survey_once_per_resolution_and_rating_stored(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    c = await resolved(core)
    await duties.scan()
    await duties.scan()
    surveys = await outbox(engine, "survey:")
    assert len(surveys) == 1 and surveys[0].chat_id == "1001"
    ids = [b["id"] for row in surveys[0].payload["reply"]["choices"] for b in row]
    assert f"survey:fixed:{c.id}" in ids and f"survey:rate:{c.id}:5" in ids
    replies = await answer(core, tap(1001, f"survey:rate:{c.id}:4"))
    assert "4/5" in replies[0]
    async with core.ctx.uow() as uow:
        stored = await uow.complaints.get(c.id or 0)
    assert stored is not None and stored.rating == 4
    shown = await outbox(engine, "rated:")
    assert {r.chat_id for r in shown} == {ADMIN_CHAT, AGENCY_CHAT}
    assert "4/5" in text_of(shown[0])
    await answer(core, tap(1001, f"survey:fixed:{c.id}"))
    async with core.ctx.uow() as uow:
        closed = await uow.complaints.get(c.id or 0)
    assert closed is not None and closed.status is Status.DITUTUP


async def test_not_fixed_reopens_with_the_comment_and_a_new_survey_follows(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    c = await resolved(core)
    await duties.scan()
    replies = await answer(core, tap(1001, f"survey:notfixed:{c.id}"))
    assert "belum beres" in replies[0].lower() or c.ticket in replies[0]
    replies = await answer(core, says(1001, "Lubangnya masih ada di sisi timur"), comment=True)
    assert c.ticket in replies[0]
    async with core.ctx.uow() as uow:
        reopened = await uow.complaints.get(c.id or 0)
        history = await uow.events.for_complaint(c.id or 0)
    assert reopened is not None and reopened.status is Status.DITINDAKLANJUTI
    assert history[-1].action == Action.REOPEN.value
    assert history[-1].public_message == "Lubangnya masih ada di sisi timur"
    comments = await outbox(engine, "comment:")
    assert AGENCY_CHAT in {r.chat_id for r in comments}
    core.clock.advance(hours=2)
    await move(core, c.id or 0, Action.RESOLVE, AGENCY, message="Sudah ditambal lagi")
    await duties.scan()
    assert len(await outbox(engine, "survey:")) == 2  # one per resolution


async def test_no_answer_closes_after_ten_working_days(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    core.clock.moment = wib(2026, 11, 27, 10)
    c = await resolved(core)
    assert c.autoclose_due == datetime.combine(date(2026, 12, 11), time.max, tzinfo=WIB)
    await scan_at(core, duties, wib(2026, 12, 11, 22, 0))
    async with core.ctx.uow() as uow:
        still = await uow.complaints.get(c.id or 0)
    assert still is not None and still.status is Status.SELESAI
    await scan_at(core, duties, wib(2026, 12, 12, 0, 1))
    await scan_at(core, duties, wib(2026, 12, 12, 0, 2))
    async with core.ctx.uow() as uow:
        closed = await uow.complaints.get(c.id or 0)
        history = await uow.events.for_complaint(c.id or 0)
    assert closed is not None and closed.status is Status.DITUTUP
    assert [e.actor_role for e in history if e.action == "close"] == [Role.SYSTEM.value]
    pushes = [r for r in await outbox(engine, "push:") if r.chat_id == "1001"]
    assert "10 hari kerja" in text_of(pushes[-1])


async def test_daily_digest_once_per_day_after_digest_time(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    core.ctx.config.digest_time = time(7, 30)
    core.clock.moment = wib(2026, 11, 26, 10)  # Thursday
    await file_complaint(core, user=1001)
    c = await file_complaint(core, user=1002, category="adminduk")
    assert c.id is not None
    await move(core, c.id, Action.DISPATCH, DESK)
    await scan_at(core, duties, wib(2026, 11, 27, 7, 0))
    assert await outbox(engine, "digest:") == []
    await scan_at(core, duties, wib(2026, 11, 27, 7, 31))
    await scan_at(core, duties, wib(2026, 11, 27, 12, 0))
    digests = await outbox(engine, "digest:")
    assert len(digests) == 1 and digests[0].chat_id == ADMIN_CHAT
    text = text_of(digests[0])
    assert "Aduan baru kemarin: 2" in text
    assert "Menunggu verifikasi: 1" in text
    await scan_at(core, duties, wib(2026, 12, 3, 7, 45))  # follow-up of adminduk overdue
    digests = await outbox(engine, "digest:")
    assert len(digests) == 2
    assert "Dinas Kependudukan" in text_of(digests[1])


async def test_officer_facing_scheduler_texts_never_reveal_an_anonymous_reporter(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    user = 735201994  # a private chat id is the citizen's Telegram user id
    async with core.ctx.uow() as uow:
        citizen = await uow.citizens.add(
            Citizen("telegram", str(user), str(user), "Rina Wulandari", "rinawu", "+6281234567")
        )
        draft = Draft(
            category="jalan", description="Jalan berlubang di depan pasar", anonymous=True
        )
        c = await submit(core.ctx, uow, citizen, draft)
        await uow.commit()
    assert c.id is not None
    await move(core, c.id, Action.DISPATCH, DESK)
    await move(core, c.id, Action.RESOLVE, AGENCY, message="Sudah ditambal")
    await duties.scan()
    await answer(core, tap(user, f"survey:rate:{c.id}:2"))  # rating notice
    await answer(core, tap(user, f"survey:notfixed:{c.id}"))
    await answer(core, says(user, "Lubangnya masih ada"), comment=True)  # comment relay
    for number, complaint_id in enumerate((c.id, None)):  # a complaint row and a plain one
        item = OutboxItem("telegram", str(user), "push", {"reply": {"text": "x"}}, f"x:{number}")
        item.complaint_id, item.attempts, item.id = complaint_id, 7, 900 + number
        await duties.delivery_failed(item, f"Bad Request: chat {user} is gone")
        await duties.delivery_unreachable(item, "Forbidden: bot was blocked by the user")

    officer_rows = [row for row in await outbox(engine) if row.chat_id != str(user)]
    keys = " ".join(row.dedupe_key for row in officer_rows)
    for kind in ("alert:failed", "alert:unreachable", "rated:", "comment:"):
        assert kind in keys
    alerts = [text_of(row) for row in officer_rows if row.kind == "alert"]
    assert len(alerts) == 4 and sum(c.ticket in text for text in alerts) == 2
    assert sum("obrolan warga" in text for text in alerts) == 3
    for row in officer_rows:
        shown = json.dumps(row.payload, ensure_ascii=False)
        for secret in (str(user), "Rina", "Wulandari", "rinawu", "6281234567"):
            assert secret not in shown, (row.dedupe_key, shown)


# On hold (tertunda), office hours, and the digest's desk line --------------------------


async def buttons_of(core: Core, complaint_id: int, role: str) -> list[str]:
    async with core.ctx.uow() as uow:
        complaint = await uow.complaints.get(complaint_id)
        assert complaint is not None
        card = await card_for(core.ctx, uow, complaint, role)
    return [choice.label for row in card.choices for choice in row]


async def test_a_tertunda_card_offers_resume_to_the_desk_and_to_the_agency_that_asked(
    core: Core,
) -> None:
    c = await file_complaint(core)
    assert c.id is not None
    await move(core, c.id, Action.REQUEST_INFO, DESK, message="Di sisi mana?")
    assert await buttons_of(core, c.id, DESK_ROLE) == ["▶️ Lanjutkan", "⛔ Tolak"]
    await move(core, c.id, Action.RESUME, DESK)
    await move(core, c.id, Action.DISPATCH, DESK)
    await move(core, c.id, Action.REQUEST_INFO, AGENCY, message="Utara atau selatan?")
    assert await buttons_of(core, c.id, agency_role("pupr")) == ["▶️ Lanjutkan"]
    assert await buttons_of(core, c.id, agency_role("dlh")) == []
    resumed = await move(core, c.id, Action.RESUME, AGENCY)
    assert resumed.status is Status.DIDISPOSISIKAN


async def test_a_complaint_on_hold_is_chased_once_in_the_chat_that_asked(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    core.clock.moment = wib(2026, 11, 27, 10)  # Friday
    c = await file_complaint(core)
    assert c.id is not None
    await move(core, c.id, Action.REQUEST_INFO, DESK, message="Di sisi mana?")
    await scan_at(core, duties, wib(2026, 12, 3, 15, 0))  # 4 working days and a bit
    await scan_at(core, duties, wib(2026, 12, 4, 9, 0))
    assert await outbox(engine, "remind:") == []
    await scan_at(core, duties, wib(2026, 12, 4, 10, 30))  # 5 working days
    await scan_at(core, duties, wib(2026, 12, 7, 9, 0))
    chased = await outbox(engine, "remind:")
    assert [(r.chat_id, r.dedupe_key.split(":")[2]) for r in chased] == [(ADMIN_CHAT, "info")]
    assert c.ticket in text_of(chased[0])
    assert "belum menjawab" in text_of(chased[0]) and "Lanjutkan" in text_of(chased[0])
    assert "Tolak" in text_of(chased[0])

    # Resumed, dispatched, and asked again by the agency: a new hold, a new reminder there.
    await move(core, c.id, Action.RESUME, DESK)
    await move(core, c.id, Action.DISPATCH, DESK)
    await move(core, c.id, Action.REQUEST_INFO, AGENCY, message="Utara atau selatan?")
    await scan_at(core, duties, wib(2026, 12, 14, 10, 0))
    chased = await outbox(engine, "remind:")
    info = [r for r in chased if ":info:" in r.dedupe_key]
    assert [r.chat_id for r in info] == [ADMIN_CHAT, AGENCY_CHAT]
    assert "Tolak" not in text_of(info[1]) and "Lanjutkan" in text_of(info[1])
    assert await outbox(engine, "escalate:") == []  # holds do not escalate


async def test_the_wait_for_the_citizen_is_configurable_per_category(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    core.clock.moment = wib(2026, 11, 27, 10)  # Friday
    adminduk = core.ctx.config.category("adminduk")
    assert adminduk is not None and core.ctx.config.deadlines.info_wait_working_days == 5
    adminduk.deadlines.info_wait_working_days = 2
    c = await file_complaint(core, category="adminduk")
    assert c.id is not None
    await move(core, c.id, Action.REQUEST_INFO, DESK, message="Nomor KK?")
    await scan_at(core, duties, wib(2026, 12, 1, 9, 0))
    assert await outbox(engine, "remind:") == []
    await scan_at(core, duties, wib(2026, 12, 1, 10, 30))  # Mon + Tue: two working days
    assert len(await outbox(engine, "remind:")) == 1


async def test_officer_notices_wait_for_office_hours(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    assert core.ctx.config.office_hours_start == time(8, 0)
    c = await file_complaint(core)  # Wed 23 Dec 09:00; verification due 30 Dec
    assert c.id is not None
    await scan_at(core, duties, wib(2026, 12, 30, 2, 0))
    assert await outbox(engine, "remind:") == []
    await scan_at(core, duties, wib(2026, 12, 30, 8, 30))
    assert len(await outbox(engine, "remind:")) == 1
    await scan_at(core, duties, wib(2026, 12, 31, 2, 0))  # overdue, but night
    assert await outbox(engine, "escalate:") == []
    await scan_at(core, duties, wib(2026, 12, 31, 8, 30))
    assert len(await outbox(engine, "escalate:")) == 1
    assert c.verify_due == datetime.combine(date(2026, 12, 30), time.max, tzinfo=WIB)


async def test_a_hold_reminder_due_at_night_waits_for_office_hours(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    core.clock.moment = wib(2026, 11, 27, 1, 0)  # Friday night
    c = await file_complaint(core)
    assert c.id is not None
    await move(core, c.id, Action.REQUEST_INFO, DESK, message="Di sisi mana?")
    await scan_at(core, duties, wib(2026, 12, 4, 2, 0))  # five working days, at night
    assert await outbox(engine, "remind:") == []
    await scan_at(core, duties, wib(2026, 12, 4, 8, 30))
    assert len(await outbox(engine, "remind:")) == 1


async def test_the_digest_counts_overdue_verification_for_the_desk_not_the_agency(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    core.ctx.config.digest_time = time(7, 30)
    core.clock.moment = wib(2026, 11, 26, 10)  # Thursday
    await file_complaint(core, user=1001)  # jalan (PUPR): verification due 1 Dec
    c = await file_complaint(core, user=1002, category="adminduk")
    assert c.id is not None
    await move(core, c.id, Action.DISPATCH, DESK)  # follow-up due 1 Dec
    await scan_at(core, duties, wib(2026, 12, 3, 7, 45))
    text = text_of((await outbox(engine, "digest:"))[-1])
    assert "• Meja aduan (verifikasi): 1" in text
    assert "• Dinas Kependudukan dan Pencatatan Sipil (Dispendukcapil): 1" in text
    assert "PUPR" not in text


async def test_the_digest_does_not_count_work_that_started_in_time_as_overdue(
    core: Core, duties: Duties, engine: AsyncEngine
) -> None:
    core.ctx.config.digest_time = time(7, 30)
    core.clock.moment = wib(2026, 11, 26, 10)  # Thursday
    started = await file_complaint(core, user=1001, category="adminduk")
    waiting = await file_complaint(core, user=1002, category="adminduk")
    assert started.id is not None and waiting.id is not None
    await move(core, started.id, Action.DISPATCH, DESK)
    await move(core, waiting.id, Action.DISPATCH, DESK)  # both due for follow-up on 1 Dec
    await move(core, started.id, Action.START, DESK)  # acted on in time
    await scan_at(core, duties, wib(2026, 12, 3, 7, 45))
    text = text_of((await outbox(engine, "digest:"))[-1])
    assert "• Dinas Kependudukan dan Pencatatan Sipil (Dispendukcapil): 1" in text
