"""Async engine and session factory; SQLite gets WAL and foreign keys."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

BACKENDS = ("sqlite", "postgresql")


def validate_url(url: str) -> str | None:
    """What is wrong with a database URL, in words that never repeat its password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "is not a database URL (sqlite+aiosqlite:///path/file.db or postgresql://...)"
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        return f"names {backend}; only SQLite and PostgreSQL are supported"
    if backend == "sqlite" and not parsed.database:
        return "names no SQLite file (sqlite+aiosqlite:///data/kanal_aduan.db)"
    if backend == "postgresql" and not parsed.database:
        return "names no PostgreSQL database (postgresql://user:password@host/database)"
    return None


def url_password(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None


def display_url(url: str | URL) -> str:
    """The URL as it may be printed: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for PostgreSQL and in-memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def sqlite_folder_problem(url: str, create: bool) -> str | None:
    """A SQLite file's folder must exist: a mistyped path must not quietly become a
    new, empty database. With ``create`` the missing folder is made (the default
    ``data/`` on first start)."""
    path = sqlite_path(url)
    if path is None or path.parent.is_dir():
        return None
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        return None
    return (
        f"DATABASE_URL: the folder {path.parent} of the SQLite file does not exist; "
        "create it or correct the path"
    )


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite://`` URLs; use the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername == "postgresql+asyncpg" and "sslmode" in parsed.query:
        # Hosted PostgreSQL URLs say sslmode=...; asyncpg calls the same thing ssl.
        query = dict(parsed.query)
        query["ssl"] = query.pop("sslmode")
        parsed = parsed.set(query=query)
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


_HOLDS_WRITER = "kanal_holds_writer"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    url = normalise_url(url)
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's
            # documented fix is to let it autocommit and emit BEGIN ourselves.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        # SQLite has one writer at a time, and a waiting connection polls for the
        # lock, sleeping up to 100 ms between tries: under load the lock sat idle
        # while transactions waited (0.1 s per transaction on average at 60
        # updates/s). Connections of this engine queue on an asyncio lock instead
        # and get the database the moment the previous transaction ends; SQLite's
        # own waiting is left for other processes (backups, `aduan` commands).
        writer = asyncio.Lock()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(connection: Any) -> None:
            if not connection.info.get(_HOLDS_WRITER):
                # Runs inside SQLAlchemy's greenlet, where it may wait on the loop.
                await_only(writer.acquire())
                connection.info[_HOLDS_WRITER] = True
            # IMMEDIATE takes the write lock up front, so two writers queue on
            # busy_timeout instead of failing when a read turns into a write.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(engine.sync_engine.pool, "checkin")
        def _checkin(_dbapi_connection: Any, record: Any) -> None:
            if record is not None and record.info.pop(_HOLDS_WRITER, False):
                writer.release()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
