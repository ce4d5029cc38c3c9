"""What the core needs from the outside world; storage and adapters implement it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol, Self

from conversations.core.domain import (
    AgencyTopic,
    Attachment,
    Awaiting,
    CardLink,
    Citizen,
    Complaint,
    Dialogue,
    Event,
    OfficerAccount,
    OfficerRequest,
    OfficerSession,
    OutboxItem,
)
from conversations.core.lifecycle import Status
from conversations.core.messages import MediaRef


class UpdateLog(Protocol):
    async def claim(self, key: str) -> bool:
        """Record an inbound update; False when it was seen before."""


class Citizens(Protocol):
    async def get(self, citizen_id: int) -> Citizen | None: ...
    async def find(self, channel: str, external_id: str) -> Citizen | None: ...
    async def add(self, citizen: Citizen) -> Citizen: ...
    async def update(self, citizen: Citizen) -> None: ...
    async def find_by_chat(self, channel: str, chat_id: str) -> Citizen | None: ...
    async def offer(self, citizen_id: int, choices: list[dict[str, str]]) -> None:
        """Remember the choices last offered in the citizen's chat."""

    async def await_input(self, citizen_id: int, awaiting: Awaiting | None) -> None:
        """Remember (or, with None, forget) what the bot waits for from the citizen."""


class Dialogues(Protocol):
    async def get(self, citizen_id: int) -> Dialogue | None: ...
    async def save(self, dialogue: Dialogue) -> None: ...
    async def delete(self, citizen_id: int) -> None: ...


class Attachments(Protocol):
    async def add(self, attachment: Attachment) -> Attachment: ...
    async def get_many(self, ids: Sequence[int]) -> list[Attachment]: ...
    async def attach(self, ids: Sequence[int], complaint_id: int) -> None: ...
    async def for_complaint(self, complaint_id: int) -> list[Attachment]: ...


class Complaints(Protocol):
    async def next_ticket(self, prefix: str, now: datetime) -> str: ...
    async def add(self, complaint: Complaint) -> Complaint: ...
    async def get(self, complaint_id: int) -> Complaint | None: ...
    async def by_ticket(self, ticket: str) -> Complaint | None: ...
    async def for_citizen(self, citizen_id: int, limit: int = 10) -> list[Complaint]: ...
    async def count_for_citizen(self, citizen_id: int) -> int: ...
    async def update(self, complaint: Complaint, expected_version: int) -> bool:
        """Save if the stored version is still ``expected_version``; bump it."""

    async def queue(
        self, statuses: Sequence[Status], agency: str | None = None, limit: int = 20
    ) -> list[Complaint]: ...
    async def search(
        self,
        statuses: Sequence[Status] | None = None,
        agencies: Sequence[str] | None = None,
        overdue_at: datetime | None = None,
        ticket: str | None = None,
        limit: int = 100,
        dispatched_only: bool = False,
    ) -> list[Complaint]:
        """Complaints in ``statuses`` of ``agencies`` (None: any), past a deadline at
        ``overdue_at`` when given, whose ticket contains ``ticket``; oldest first."""

    async def pending_for_citizen(self, citizen_id: int) -> list[Complaint]:
        """Complaints waiting (tertunda) on this citizen, oldest first."""


class Events(Protocol):
    async def add(self, event: Event) -> Event: ...
    async def for_complaint(self, complaint_id: int) -> list[Event]: ...


class Outbox(Protocol):
    # Rows this transaction queued that a claim round must pick up (after the commit,
    # wake delivery); rows claimed as they were written go out without one.
    left_waiting: bool

    async def add(self, item: OutboxItem) -> bool:
        """Queue a message; False when its dedupe key is already queued."""

    async def revise(self, dedupe_key: str, payload: dict[str, Any], not_before: datetime) -> bool:
        """Replace the payload of a queued row not yet being sent; False when there is none."""

    async def complaint_of_sent(self, chat_id: str, message_id: int) -> int | None:
        """The complaint a message delivered to this chat was about, if any."""


class Cards(Protocol):
    async def add(self, link: CardLink) -> None: ...
    async def find(self, chat_id: str, message_id: int) -> CardLink | None: ...
    async def for_complaint(self, complaint_id: int) -> list[CardLink]: ...


class OfficerRequests(Protocol):
    """Pending "reply with the reason" requests, kept in the database."""

    async def add(self, request: OfficerRequest) -> OfficerRequest: ...
    async def for_complaint(self, complaint_id: int, chat_id: str) -> list[OfficerRequest]:
        """Newest first."""

    async def clear(self, complaint_id: int) -> None: ...
    async def discard(self, complaint_id: int, request_id: int) -> bool:
        """Drop one request (cancelled or expired); False when it was gone already."""


class AgencyTopics(Protocol):
    async def get(self, agency: str, chat_id: str) -> AgencyTopic | None: ...
    async def by_thread(self, chat_id: str, thread_id: int) -> AgencyTopic | None: ...
    async def save(self, topic: AgencyTopic) -> None: ...


class UnitOfWork(Protocol):
    updates: UpdateLog
    citizens: Citizens
    dialogues: Dialogues
    attachments: Attachments
    complaints: Complaints
    events: Events
    outbox: Outbox
    cards: Cards
    requests: OfficerRequests
    topics: AgencyTopics

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


@dataclass(frozen=True)
class StoredFile:
    path: str
    size: int
    sha256: str
    mime_type: str | None


class FileTooLarge(Exception):
    pass


