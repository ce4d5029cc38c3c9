"""Shared fixtures: a migrated database (SQLite, and PostgreSQL when TEST_DATABASE_URL is
set), and settings that come only from the test itself."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (the tables to empty between tests)
from bot.settings import Settings
from storage import migrate
from storage.database import create_engine, is_sqlite, normalise_url

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
_created: set[str] = set()
NEEDS_POSTGRES = pytest.mark.skipif(
    not POSTGRES_URL, reason="PostgreSQL: set TEST_DATABASE_URL to run this on PostgreSQL too"
)
SETTINGS_KEYS = frozenset(name.upper() for name in Settings.model_fields)


def database_params() -> list[object]:
    return ["sqlite", pytest.param("postgresql", marks=NEEDS_POSTGRES)]


@pytest.fixture(autouse=True)
def no_developer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the settings they set and nothing else: not the developer's ``.env``,
    not a key exported in their shell."""
    for name in list(os.environ):
        if name.upper() in SETTINGS_KEYS:
            monkeypatch.delenv(name)
    monkeypatch.setitem(Settings.model_config, "env_file", None)


def postgres_url() -> str:
    """The test database of this test process: with pytest-xdist, one per worker."""
    assert POSTGRES_URL
    url = make_url(normalise_url(POSTGRES_URL))
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        url = url.set(database=f"{url.database}_{worker}")
    return url.render_as_string(hide_password=False)


async def _create_database(url: str) -> None:
    if url in _created:
        return
    target = make_url(url)
    admin = create_engine(
        make_url(normalise_url(str(POSTGRES_URL))).render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        await admin.dispose()
    _created.add(url)


def _head() -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def reset_postgres(url: str) -> None:
    """Empty the database: truncate when it is at the newest schema, else start over."""
    await _create_database(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            version = None
            if await connection.scalar(text("SELECT to_regclass('public.alembic_version')")):
                version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            if version == _head():
                names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
                await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def fresh_database_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'aduan.db'}"
    url = postgres_url()
    await reset_postgres(url)
    return url


@pytest.fixture(params=database_params())
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: every storage test runs on each backend."""
    return await fresh_database_url(str(request.param), tmp_path)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def postgres_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated PostgreSQL database, for what only several processes on PostgreSQL
    can show (mark the test ``NEEDS_POSTGRES``)."""
    engine = create_engine(await fresh_database_url("postgresql", tmp_path))
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'aduan.db'}"


__all__ = ["is_sqlite"]
