"""APScheduler jobs of one bot process: outbox and inbox rounds, the heartbeat,
deadline scans, the daily digest and housekeeping.

No job store: the schedule is derived from database rows every time a job runs
(outbox rows, deadlines on complaints, dedupe keys), so a restart resumes all
pending work and several processes may run the same jobs side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from conversations.core.config import CityConfig
from conversations.core.delivery import Deliverer
from conversations.core.duties import Duties
from conversations.core.inbox import Inbox

log = logging.getLogger(__name__)


class _SkipOverlapNotices(logging.Filter):
    """A delivery round still running when the next tick comes is normal, not a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


class Outage:
    """Logs a repeating failure once per doubling of its count, and the recovery."""

    def __init__(self, what: str):
        self.what = what
        self.failures = 0

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        if self.failures & (self.failures - 1) == 0:  # 1, 2, 4, 8, ...
            log.warning(
                "%s failed %d time(s) in a row: %s", self.what, self.failures, type(error).__name__
            )

    def ok(self) -> None:
        if self.failures:
            log.info("%s works again after %d failure(s)", self.what, self.failures)
        self.failures = 0


class BotScheduler:
    def __init__(
        self,
        deliverer: Deliverer,
        duties: Duties,
        config: CityConfig,
        outbox_interval: float,
        scan_minutes: float,
        *,
        inbox: Inbox | None = None,
        inbox_sweep_seconds: float = 1.0,
        heartbeat: Callable[[], Awaitable[None]] | None = None,
        heartbeat_seconds: float = 2.0,
        housekeeping: Callable[[], Awaitable[None]] | None = None,
    ):
        self.deliverer = deliverer
        self.duties = duties
        self.config = config
        self.outbox_interval = outbox_interval
        self.scan_minutes = scan_minutes
        self.inbox = inbox
        self.inbox_sweep_seconds = inbox_sweep_seconds
        self.heartbeat = heartbeat
        self.heartbeat_seconds = heartbeat_seconds
        self.housekeeping = housekeeping
        self.scheduler: Any = AsyncIOScheduler(timezone=config.timezone)
        self._stopping = False
        self._outages = {
            name: Outage(name) for name in ("outbox round", "inbox round", "heartbeat")
        }

    def start(self) -> None:
        scheduler_log = logging.getLogger("apscheduler.scheduler")
        if not any(isinstance(f, _SkipOverlapNotices) for f in scheduler_log.filters):
            scheduler_log.addFilter(_SkipOverlapNotices())
        soon = datetime.now(UTC) + timedelta(milliseconds=50)
        common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        self.scheduler.add_job(
            self._deliver,
            IntervalTrigger(seconds=self.outbox_interval),
            id="outbox",
            next_run_time=soon,
            **common,
        )
        self.scheduler.add_job(
            self._scan,
            IntervalTrigger(minutes=self.scan_minutes),
            id="scan",
            next_run_time=soon,
            **common,
        )
        if self.inbox is not None:
            self.scheduler.add_job(
                self._sweep,
                IntervalTrigger(seconds=self.inbox_sweep_seconds),
                id="inbox",
                next_run_time=soon,
                **common,
            )
        if self.heartbeat is not None:
            self.scheduler.add_job(
                self._beat,
                IntervalTrigger(seconds=self.heartbeat_seconds),
                id="heartbeat",
                **common,
            )
        if self.housekeeping is not None:
            self.scheduler.add_job(
                self._housekeep,
                IntervalTrigger(hours=6),
                id="housekeeping",
                next_run_time=soon + timedelta(minutes=1),
                **common,
            )
        digest_at = self.config.digest_time
        self.scheduler.add_job(
            self._scan,
            CronTrigger(
                hour=digest_at.hour,
                minute=digest_at.minute,
                second=digest_at.second,
                timezone=self.config.timezone,
            ),
            id="digest",
            **common,
        )
        self.scheduler.start()

    async def stop(self) -> None:
        await self.deliverer.close()  # first: let sends on the wire be recorded
        self._stopping = True
        if self.scheduler.running:
            executor = self.scheduler._lookup_executor("default")
            pending = list(getattr(executor, "_pending_futures", ()))
            self.scheduler.shutdown(wait=False)  # cancels the running job coroutines
            for future in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await future

    async def _deliver(self) -> None:
        # A tick claims what fell due (retries, rows of chats that were busy); the
        # lanes it starts run on their own, so a slow chat never holds up this job.
        await self._guarded("outbox round", self.deliverer.claim_round)

    async def _sweep(self) -> None:
        assert self.inbox is not None
        await self._guarded("inbox round", self.inbox.sweep)

    async def _beat(self) -> None:
        assert self.heartbeat is not None
        await self._guarded("heartbeat", self.heartbeat)

    async def _guarded(self, name: str, job: Callable[[], Awaitable[object]]) -> None:
        outage = self._outages[name]
        try:
            await job()
        except asyncio.CancelledError:
            if self._stopping:
                return  # cut short by the stop: no error (APScheduler would log one)
            raise
        except Exception as error:
            outage.failed(error)
        else:
            outage.ok()

    async def _logged(self, name: str, job: Callable[[], Awaitable[object]]) -> None:
        try:
            await job()
        except asyncio.CancelledError:
            if self._stopping:
                return
            raise
        except Exception:
            log.exception("%s failed", name)

    async def _housekeep(self) -> None:
        assert self.housekeeping is not None
        await self._logged("housekeeping", self.housekeeping)

    async def _scan(self) -> None:
        await self._logged("deadline scan", self.duties.scan)