class MediaFetcher(Protocol):
    """Downloads a platform file (Telegram getFile, WhatsApp media URL)."""

    async def fetch(self, media: MediaRef) -> bytes: ...


class FileStore(Protocol):
    async def save(self, data: bytes, kind: str, mime_type: str | None) -> StoredFile: ...
    async def load(self, path: str) -> bytes: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class SendOutcome(StrEnum):
    SENT = "sent"
    RETRY_AFTER = "retry_after"
    TRANSIENT = "transient"
    FORBIDDEN = "forbidden"
    REJECTED = "rejected"
    THREAD_GONE = "thread_gone"


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    message_id: int | None = None
    retry_after: float | None = None
    detail: str | None = None
    # The platform's id of the sent message when it is no number (a WhatsApp wamid):
    # its delivery statuses arrive later under this id.
    ref: str | None = None


class MessageSender(Protocol):
    """Delivers one outbox item on its platform."""

    async def deliver(self, item: OutboxItem, files: FileStore) -> SendResult: ...

    def message_count(self, item: OutboxItem) -> int:
        """How many messages ``deliver`` sends for ``item`` (the rate limiter counts them)."""


class OutboxQueue(Protocol):
    """The delivery side of the outbox; each call is its own transaction. Claims are
    held by one worker (this process) and kept alive by its heartbeat."""

    async def claim(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float,
        per_chat: int = 10,
        skip: Sequence[tuple[str, str]] = (),
    ) -> list[OutboxItem]:
        """Due rows, oldest first, from the head of each chat on, at most ``per_chat``
        of one chat; ``skip`` leaves out (channel, chat_id) lanes held already."""

    async def mark_sent(
        self, item: OutboxItem, message_id: int | None, now: datetime, ref: str | None = None
    ) -> None: ...
    async def reschedule(
        self, item: OutboxItem, at: datetime, error: str, count_attempt: bool = True
    ) -> None: ...
    async def release(self, items: Sequence[OutboxItem]) -> None:
        """Hand claimed rows back untouched (not sent, no attempt counted)."""

    async def mark_failed(self, item: OutboxItem, error: str, now: datetime) -> None: ...
    async def mark_unreachable(self, item: OutboxItem, error: str, now: datetime) -> None: ...


class ChatAdmins(Protocol):
    """Who administers a group, as the platform says (cached by the adapter)."""

    async def is_admin(self, chat_id: str, user_id: str) -> bool: ...


class ForumTopics(Protocol):
    """Creates a forum topic in a group; returns its thread id."""

    async def create(self, chat_id: str, name: str) -> int: ...


@dataclass(frozen=True)
class DigestFigures:
    new: int
    waiting_verification: int
    overdue_by_agency: dict[str, int]
    resolved: int
    followups: list[tuple[datetime, datetime]]
    # Overdue for verification (baru/terverifikasi): the desk's, not the agency's.
    overdue_verification: int = 0
    # The days ``followups`` covers (the average's window).
    followup_window_days: int = 30


class ScheduleQueries(Protocol):
    """Read-only look-ups the scheduler derives its work from; each its own transaction."""

    async def due(
        self,
        column: str,
        statuses: Sequence[Status],
        before: datetime,
        limit: int = 500,
        after: tuple[datetime, int] | None = None,
    ) -> list[Complaint]:
        """Complaints in ``statuses`` whose ``column`` <= ``before``, earliest first.

        ``column`` is verify_due, followup_due, settle_due, autoclose_due or
        resolved_at; ``after`` is the (value, id) of the last row of the previous page.
        """

    async def on_hold(
        self, since_before: datetime, limit: int = 500, after: tuple[datetime, int] | None = None
    ) -> list[tuple[Complaint, Event]]:
        """Complaints on hold (tertunda) with the event that put them there, for holds
        that began at or before ``since_before``, earliest first; ``after`` is the
        (at, event id) of the last row of the previous page."""

    async def queued_keys(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` that are already outbox dedupe keys."""

    async def digest(self, since: datetime, until: datetime, now: datetime) -> DigestFigures:
        """New and resolved complaints in [since, until), open counts as of ``now``."""


class WebStore(Protocol):
    """What the web chat and the web desk read and keep besides the units of work; each
    call is its own transaction."""

    async def transcript(
        self, channel: str, chat_id: str, after: int = 0, limit: int = 200
    ) -> list[OutboxItem]:
        """Messages delivered to a chat, oldest first, with an id above ``after``."""

    async def recent(self, channel: str, chat_id: str, limit: int = 50) -> list[OutboxItem]:
        """The newest messages delivered to a chat, newest first."""

    async def sent_item(self, item_id: int) -> OutboxItem | None: ...
    async def secret(self, name: str, make: str) -> str:
        """The stored secret ``name``; ``make`` is stored first if there is none."""

    async def account(self, username: str) -> OfficerAccount | None: ...
    async def account_by_id(self, account_id: int) -> OfficerAccount | None: ...
    async def accounts(self) -> list[OfficerAccount]: ...
    async def add_account(self, account: OfficerAccount) -> OfficerAccount: ...
    async def update_account(self, account: OfficerAccount) -> None: ...
    async def add_session(self, session: OfficerSession) -> None: ...
    async def session(self, token_hash: str, now: datetime) -> OfficerSession | None:
        """A session that has not expired at ``now``."""

    async def end_session(self, token_hash: str) -> None: ...
    async def end_sessions(self, account_id: int) -> None: ...
