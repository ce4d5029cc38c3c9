"""SQLModel tables. Mapped to and from the core's records in repositories."""

from __future__ import annotations

from datetime import date as dt_date
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from conversations.core.indicators import COUNTED_EVENTS

# One length rule for what comes from outside: the inbound boundary
# (conversations/core/sanitize.py) keeps every value within these.
from conversations.core.sanitize import (
    CHAT_ID_MAX,
    EXTERNAL_ID_MAX,
    FILE_ID_MAX,
    MIME_MAX,
    NAME_MAX,
    PHONE_MAX,
    USERNAME_MAX,
)


class InboxRow(SQLModel, table=True):
    """Every inbound update, stored before it is acknowledged; the key dedupes it."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_status_id", "status", "id"),
        Index("ix_inbox_chat_status_id", "chat_key", "status", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=160, unique=True)
    channel: str = Field(max_length=16)
    chat_key: str = Field(max_length=96)
    # The raw update as the platform sent it; cleared once handled (it holds personal data).
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: str = Field(default="pending", max_length=12)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    owner: str | None = Field(default=None, max_length=40)
    lease_until: datetime | None = None
    received_at: datetime
    processed_at: datetime | None = None
    error: str | None = None


class WorkerRow(SQLModel, table=True):
    """A running bot process; its heartbeat keeps its claims on inbox and outbox rows."""

    __tablename__ = "worker"
    id: str = Field(primary_key=True, max_length=40)
    host: str = Field(max_length=255)
    pid: int
    started_at: datetime
    heartbeat_at: datetime


class CitizenRow(SQLModel, table=True):
    __tablename__ = "citizen"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=EXTERNAL_ID_MAX)
    chat_id: str = Field(max_length=CHAT_ID_MAX, index=True)
    display_name: str = Field(max_length=NAME_MAX)
    username: str | None = Field(default=None, max_length=USERNAME_MAX)
    phone: str | None = Field(default=None, max_length=PHONE_MAX)
    language: str = Field(default="id", max_length=8)
    unreachable: bool = False
    offered: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    awaiting: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class DialogueRow(SQLModel, table=True):
    __tablename__ = "dialogue"
    citizen_id: int = Field(primary_key=True, foreign_key="citizen.id")
    step: str = Field(max_length=40)
    draft: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    back: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    editing: bool = False
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime


class AttachmentRow(SQLModel, table=True):
    __tablename__ = "attachment"
    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int | None = Field(default=None, foreign_key="complaint.id", index=True)
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id")
    kind: str = Field(max_length=16)
    path: str = Field(max_length=300)
    size: int
    sha256: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    platform_file_id: str | None = Field(default=None, max_length=FILE_ID_MAX)
    mime_type: str | None = Field(default=None, max_length=MIME_MAX)
    source: str = Field(default="citizen", max_length=16)
    created_at: datetime


class TicketCounterRow(SQLModel, table=True):
    __tablename__ = "ticket_counter"
    period: str = Field(primary_key=True, max_length=16)
    value: int = 0


class ComplaintRow(SQLModel, table=True):
    __tablename__ = "complaint"
    __table_args__ = (
        Index("ix_complaint_status_verify_due", "status", "verify_due"),
        Index("ix_complaint_status_followup_due", "status", "followup_due"),
        Index("ix_complaint_status_autoclose_due", "status", "autoclose_due"),
        Index("ix_complaint_status_settle_due", "status", "settle_due"),
        Index("ix_complaint_status_resolved_at", "status", "resolved_at"),
        Index("ix_complaint_agency_status", "agency", "status"),
        Index("ix_complaint_created_at", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    ticket: str = Field(max_length=32, unique=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    language: str = Field(default="id", max_length=8)
    category: str = Field(max_length=32)
    agency: str = Field(max_length=32)
    description: str
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = Field(default=None, max_length=500)
    anonymous: bool = False
    confidential: bool = False
    status: str = Field(max_length=20)
    resume_status: str | None = Field(default=None, max_length=20)
    version: int = 1
    created_at: datetime
    updated_at: datetime | None = None
    verify_due: datetime | None = None
    followup_due: datetime | None = None
    settle_due: datetime | None = None
    autoclose_due: datetime | None = None
    dispatched_at: datetime | None = None
    followed_up_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    rating: int | None = None


# The events reports read (storage/report_queries.py): a partial index holding all
# they need, so the scorecard reads no table rows for them.
_COUNTED_EVENTS_SQL = text("action IN ({})".format(", ".join(f"'{a}'" for a in COUNTED_EVENTS)))


class EventRow(SQLModel, table=True):
    __tablename__ = "complaint_event"
    __table_args__ = (
        Index(
            "ix_complaint_event_report",
            "complaint_id",
            "action",
            "at",
            "from_status",
            "actor_role",
            postgresql_where=_COUNTED_EVENTS_SQL,
            sqlite_where=_COUNTED_EVENTS_SQL,
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    at: datetime
    action: str = Field(max_length=32)
    actor_role: str = Field(max_length=16)
    actor_id: str | None = Field(default=None, max_length=EXTERNAL_ID_MAX)
    actor_name: str | None = Field(default=None, max_length=NAME_MAX)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    public_message: str | None = None
    note: str | None = None
    attachment_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
        Index("ix_outbox_chat_status_id", "chat_id", "status", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=160, unique=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64, index=True)
    thread_id: int | None = None
    kind: str = Field(max_length=24)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    complaint_id: int | None = Field(default=None, index=True)
    status: str = Field(default="pending", max_length=12)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    owner: str | None = Field(default=None, max_length=40)
    lease_until: datetime | None = None
    created_at: datetime
    sent_at: datetime | None = None
    error: str | None = None
    sent_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))


class CardLinkRow(SQLModel, table=True):
    __tablename__ = "card_link"
    chat_id: str = Field(primary_key=True, max_length=64)
    message_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    role: str = Field(max_length=48)  # "desk", "ask", or "agency:<code>"
    thread_id: int | None = None


class OfficerRequestRow(SQLModel, table=True):
    __tablename__ = "officer_request"
    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    chat_id: str = Field(max_length=64)
    action: str = Field(max_length=16)
    version: int
    actor_id: str = Field(max_length=EXTERNAL_ID_MAX)
    actor_name: str = Field(max_length=NAME_MAX)
    agency: str | None = Field(default=None, max_length=32)
    created_at: datetime


class AgencyTopicRow(SQLModel, table=True):
    __tablename__ = "agency_topic"
    agency: str = Field(primary_key=True, max_length=32)
    chat_id: str = Field(primary_key=True, max_length=64)
    thread_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class OfficerAccountRow(SQLModel, table=True):
    __tablename__ = "officer_account"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    agency: str | None = Field(default=None, max_length=32)
    desk: bool = False
    active: bool = True
    created_at: datetime


class OfficerSessionRow(SQLModel, table=True):
    __tablename__ = "officer_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="officer_account.id", index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime


class AppSecretRow(SQLModel, table=True):
    """Secrets the processes share (the key that signs web cookies), made on first start."""

    __tablename__ = "app_secret"
    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)


class ReportDayRow(SQLModel, table=True):
    """The city's working-day calendar for SQL: one row per local date.

    ``day`` is the local date as days since 1970-01-01; ``before`` counts the
    working days from the table's first date up to (not including) this one, so
    working time between two instants is a difference (see storage/report_queries.py).
    """

    __tablename__ = "report_day"
    day: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    # The UTC instant of the local midnight that starts the day, in epoch seconds.
    midnight: float
    date: dt_date
    month: str = Field(max_length=7)
    working: int
    before: int


class ReportCalendarRow(SQLModel, table=True):
    """What ``report_day`` was built from; rebuilt when the city's calendar changes."""

    __tablename__ = "report_calendar"
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    fingerprint: str = Field(max_length=64)
    built_at: datetime
