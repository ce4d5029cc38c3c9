"""Domain records the core works with; storage maps them to tables."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from conversations.core.lifecycle import Status


@dataclass
class Awaiting:
    """What the bot asked a citizen outside the complaint dialogue and waits for:
    information to ``add``, the reason to ``withdraw`` or to ask for a ``review``."""

    what: str
    complaint_id: int
    until: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "complaint_id": self.complaint_id,
            "until": self.until.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Awaiting | None:
        if not data:
            return None
        try:
            return cls(
                str(data["what"]), int(data["complaint_id"]), datetime.fromisoformat(data["until"])
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass
class Citizen:
    channel: str
    external_id: str
    chat_id: str
    display_name: str
    username: str | None = None
    phone: str | None = None
    language: str = "id"
    unreachable: bool = False
    # The choices of the last message with choices sent to this chat (typed answers
    # pick from them) and what the bot waits for; each saved by its own call.
    offered: list[dict[str, str]] = field(default_factory=list)
    awaiting: Awaiting | None = None
    id: int | None = None


@dataclass
class Attachment:
    kind: str
    path: str
    size: int
    sha256: str
    channel: str
    platform_file_id: str | None = None
    mime_type: str | None = None
    complaint_id: int | None = None
    citizen_id: int | None = None
    source: str = "citizen"
    created_at: datetime | None = None
    id: int | None = None


@dataclass
class Draft:
    category: str | None = None
    description: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    photo_ids: list[int] = field(default_factory=list)
    anonymous: bool = False
    confidential: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Draft:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Dialogue:
    """Where a citizen is in a conversation; stored so a restart resumes it."""

    citizen_id: int
    step: str
    draft: Draft = field(default_factory=Draft)
    back: list[str] = field(default_factory=list)
    editing: bool = False
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Complaint:
    ticket: str
    citizen_id: int
    channel: str
    chat_id: str
    category: str
    agency: str
    description: str
    created_at: datetime
    language: str = "id"
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    anonymous: bool = False
    confidential: bool = False
    status: Status = Status.BARU
    resume_status: Status | None = None
    version: int = 1
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
    id: int | None = None


@dataclass
class Event:
    complaint_id: int
    at: datetime
    action: str
    actor_role: str
    actor_id: str | None = None
    actor_name: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    public_message: str | None = None
    note: str | None = None
    attachment_ids: list[int] = field(default_factory=list)
    id: int | None = None


@dataclass
class OutboxItem:
    """A bot-initiated message, written in the transaction that caused it."""

    channel: str
    chat_id: str
    kind: str
    payload: dict[str, Any]
    dedupe_key: str
    thread_id: int | None = None
    complaint_id: int | None = None
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    error: str | None = None
    sent_message_id: int | None = None
    id: int | None = None

    @property
    def private(self) -> bool:
        """A one-to-one chat, whose id is the person's own (Telegram groups are negative)."""
        return not self.chat_id.startswith("-")


@dataclass
class CardLink:
    """A posted card (or topic) and the complaint it shows."""

    chat_id: str
    message_id: int
    complaint_id: int
    role: str
    thread_id: int | None = None


@dataclass
class OfficerRequest:
    """An officer pressed an action that needs a reason; waiting for their reply."""

    complaint_id: int
    chat_id: str
    action: str
    version: int
    actor_id: str
    actor_name: str
    created_at: datetime
    agency: str | None = None
    id: int | None = None


@dataclass
class AgencyTopic:
    """The forum topic of an agency in the admin group."""

    agency: str
    chat_id: str
    thread_id: int


@dataclass
class OfficerAccount:
    """An officer who signs in to the web desk: the desk's, or one agency's."""

    username: str
    display_name: str
    password_hash: str
    created_at: datetime
    agency: str | None = None
    desk: bool = False
    active: bool = True
    id: int | None = None


@dataclass
class OfficerSession:
    """A signed-in browser of the web desk; only the hash of its token is stored."""

    token_hash: str
    account_id: int
    csrf: str
    created_at: datetime
    expires_at: datetime
