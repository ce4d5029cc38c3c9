"""The Alembic migrations build exactly the schema the tables describe."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import storage.tables  # noqa: F401
from storage import migrate
from storage.database import create_engine
from tests.conftest import NEEDS_POSTGRES, fresh_database_url


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrated_database_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


@NEEDS_POSTGRES
async def test_processes_started_together_on_a_new_database_all_start(tmp_path: Path) -> None:
    # Several `aduan run` behind one address, started at once on an empty database.
    url = await fresh_database_url("postgresql", tmp_path)
    engines = [create_engine(url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate.upgrade(engine) for engine in engines))
        current, head = await migrate.revisions(engines[0])
        assert current == head
    finally:
        for engine in engines:
            await engine.dispose()
