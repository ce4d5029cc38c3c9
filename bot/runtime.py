"""The composition root: builds storage, the core, the channels (the web part always,
Telegram when configured) and background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import BaseRoute

from bot import startup
from bot.channels import ChannelPlugin
from bot.health import health_route
from bot.metrics import Metrics, metrics_route
from bot.scheduler import BotScheduler
from bot.settings import Settings
from bot.setup_mode import SetupMode
from bot.telegram_channel import TelegramChannel
from bot.web import WebServer
from bot.web_channel import WebChannel
from bot.whatsapp_channel import WhatsAppChannel
from conversations.core import survey
from conversations.core.context import CoreContext, SystemClock
from conversations.core.delivery import Deliverer
from conversations.core.domain import OutboxItem
from conversations.core.duties import Duties
from conversations.core.evidence import prefetch
from conversations.core.handling import reporter_unreachable
from conversations.core.i18n import Catalog
from conversations.core.inbox import Inbox, InboxItem
from conversations.core.messages import Channel, ChatAddress, Inbound, Reply
from conversations.core.outbox import queue
from conversations.core.ports import Clock
from conversations.core.profile import bot_profiles
from conversations.core.reports import Reports, ReportSender
from conversations.core.workdays import WorkingCalendar
from conversations.engine import CitizenChat
from conversations.officer_desk import OfficerDesk, citizen_follow_up, follow_up_reply
from handlers.reports import FileRenderer
from handlers.web.statistics import statistics_route
from storage.database import is_sqlite, session_factory
from storage.files import LocalFileStore
from storage.inbox_store import SqlInboxStore
from storage.outbox_queue import SqlOutboxQueue
from storage.report_queries import SqlReportQueries
from storage.repositories import OutboxClaim
from storage.schedule_queries import SqlScheduleQueries
from storage.unit_of_work import SqlUnitOfWork
from storage.web_store import SqlWebStore
from storage.workers import SqlWorkers, new_worker_id

log = logging.getLogger(__name__)

# The web desk's address in the outbox: alerts, digests and reminders for the desk.
WEB_DESK = "desk"


class KanalAduan:
    """One bot process. ``start`` returns once it takes updates; ``stop`` ends everything.

    ``embedded``: another bot's framework takes the Telegram updates and hands Kanal
    Aduan's to ``self.inbox`` (``bot.embed``); no polling, no webhook, and the host's
    command menu is left alone."""

    def __init__(self, settings: Settings, clock: Clock | None = None, embedded: bool = False):
        self.settings = settings
        self.embedded = embedded
        self.clock = clock or SystemClock()
        self.web: WebServer | None = None
        self.channels: dict[str, ChannelPlugin] = {}
        self.fatal: asyncio.Future[str] | None = None
        self.telegram: TelegramChannel | None = None
        self.whatsapp: WhatsAppChannel | None = None
        self.setup: SetupMode | None = None
        self.announcement = ""
        # Set once delivery runs: until then rows are queued the ordinary way.
        self.outbox_claim: OutboxClaim | None = None

    async def start(self) -> None:
        settings = self.settings
        self.fatal = asyncio.get_running_loop().create_future()
        # Settings, city file, MEDIA_DIR, database, Bot API: one clear line per problem.
        self.db = await startup.prepare(settings)
        sessions = session_factory(self.db)
        await self._join(sessions)
        config = settings.city()
        files = LocalFileStore(settings.media_dir)

        def uow() -> SqlUnitOfWork:
            return SqlUnitOfWork(sessions, self.outbox_claim)

        self.redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        self.web_channel = WebChannel(settings, SqlWebStore(sessions), files)
        self.channels = {self.web_channel.name: self.web_channel}
        embedded = self.embedded
        if settings.telegram_on and not settings.setup_mode:
            self.telegram = TelegramChannel(settings, uow, self.redis, external_intake=embedded)
            self.channels[self.telegram.name] = self.telegram
            desk = ChatAddress(Channel.TELEGRAM, str(settings.admin_chat_id))
        else:
            # Without a complaint desk group, the web desk is the desk.
            desk = ChatAddress(Channel.WEB, WEB_DESK)
        if settings.whatsapp_on:
            self.whatsapp = WhatsAppChannel(settings, self.clock, self.redis)
            self.channels[self.whatsapp.name] = self.whatsapp
        self.ctx = CoreContext(
            config=config,
            catalog=Catalog.load(default=settings.default_language),
            calendar=WorkingCalendar(
                config.timezone, config.cuti_bersama, config.extra_working_days
            ),
            uow=uow,
            files=files,
            desk_chat=desk,
            clock=self.clock,
            fetchers={
                name: c.fetcher for name, c in self.channels.items() if c.fetcher is not None
            },
        )
        self.citizens = CitizenChat(self.ctx)
        self.citizens.idle_handlers.append(citizen_follow_up)
        self.citizens.choice_handlers[survey.PREFIX] = survey.handle_choice
        self.citizens.idle_handlers.append(survey.handle_comment)
        self.citizens.reply_handlers.append(follow_up_reply)
        self.citizens.reply_handlers.append(survey.comment_reply)
        self.duties = Duties(self.ctx, SqlScheduleQueries(sessions))
        self.officers = OfficerDesk(self.ctx, self.telegram.admins if self.telegram else None)
        # Reports for /laporan, the monthly recap and the public statistics page.
        self.reports = Reports(
            self.ctx, SqlReportQueries(sessions, self.ctx.calendar), FileRenderer()
        )
        self.inbox_store = SqlInboxStore(
            sessions, self.workers.id, owner_timeout=settings.worker_timeout_seconds
        )
        self.metrics = Metrics()
        self.inbox = Inbox(
            self.inbox_store,
            {name: c.intake for name, c in self.channels.items()},
            self.dispatch,
            self.clock,
            on_parked=self.on_parked,
            failure_notice=lambda inbound: self.ctx.t(None, "common.unknown_error"),
            max_attempts=settings.inbox_max_attempts,
            lease_seconds=settings.outbox_lease_seconds,
            observer=self.metrics,
        )
        outbox_queue = SqlOutboxQueue(
            sessions, owner=self.workers.id, owner_timeout=settings.worker_timeout_seconds
        )
        self.deliverer = Deliverer(
            outbox_queue,
            # A report request in the outbox becomes the report's messages.
            {name: ReportSender(c.sender, self.reports) for name, c in self.channels.items()},
            files,
            self.clock,
            {name: c.limits for name, c in self.channels.items()},
            max_attempts=settings.outbox_max_attempts,
            batch=settings.outbox_batch,
            lease_seconds=settings.outbox_lease_seconds,
            backoff_base=settings.outbox_backoff_base_seconds,
            backoff_max=settings.outbox_backoff_max_seconds,
            on_failed=self.duties.delivery_failed,
            on_unreachable=self.on_unreachable,
            observer=self.metrics,
            on_sent=self.web_channel.sent,
        )
        self.ctx.wake_outbox = self.deliverer.wake
        self.outbox_claim = OutboxClaim(
            outbox_queue.owner,
            settings.outbox_lease_seconds,
            self.deliverer.adopt,
            self.deliverer.hand_back,
        )
        if self.whatsapp is not None:
            self.whatsapp.prepare(
                self.ctx,
                self.inbox_store.last_received,
                outbox_queue.delivery_status,
                self.duties.delivery_failed,
                self.on_unreachable,
            )
        self.scheduler = BotScheduler(
            self.deliverer,
            self.duties,
            config,
            settings.outbox_interval_seconds,
            settings.deadline_scan_minutes,
            inbox=self.inbox,
            inbox_sweep_seconds=settings.inbox_sweep_seconds,
            heartbeat=self._heartbeat,
            heartbeat_seconds=settings.worker_heartbeat_seconds,
            housekeeping=self._housekeeping,
        )
        await self.web_channel.prepare(self.ctx)
        routes: list[BaseRoute] = [
            health_route(sessions, self.inbox_store, self.clock),
            metrics_route(self.metrics, sessions, self.inbox_store, self.clock),
            statistics_route(self.reports, settings.statistics_cache_seconds),
        ]
        for channel in self.channels.values():
            routes += channel.routes(self.inbox)
        self.web = WebServer(settings.web_host, settings.web_port, routes)
        await self.web.start()
        self.scheduler.start()
        for channel in self.channels.values():
            if channel is not self.telegram:
                await channel.start(self.inbox, self._stop_for)
        self.inbox.sweep_soon()
        if settings.setup_mode:
            self.setup = SetupMode(settings)
            await self.setup.start()
        address = settings.public_url or self.web.url
        state = settings.telegram_state()
        if self.whatsapp is not None:
            state += f"; WhatsApp on, webhook {settings.whatsapp_webhook_path}"
        self.announcement = f"Kanal Aduan: open {address} ({state})"
        log.info("%s; city: %s", self.announcement, config.city_name)
        if self.telegram is not None:
            # Retried with back-off while the Bot API is out of reach (a refused token
            # stops at once); everything else already runs meanwhile.
            await startup.reach_bot_api(
                settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base_url
            )
            await self.telegram.initialize([] if self.embedded else bot_profiles(self.ctx))
            await self.telegram.start(self.inbox, self._stop_for)

    def _stop_for(self, reason: str) -> None:
        if self.fatal is not None and not self.fatal.done():
            self.fatal.set_result(reason)

    async def _join(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Register this process; on SQLite refuse a second one; take back a dead
        predecessor's claims at once."""
        settings = self.settings
        self.workers = SqlWorkers(
            sessions, new_worker_id(), timeout=settings.worker_timeout_seconds
        )
        now = self.clock.now()
        if is_sqlite(settings.database_url):
            others = await self.workers.others_alive(now)
            if others:
                first = others[0]
                raise SystemExit(
                    f"another Kanal Aduan process (pid {first.pid} on {first.host}) is running "
                    "on this SQLite database; stop it first, or use PostgreSQL to run several"
                )
        await self.workers.register(now)
        released = await self.workers.release_orphans(now)
        if released:
            log.info("took back %d update(s)/message(s) held by a stopped process", released)

    async def _heartbeat(self) -> None:
        await self.workers.heartbeat(self.clock.now(), self.settings.outbox_lease_seconds)

    async def _housekeeping(self) -> None:
        before = self.clock.now() - timedelta(days=self.settings.inbox_retention_days)
        forgotten = await self.inbox_store.forget_done(before)
        if forgotten:
            log.info("forgot %d handled update(s) older than %s", forgotten, before.date())

    async def stop(self) -> None:
        if self.setup is not None:
            await self.setup.stop()
        # Stop taking updates first, so replies to the last ones are still delivered.
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.stop()
        if self.web is not None:
            await self.web.stop()
        inbox: Inbox | None = getattr(self, "inbox", None)
        if inbox is not None:
            await inbox.close(grace=5.0)
        scheduler: BotScheduler | None = getattr(self, "scheduler", None)
        if scheduler is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.deliverer.run_once(), timeout=5.0)
            await scheduler.stop()
        workers: SqlWorkers | None = getattr(self, "workers", None)
        if workers is not None:
            with contextlib.suppress(Exception):
                await workers.deregister()
        for channel in self.channels.values():
            await channel.close()
        redis: Redis | None = getattr(self, "redis", None)
        if redis is not None:
            with contextlib.suppress(Exception):
                await redis.aclose()
        db = getattr(self, "db", None)
        if db is not None:
            await db.dispose()

    async def dispatch(self, inbound: Inbound) -> str | None:
        await prefetch(self.ctx, inbound)
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

    async def on_parked(self, item: InboxItem, inbound: Inbound | None, detail: str) -> None:
        """An update failed every attempt: it is kept (``aduan inbox``); the citizen is
        told once, without details, and the desk is alerted with its key only."""
        async with self.ctx.uow() as uow:
            if inbound is not None and inbound.chat != self.ctx.desk_chat:
                citizen = await uow.citizens.find(
                    inbound.chat.channel.value, inbound.sender.user_id
                )
                text = self.ctx.t(citizen.language if citizen else None, "common.unknown_error")
                await queue(uow, inbound.chat, Reply(text), "reply", f"failure:{item.key}")
            alert = self.ctx.t(None, "scheduler.parked", update=item.key)
            await queue(uow, self.ctx.desk_chat, Reply(alert), "alert", f"parked:{item.key}")
            await uow.commit()
        self.deliverer.wake()
