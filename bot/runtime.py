"""The composition root: builds storage, the core, the Telegram adapter and background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from telegram import Update
from telegram.ext import Application

from bot.logging_setup import guard_secrets
from bot.scheduler import BotScheduler
from bot.settings import Settings
from conversations.core import survey
from conversations.core.context import CoreContext, SystemClock
from conversations.core.delivery import Deliverer
from conversations.core.domain import OutboxItem
from conversations.core.duties import Duties
from conversations.core.handling import reporter_unreachable
from conversations.core.i18n import Catalog
from conversations.core.messages import Channel, ChatAddress, Inbound, InboundKind, Reply
from conversations.core.outbox import queue
from conversations.core.ports import Clock
from conversations.core.ratelimit import SendLimits
from conversations.core.topics import TopicSender
from conversations.core.workdays import WorkingCalendar
from conversations.engine import CitizenChat
from conversations.officer_desk import OfficerDesk, citizen_follow_up, follow_up_reply
from handlers.telegram.app import build_application
from handlers.telegram.files import TelegramMediaFetcher
from handlers.telegram.officers import TelegramChatAdmins, TelegramForumTopics
from handlers.telegram.sender import TelegramSender
from storage import migrate
from storage.database import create_engine, session_factory
from storage.files import LocalFileStore
from storage.outbox_queue import SqlOutboxQueue
from storage.schedule_queries import SqlScheduleQueries
from storage.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)


def check_writable(folder: Path) -> None:
    """Fail at start, with the reason, rather than at a citizen's first photo."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise SystemExit(f"MEDIA_DIR {folder}: cannot write there ({error.strerror})") from None


class KanalAduan:
    """One bot process. ``start`` returns once polling runs; ``stop`` ends everything."""

    def __init__(self, settings: Settings, clock: Clock | None = None):
        self.settings = settings
        self.clock = clock or SystemClock()
        self.application: Application | None = None  # type: ignore[type-arg]

    async def start(self) -> None:
        settings = self.settings
        settings.require_telegram()
        guard_secrets([settings.telegram_bot_token.get_secret_value()])
        self.db = create_engine(settings.database_url)
        await migrate.upgrade(self.db)
        sessions = session_factory(self.db)
        config = settings.city()
        check_writable(settings.media_dir)
        files = LocalFileStore(settings.media_dir)
        application = build_application(
            settings.telegram_bot_token.get_secret_value(),
            settings.telegram_api_base_url,
            self.dispatch,
            self.on_failure,
        )
        self.application = application
        bot = application.bot
        self.ctx = CoreContext(
            config=config,
            catalog=Catalog.load(default=settings.default_language),
            calendar=WorkingCalendar(
                config.timezone, config.cuti_bersama, config.extra_working_days
            ),
            uow=lambda: SqlUnitOfWork(sessions),
            files=files,
            desk_chat=ChatAddress(Channel.TELEGRAM, str(settings.admin_chat_id)),
            clock=self.clock,
            fetchers={Channel.TELEGRAM.value: TelegramMediaFetcher(bot)},
        )
        self.citizens = CitizenChat(self.ctx)
        self.citizens.idle_handlers.append(citizen_follow_up)
        self.citizens.choice_handlers[survey.PREFIX] = survey.handle_choice
        self.citizens.idle_handlers.append(survey.handle_comment)
        self.citizens.reply_handlers.append(follow_up_reply)
        self.citizens.reply_handlers.append(survey.comment_reply)
        self.duties = Duties(self.ctx, SqlScheduleQueries(sessions))
        self.officers = OfficerDesk(self.ctx, TelegramChatAdmins(bot))
        limits = SendLimits(
            global_per_second=settings.telegram_global_rate,
            private_per_second=settings.telegram_private_rate,
            private_burst=settings.telegram_private_burst,
            group_per_minute=settings.telegram_group_per_minute,
        )
        self.deliverer = Deliverer(
            SqlOutboxQueue(sessions),
            {
                Channel.TELEGRAM.value: TopicSender(
                    TelegramSender(bot), TelegramForumTopics(bot), self.ctx.uow
                )
            },
            files,
            self.clock,
            limits,
            max_attempts=settings.outbox_max_attempts,
            batch=settings.outbox_batch,
            lease_seconds=settings.outbox_lease_seconds,
            backoff_base=settings.outbox_backoff_base_seconds,
            backoff_max=settings.outbox_backoff_max_seconds,
            on_failed=self.duties.delivery_failed,
            on_unreachable=self.on_unreachable,
        )
        self.ctx.wake_outbox = self.deliverer.wake
        self.scheduler = BotScheduler(
            self.deliverer,
            self.duties,
            config,
            settings.outbox_interval_seconds,
            settings.deadline_scan_minutes,
        )
        await application.initialize()
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            timeout=settings.telegram_poll_timeout,
            poll_interval=0.0,
            drop_pending_updates=False,
            allowed_updates=Update.ALL_TYPES,
        )
        self.scheduler.start()
        log.info("Kanal Aduan is running (%s)", config.city_name)

    async def stop(self) -> None:
        # Stop taking updates first, so replies to the last ones are still delivered.
        application = self.application
        if application is not None:
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
        scheduler: BotScheduler | None = getattr(self, "scheduler", None)
        if scheduler is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.deliverer.run_once(), timeout=5.0)
            await scheduler.stop()
        if application is not None:
            await application.shutdown()
        await self.db.dispose()

    async def dispatch(self, inbound: Inbound) -> str | None:
        if inbound.is_private:
            turn = await self.citizens.handle(inbound)
            return turn.notice
        return await self.officers.handle(inbound)

    async def on_unreachable(self, item: OutboxItem, detail: str) -> None:
        """403 (``Deliverer.on_unreachable``): tell the desk, and show on the cards of the
        reporter's open complaints that they cannot be reached."""
        try:
            await self.duties.delivery_unreachable(item, detail)
        finally:
            await reporter_unreachable(self.ctx, item.channel, item.chat_id)

    async def on_failure(self, inbound: Inbound | None) -> str | None:
        """An update could not be handled: say so, without details, and lose nothing.

        Returns the text for answering a pressed button.
        """
        if inbound is None:
            return None
        text = self.ctx.t(None, "common.unknown_error")
        try:
            async with self.ctx.uow() as uow:
                if inbound.is_private:
                    citizen = await uow.citizens.find(
                        inbound.chat.channel.value, inbound.sender.user_id
                    )
                    text = self.ctx.t(citizen.language if citizen else None, "common.unknown_error")
                if inbound.kind is not InboundKind.CHOICE:
                    key = f"failure:{inbound.update_key}"
                    await queue(uow, inbound.chat, Reply(text), "reply", key)
                    await uow.commit()
            self.deliverer.wake()
        except Exception:
            log.exception("could not report the failure")
        return text
