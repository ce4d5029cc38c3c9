"""One transaction over every repository."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.core.ports import (
    AgencyTopics,
    Attachments,
    Cards,
    Citizens,
    Complaints,
    Dialogues,
    Events,
    OfficerRequests,
    Outbox,
    UpdateLog,
)
from storage.repositories import (
    OutboxClaim,
    SqlAgencyTopics,
    SqlAttachments,
    SqlCards,
    SqlCitizens,
    SqlComplaints,
    SqlDialogues,
    SqlEvents,
    SqlOfficerRequests,
    SqlOutbox,
    SqlUpdateLog,
)


class SqlUnitOfWork:
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

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], claim: OutboxClaim | None = None
    ):
        self._sessions = sessions
        self._claim = claim

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.updates = SqlUpdateLog(self.session)
        self.citizens = SqlCitizens(self.session)
        self.dialogues = SqlDialogues(self.session)
        self.attachments = SqlAttachments(self.session)
        self.complaints = SqlComplaints(self.session)
        self.events = SqlEvents(self.session)
        self.outbox = self._outbox = SqlOutbox(self.session, self._claim)
        self.cards = SqlCards(self.session)
        self.requests = SqlOfficerRequests(self.session)
        self.topics = SqlAgencyTopics(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        claimed = list(self._outbox.claimed)
        try:
            await self.session.commit()
        except BaseException:
            if claimed and self._claim is not None:
                # The commit may have happened anyway (the connection broke on the
                # way back): rows claimed by a live process would wait forever.
                self._claim.hand_back(claimed)
            raise
        finally:
            # What this transaction knew of its chats (and, on PostgreSQL, their
            # locks) ended with it: the next one looks again.
            self._outbox.forget_claims()
        if claimed and self._claim is not None:
            self._claim.adopt(claimed)

    async def rollback(self) -> None:
        self._outbox.forget_claims()
        await self.session.rollback()
