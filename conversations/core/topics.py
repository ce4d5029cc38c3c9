"""Agency forum topics in the admin group, created on first use and again when deleted.

Outbox items for an agency that works in a topic carry ``agency_topic`` in their
payload. ``TopicSender`` wraps the platform sender: it finds the topic's thread
(stored in the database), creates the topic on first use, and when the platform
says the thread is gone, creates a new topic, stores it and sends again.
"""

from __future__ import annotations

import logging

from conversations.core.domain import AgencyTopic, OutboxItem
from conversations.core.ports import (
    FileStore,
    ForumTopics,
    MessageSender,
    SendOutcome,
    SendResult,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)


class TopicSender:
    def __init__(self, inner: MessageSender, topics: ForumTopics, uow: UnitOfWorkFactory):
        self.inner = inner
        self.topics = topics
        self.uow = uow

    def message_count(self, item: OutboxItem) -> int:
        return self.inner.message_count(item)

    async def deliver(self, item: OutboxItem, files: FileStore) -> SendResult:
        code = item.payload.get("agency_topic")
        if not code or item.kind == "edit":
            return await self.inner.deliver(item, files)
        name = str(item.payload.get("topic_name") or code)
        try:
            item.thread_id = await self._thread(str(code), item.chat_id, name, stale=None)
        except Exception as error:
            log.warning("could not create the topic of %s: %s", code, type(error).__name__)
            return SendResult(SendOutcome.TRANSIENT, detail="topic creation failed")
        result = await self.inner.deliver(item, files)
        if result.outcome is not SendOutcome.THREAD_GONE:
            return result
        log.info("topic of %s is gone; creating a new one", code)
        try:
            item.thread_id = await self._thread(str(code), item.chat_id, name, item.thread_id)
        except Exception as error:
            log.warning("could not recreate the topic of %s: %s", code, type(error).__name__)
            return SendResult(SendOutcome.TRANSIENT, detail="topic creation failed")
        return await self.inner.deliver(item, files)

    async def _thread(self, code: str, chat_id: str, name: str, stale: int | None) -> int:
        """The stored thread of the agency, unless it is ``stale``; else a new topic."""
        async with self.uow() as uow:
            topic = await uow.topics.get(code, chat_id)
            if topic is not None and topic.thread_id != stale:
                return topic.thread_id
        thread_id = await self.topics.create(chat_id, name)
        async with self.uow() as uow:
            await uow.topics.save(AgencyTopic(agency=code, chat_id=chat_id, thread_id=thread_id))
            await uow.commit()
        return thread_id
