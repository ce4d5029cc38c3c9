"""APScheduler jobs of one bot process: outbox delivery, deadline scans, the daily digest.

No job store: the schedule is derived from database rows every time a job runs
(outbox rows, deadlines on complaints, dedupe keys), so a restart resumes all
pending work and several processes may run the same jobs side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from conversations.core.config import CityConfig
from conversations.core.delivery import Deliverer
from conversations.core.duties import Duties

log = logging.getLogger(__name__)


class _SkipOverlapNotices(logging.Filter):
    """A delivery round still running when the next tick comes is normal, not a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


class BotScheduler:
    def __init__(
        self,
        deliverer: Deliverer,
        duties: Duties,
        config: CityConfig,
        outbox_interval: float,
        scan_minutes: float,
    ):
        self.deliverer = deliverer
        self.duties = duties
        self.config = config
        self.outbox_interval = outbox_interval
        self.scan_minutes = scan_minutes
        self.scheduler: Any = AsyncIOScheduler(timezone=config.timezone)

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
        if self.scheduler.running:
            executor = self.scheduler._lookup_executor("default")
            pending = list(getattr(executor, "_pending_futures", ()))
            self.scheduler.shutdown(wait=False)  # cancels the running job coroutines
            for future in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await future

    async def _deliver(self) -> None:
        try:
            await self.deliverer.run_once()
        except Exception:
            log.exception("outbox delivery round failed")

    async def _scan(self) -> None:
        try:
            await self.duties.scan()
        except Exception:
            log.exception("deadline scan failed")
