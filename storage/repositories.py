"""Repositories over one AsyncSession; the unit of work owns the transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from conversations.core.domain import (
    AgencyTopic,
    Attachment,
    Awaiting,
    CardLink,
    Citizen,
    Complaint,
    Dialogue,
    Draft,
    Event,
    OfficerRequest,
    OutboxItem,
)
from conversations.core.lifecycle import Status
from storage.mapping import from_db_time, row_values, to_db_time, to_record
from storage.tables import (
    AgencyTopicRow,
    AttachmentRow,
    CardLinkRow,
    CitizenRow,
    ComplaintRow,
    DialogueRow,
    EventRow,
    InboxRow,
    OfficerRequestRow,
    OutboxRow,
    TicketCounterRow,
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


# The statements every update runs are built once, as Core statements on the tables:
# the ORM's bulk-update and flush machinery cost more CPU than the queries themselves.
_INBOX: Table = InboxRow.__table__  # type: ignore[attr-defined]
_CITIZEN: Table = CitizenRow.__table__  # type: ignore[attr-defined]
_DIALOGUE: Table = DialogueRow.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = OutboxRow.__table__  # type: ignore[attr-defined]

_INBOX_DONE = (
    _INBOX.update()
    .where(_INBOX.c.key == bindparam("k"), _INBOX.c.status != "done")
    .values(
        status="done", processed_at=bindparam("now"), payload=None, owner=None, lease_until=None
    )
)
_CITIZEN_BY_ACCOUNT = select(_CITIZEN).where(
    _CITIZEN.c.channel == bindparam("channel"), _CITIZEN.c.external_id == bindparam("external")
)
_CITIZEN_OFFER = (
    _CITIZEN.update()
    .where(_CITIZEN.c.id == bindparam("ident"))
    .values(offered=bindparam("offered"))
)
_DIALOGUE_GET = select(_DIALOGUE).where(_DIALOGUE.c.citizen_id == bindparam("ident"))
_DIALOGUE_VALUES: dict[str, Any] = {
    "step": bindparam("step"),
    "draft": bindparam("draft"),
    "back": bindparam("back"),
    "editing": bindparam("editing"),
    "context": bindparam("context"),
    "updated_at": bindparam("updated_at"),
}
_DIALOGUE_UPDATE = (
    _DIALOGUE.update()
    .where(_DIALOGUE.c.citizen_id == bindparam("ident"))
    .values(**_DIALOGUE_VALUES)
)
_DIALOGUE_INSERT = _DIALOGUE.insert().values(citizen_id=bindparam("ident"), **_DIALOGUE_VALUES)
_DIALOGUE_DELETE = _DIALOGUE.delete().where(_DIALOGUE.c.citizen_id == bindparam("ident"))


def _insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, for ON CONFLICT DO NOTHING."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    return sqlite_insert if sqlite else postgresql_insert


_TICKET: Table = TicketCounterRow.__table__  # type: ignore[attr-defined]
_TICKET_TAKE = (
    postgresql_insert(_TICKET)
    .values(period=bindparam("period"), value=1)
    .on_conflict_do_update(index_elements=["period"], set_={"value": _TICKET.c.value + 1})
    .returning(_TICKET.c.value)
)
_OUTBOX_UNFINISHED = (
    select(_OUTBOX.c.id)
    .where(
        _OUTBOX.c.chat_id == bindparam("chat"),
        _OUTBOX.c.channel == bindparam("channel"),
        _OUTBOX.c.status.in_(["pending", "sending"]),
    )
    .limit(1)
)
_OUTBOX_ADD: dict[tuple[str, tuple[str, ...]], Any] = {}
# PostgreSQL advisory locks of outbox lanes: (this class, a 32-bit hash of the chat).
_LANE_LOCK_CLASS = 0x4B41
_LANE_LOCK = select(
    func.pg_try_advisory_xact_lock(
        literal(_LANE_LOCK_CLASS, Integer), bindparam("lane", type_=Integer)
    )
)


def _lane_key(channel: str, chat_id: str) -> int:
    """A stable signed 32-bit number for a chat (two chats sharing one only means a
    claim round sends one's rows instead)."""
    digest = hashlib.blake2b(f"{channel}:{chat_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def _outbox_add(session: AsyncSession, columns: tuple[str, ...]) -> Any:
    key = (session.get_bind().dialect.name, columns)
    if key not in _OUTBOX_ADD:
        _OUTBOX_ADD[key] = (
            _insert_for(session)(_OUTBOX)
            .values({name: bindparam(name) for name in columns})
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(_OUTBOX.c.id)
        )
    return _OUTBOX_ADD[key]


class SqlUpdateLog:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def claim(self, key: str) -> bool:
        """Mark the update handled in this transaction; False when it was handled before.

        The update's inbox row is marked done, so the change it causes and its
        dedupe commit together. An event that never went through the inbox (a
        direct call) gets a done row of its own.
        """
        now = _utcnow()
        marked = await self.session.execute(_INBOX_DONE, {"k": key, "now": now})
        if marked.rowcount:  # type: ignore[attr-defined]
            return True
        statement: Any = _insert_for(self.session)(_INBOX)
        inserted = await self.session.execute(
            statement.values(
                key=key[:160],
                channel=key.split(":", 1)[0][:16],
                chat_key="",
                status="done",
                attempts=0,
                received_at=now,
                processed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(_INBOX.c.id)
        )
        return inserted.scalar_one_or_none() is not None


def _citizen(row: CitizenRow) -> Citizen:
    return to_record(
        row, Citizen, offered=list(row.offered or []), awaiting=Awaiting.from_dict(row.awaiting)
    )


# Saved by their own calls, never by ``update`` with a copy loaded earlier.
_CITIZEN_OWN_COLUMNS = ("offered", "awaiting")


class SqlCitizens:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def get(self, citizen_id: int) -> Citizen | None:
        row = await self.session.get(CitizenRow, citizen_id, populate_existing=True)
        return _citizen(row) if row else None

    async def find(self, channel: str, external_id: str) -> Citizen | None:
        found = await self.session.execute(
            _CITIZEN_BY_ACCOUNT, {"channel": channel, "external": external_id}
        )
        row = found.one_or_none()
        return _citizen(row) if row else None  # type: ignore[arg-type]

    async def find_by_chat(self, channel: str, chat_id: str) -> Citizen | None:
        row = (
            (
                await self.session.execute(
                    select(CitizenRow).where(
                        col(CitizenRow.channel) == channel, col(CitizenRow.chat_id) == chat_id
                    )
                )
            )
            .scalars()
            .first()
        )
        return _citizen(row) if row else None

    async def add(self, citizen: Citizen) -> Citizen:
        values = row_values(citizen)
        values["awaiting"] = citizen.awaiting.to_dict() if citizen.awaiting else None
        row = CitizenRow(**values)
        self.session.add(row)
        await self.session.flush()
        citizen.id = row.id
        return citizen

    async def update(self, citizen: Citizen) -> None:
        values = row_values(citizen)
        for name in _CITIZEN_OWN_COLUMNS:
            values.pop(name)
        await self.session.execute(
            update(CitizenRow).where(CitizenRow.id == citizen.id).values(**values)  # type: ignore[arg-type]
        )

    async def offer(self, citizen_id: int, choices: list[dict[str, str]]) -> None:
        await self.session.execute(_CITIZEN_OFFER, {"ident": citizen_id, "offered": choices})

    async def await_input(self, citizen_id: int, awaiting: Awaiting | None) -> None:
        stored = awaiting.to_dict() if awaiting else None
        await self.session.execute(
            update(CitizenRow).where(CitizenRow.id == citizen_id).values(awaiting=stored)  # type: ignore[arg-type]
        )


class SqlDialogues:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def get(self, citizen_id: int) -> Dialogue | None:
        row = (await self.session.execute(_DIALOGUE_GET, {"ident": citizen_id})).one_or_none()
        if row is None:
            return None
        return Dialogue(
            citizen_id=row.citizen_id,
            step=row.step,
            draft=Draft.from_dict(row.draft),
            back=list(row.back),
            editing=row.editing,
            context=dict(row.context),
        )

    async def save(self, dialogue: Dialogue) -> None:
        values = {
            "ident": dialogue.citizen_id,
            "step": dialogue.step,
            "draft": dialogue.draft.to_dict(),
            "back": list(dialogue.back),
            "editing": dialogue.editing,
            "context": dict(dialogue.context),
            "updated_at": _utcnow(),
        }
        updated = await self.session.execute(_DIALOGUE_UPDATE, values)
        if not updated.rowcount:  # type: ignore[attr-defined]
            await self.session.execute(_DIALOGUE_INSERT, values)

    async def delete(self, citizen_id: int) -> None:
        await self.session.execute(_DIALOGUE_DELETE, {"ident": citizen_id})


class SqlAttachments:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, attachment: Attachment) -> Attachment:
        if attachment.created_at is None:
            attachment.created_at = datetime.now(UTC)
        row = AttachmentRow(**row_values(attachment))
        self.session.add(row)
        await self.session.flush()
        attachment.id = row.id
        return attachment

    async def get_many(self, ids: Sequence[int]) -> list[Attachment]:
        if not ids:
            return []
        rows = (
            await self.session.execute(select(AttachmentRow).where(AttachmentRow.id.in_(ids)))  # type: ignore[union-attr]
        ).scalars()
        by_id = {row.id: to_record(row, Attachment) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    async def attach(self, ids: Sequence[int], complaint_id: int) -> None:
        if ids:
            await self.session.execute(
                update(AttachmentRow)
                .where(AttachmentRow.id.in_(ids))  # type: ignore[union-attr]
                .values(complaint_id=complaint_id)
            )

    async def for_complaint(self, complaint_id: int) -> list[Attachment]:
        rows = (
            await self.session.execute(
                select(AttachmentRow)
                .where(col(AttachmentRow.complaint_id) == complaint_id)
                .order_by(AttachmentRow.id)  # type: ignore[arg-type]
            )
        ).scalars()
        return [to_record(row, Attachment) for row in rows]


def _complaint(row: ComplaintRow) -> Complaint:
    return to_record(
        row,
        Complaint,
        status=Status(row.status),
        resume_status=Status(row.resume_status) if row.resume_status else None,
    )


class SqlComplaints:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def next_ticket(self, prefix: str, now: datetime) -> str:
        period = now.strftime("%y%m")
        engine = self.session.bind
        if isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql":
            # Several processes submit at once: the month's counter row is locked only
            # for its own short transaction, not until the submission commits (every
            # other submission queued behind it). A submission that then fails leaves
            # its number unused.
            async with engine.begin() as connection:
                taken = await connection.execute(_TICKET_TAKE, {"period": period})
                return f"{prefix}-{period}-{taken.scalar_one():04d}"
        result = await self.session.execute(
            update(TicketCounterRow)
            .where(TicketCounterRow.period == period)  # type: ignore[arg-type]
            .values(value=TicketCounterRow.value + 1)
            .returning(col(TicketCounterRow.value))
        )
        value = result.scalar_one_or_none()
        if value is None:
            try:
                async with self.session.begin_nested():
                    await self.session.execute(
                        insert(TicketCounterRow).values(period=period, value=1)
                    )
                value = 1
            except IntegrityError:
                return await self.next_ticket(prefix, now)
        return f"{prefix}-{period}-{value:04d}"

    async def add(self, complaint: Complaint) -> Complaint:
        row = ComplaintRow(**row_values(complaint))
        self.session.add(row)
        await self.session.flush()
        complaint.id = row.id
        return complaint

    async def get(self, complaint_id: int) -> Complaint | None:
        row = await self.session.get(ComplaintRow, complaint_id, populate_existing=True)
        return _complaint(row) if row else None

    async def by_ticket(self, ticket: str) -> Complaint | None:
        row = (
            await self.session.execute(
                select(ComplaintRow).where(
                    func.upper(ComplaintRow.ticket) == ticket.strip().upper()
                )
            )
        ).scalar_one_or_none()
        return _complaint(row) if row else None

    async def count_for_citizen(self, citizen_id: int) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(ComplaintRow)
            .where(col(ComplaintRow.citizen_id) == citizen_id)
        )
        return int(count or 0)

    async def for_citizen(self, citizen_id: int, limit: int = 10) -> list[Complaint]:
        rows = (
            await self.session.execute(
                select(ComplaintRow)
                .where(col(ComplaintRow.citizen_id) == citizen_id)
                .order_by(ComplaintRow.id.desc())  # type: ignore[union-attr]
                .limit(limit)
            )
        ).scalars()
        return [_complaint(row) for row in rows]

    async def update(self, complaint: Complaint, expected_version: int) -> bool:
        values = row_values(complaint)
        values.pop("id")
        values["version"] = expected_version + 1
        values["updated_at"] = _utcnow()
        result = await self.session.execute(
            update(ComplaintRow)
            .where(ComplaintRow.id == complaint.id, ComplaintRow.version == expected_version)  # type: ignore[arg-type]
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        complaint.version = expected_version + 1
        return True

    async def queue(
        self, statuses: Sequence[Status], agency: str | None = None, limit: int = 20
    ) -> list[Complaint]:
        query = select(ComplaintRow).where(ComplaintRow.status.in_([s.value for s in statuses]))  # type: ignore[attr-defined]
        if agency is not None:
            query = query.where(col(ComplaintRow.agency) == agency)
        rows = (
            await self.session.execute(
                query.order_by(col(ComplaintRow.created_at), col(ComplaintRow.id)).limit(limit)
            )
        ).scalars()
        return [_complaint(row) for row in rows]

    async def search(
        self,
        statuses: Sequence[Status] | None = None,
        agencies: Sequence[str] | None = None,
        overdue_at: datetime | None = None,
        ticket: str | None = None,
        limit: int = 100,
        dispatched_only: bool = False,
    ) -> list[Complaint]:
        c: Any = ComplaintRow
        query = select(ComplaintRow)
        if dispatched_only:
            query = query.where(c.dispatched_at.is_not(None))
        if statuses is not None:
            query = query.where(c.status.in_([s.value for s in statuses]))
        if agencies is not None:
            query = query.where(c.agency.in_(list(agencies)))
        if ticket:
            query = query.where(func.upper(c.ticket).contains(ticket.upper(), autoescape=True))
        if overdue_at is not None:
            at = to_db_time(overdue_at)
            verifying = [Status.BARU.value, Status.TERVERIFIKASI.value]
            working = [*verifying, Status.DIDISPOSISIKAN.value, Status.DITINDAKLANJUTI.value]
            query = query.where(
                or_(
                    and_(c.status.in_(verifying), c.verify_due < at),
                    and_(c.status == Status.DIDISPOSISIKAN.value, c.followup_due < at),
                    and_(c.status.in_(working), c.settle_due < at),
                )
            )
        rows = (
            await self.session.execute(query.order_by(c.created_at, c.id).limit(limit))
        ).scalars()
        return [_complaint(row) for row in rows]

    async def pending_for_citizen(self, citizen_id: int) -> list[Complaint]:
        rows = (
            await self.session.execute(
                select(ComplaintRow)
                .where(
                    col(ComplaintRow.citizen_id) == citizen_id,
                    col(ComplaintRow.status) == Status.TERTUNDA.value,
                )
                .order_by(ComplaintRow.id)  # type: ignore[arg-type]
            )
        ).scalars()
        return [_complaint(row) for row in rows]


class SqlEvents:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, event: Event) -> Event:
        row = EventRow(**row_values(event))
        self.session.add(row)
        await self.session.flush()
        event.id = row.id
        return event

    async def for_complaint(self, complaint_id: int) -> list[Event]:
        rows = (
            await self.session.execute(
                select(EventRow).where(EventRow.complaint_id == complaint_id).order_by(EventRow.id)  # type: ignore[arg-type]
            )
        ).scalars()
        return [to_record(row, Event) for row in rows]


@dataclass(frozen=True)
class OutboxClaim:
    """Rows a transaction queues for a chat with nothing else waiting are written as
    already claimed by this process, and handed to its delivery once committed: no
    claim round (four statements and a transaction) between a reply and its send."""

    owner: str
    lease_seconds: float
    adopt: Callable[[list[OutboxItem]], None]
    # After a failed commit: put back whatever of these rows was committed after all.
    hand_back: Callable[[list[OutboxItem]], None]


class SqlOutbox:
    def __init__(self, session: AsyncSession, claim: OutboxClaim | None = None):
        self.session = session
        self.claim = claim
        self.claimed: list[OutboxItem] = []
        self.left_waiting = False
        # Per chat in this transaction: may its rows be claimed as they are written?
        self._lane_free: dict[tuple[str, str], bool] = {}

    async def add(self, item: OutboxItem) -> bool:
        """Queue ``item`` unless its dedupe key is queued; one statement, so two
        processes adding the same key at once both commit (one of them adds nothing)."""
        if item.created_at is None:
            item.created_at = datetime.now(UTC)
        claimed = await self._may_claim(item)
        values = row_values(item)
        values.pop("id", None)
        if claimed:
            assert self.claim is not None
            item.status = values["status"] = "sending"
            values["owner"] = self.claim.owner
            values["lease_until"] = datetime.now(UTC) + timedelta(seconds=self.claim.lease_seconds)
        inserted = (
            await self.session.execute(_outbox_add(self.session, tuple(values)), values)
        ).scalar_one_or_none()
        if inserted is None:
            item.status = "pending"
            return False
        item.id = int(inserted)
        if claimed:
            self.claimed.append(item)
        else:
            self.left_waiting = True
        return True

    def forget_claims(self) -> None:
        """The transaction ended: rolled back, nothing it wrote exists; committed, what it
        found of its chats may have changed since."""
        self.claimed.clear()
        self._lane_free.clear()

    async def _may_claim(self, item: OutboxItem) -> bool:
        lane = (item.channel, item.chat_id)
        if self.claim is None or item.next_attempt_at is not None:
            # Queued for later (an album being gathered): the chat's later rows wait too.
            self._lane_free[lane] = False
            return False
        if lane not in self._lane_free:
            self._lane_free[lane] = await self._lane_is_free(item)
        return self._lane_free[lane]

    async def _lane_is_free(self, item: OutboxItem) -> bool:
        if self.session.get_bind().dialect.name == "postgresql":
            # Two transactions open at once (an officer's push in one process, the
            # citizen's reply in another) do not see each other's rows: both would
            # claim, and two processes would send to the chat side by side. The
            # transaction holding the chat's lock (to its end) is the only one that
            # may claim; another finds it taken and leaves its rows to a claim round,
            # which waits for the holder's rows. Never waits, so never deadlocks.
            # Checked in a statement of its own: the check below must see rows
            # committed before the lock was had.
            locked = await self.session.execute(
                _LANE_LOCK, {"lane": _lane_key(item.channel, item.chat_id)}
            )
            if not locked.scalar_one():
                return False
        waiting = await self.session.execute(
            _OUTBOX_UNFINISHED, {"channel": item.channel, "chat": item.chat_id}
        )
        return waiting.first() is None

    async def revise(self, dedupe_key: str, payload: dict[str, Any], not_before: datetime) -> bool:
        """Replace the payload of a queued row nobody has started to send; False when
        there is no such row (never queued, being sent, or sent)."""
        result = await self.session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.dedupe_key) == dedupe_key, col(OutboxRow.status) == "pending")
            .values(payload=payload, next_attempt_at=to_db_time(not_before))
        )
        revised = bool(result.rowcount)  # type: ignore[attr-defined]
        self.left_waiting = self.left_waiting or revised
        return revised

    async def complaint_of_sent(self, chat_id: str, message_id: int) -> int | None:
        found = (
            await self.session.execute(
                select(col(OutboxRow.complaint_id))
                .where(
                    col(OutboxRow.chat_id) == chat_id,
                    col(OutboxRow.sent_message_id) == message_id,
                    col(OutboxRow.complaint_id).is_not(None),
                )
                .limit(1)
            )
        ).scalar_one_or_none()
        return int(found) if found is not None else None


