"""An operator's view of a running bot: /healthz and /metrics on its web server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.support.desk import ShiftedClock, build_city


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text, 0 when absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? ([0-9.e+-]+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


async def test_healthz_and_metrics_tell_what_the_bot_did_and_what_waits(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    city = build_city(fake, database_url, tmp_path)
    clock = ShiftedClock()
    async with city.bot(clock) as app, aiohttp.ClientSession() as http:
        base = app.web.url if app.web else ""
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
            health = await response.json()
        assert health["database"] == "ok" and health["inbox_parked"] == 0
        ticket = await city.file_complaint()
        async with http.get(f"{base}/healthz") as response:
            health = await response.json()
        assert health["last_update_seconds"] is not None and health["last_update_seconds"] < 60
        clock.advance(days=10)  # past the verification deadline
        async with http.get(f"{base}/metrics") as response:
            assert response.status == 200
            metrics = await response.text()
    assert ticket
    assert sample(metrics, "kanal_updates_total", channel="telegram", outcome="handled") >= 7
    assert sample(metrics, "kanal_outbox_sends_total", channel="telegram", outcome="sent") >= 7
    assert sample(metrics, "kanal_update_seconds_count", channel="telegram") >= 7
    assert sample(metrics, "kanal_complaints_overdue", agency="pupr", deadline="verify") == 1
    assert "kanal_outbox_backlog" in metrics and "kanal_inbox_updates" in metrics