class SqlCards:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, link: CardLink) -> None:
        await self.session.merge(CardLinkRow(**row_values(link)))

    async def find(self, chat_id: str, message_id: int) -> CardLink | None:
        row = await self.session.get(CardLinkRow, (chat_id, message_id))
        return to_record(row, CardLink) if row else None

    async def for_complaint(self, complaint_id: int) -> list[CardLink]:
        rows = (
            await self.session.execute(
                select(CardLinkRow).where(col(CardLinkRow.complaint_id) == complaint_id)
            )
        ).scalars()
        return [to_record(row, CardLink) for row in rows]


class SqlOfficerRequests:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, request: OfficerRequest) -> OfficerRequest:
        row = OfficerRequestRow(**row_values(request))
        self.session.add(row)
        await self.session.flush()
        request.id = row.id
        return request

    async def for_complaint(self, complaint_id: int, chat_id: str) -> list[OfficerRequest]:
        rows = (
            await self.session.execute(
                select(OfficerRequestRow)
                .where(
                    col(OfficerRequestRow.complaint_id) == complaint_id,
                    col(OfficerRequestRow.chat_id) == chat_id,
                )
                .order_by(col(OfficerRequestRow.id).desc())
            )
        ).scalars()
        return [to_record(row, OfficerRequest) for row in rows]

    async def clear(self, complaint_id: int) -> None:
        await self.session.execute(
            delete(OfficerRequestRow).where(col(OfficerRequestRow.complaint_id) == complaint_id)
        )

    async def discard(self, complaint_id: int, request_id: int) -> bool:
        result = await self.session.execute(
            delete(OfficerRequestRow).where(
                col(OfficerRequestRow.complaint_id) == complaint_id,
                col(OfficerRequestRow.id) == request_id,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class SqlAgencyTopics:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def get(self, agency: str, chat_id: str) -> AgencyTopic | None:
        row = await self.session.get(AgencyTopicRow, (agency, chat_id), populate_existing=True)
        return to_record(row, AgencyTopic) if row else None

    async def by_thread(self, chat_id: str, thread_id: int) -> AgencyTopic | None:
        row = (
            (
                await self.session.execute(
                    select(AgencyTopicRow).where(
                        col(AgencyTopicRow.chat_id) == chat_id,
                        col(AgencyTopicRow.thread_id) == thread_id,
                    )
                )
            )
            .scalars()
            .first()
        )
        return to_record(row, AgencyTopic) if row else None

    async def save(self, topic: AgencyTopic) -> None:
        await self.session.merge(AgencyTopicRow(**row_values(topic)))


__all__ = ["from_db_time", "to_db_time"]
