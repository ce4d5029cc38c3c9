"""``aduan backup`` and ``aduan restore``: the database and the photos come back together."""

from __future__ import annotations

import asyncio
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from conversations.core.domain import Attachment
from storage import backup, migrate
from storage.database import create_engine, is_sqlite
from storage.files import LocalFileStore
from storage.tables import CitizenRow
from tests.conftest import fresh_database_url, reset_postgres
from tests.fakes.telegram_api import TINY_JPEG
from tests.support.process import aduan
from tests.test_storage import NOW, a_citizen, a_complaint, uow_factory


async def contents(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            rows = await connection.execute(select(table).order_by(*order))
            tables[table.name] = [tuple(row) for row in rows]
    return tables


async def a_city_with_a_photo(engine: AsyncEngine, media: Path) -> None:
    citizen = await a_citizen(engine)
    complaint = await a_complaint(engine, citizen)
    stored = await LocalFileStore(media).save(TINY_JPEG, "photo", "image/jpeg")
    async with uow_factory(engine) as uow:
        await uow.attachments.add(
            Attachment(
                kind="photo",
                path=stored.path,
                size=stored.size,
                sha256=stored.sha256,
                channel="telegram",
                complaint_id=complaint.id,
                citizen_id=citizen.id,
                created_at=NOW,
            )
        )
        await uow.commit()


def photos(media: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(media)): path.read_bytes()
        for path in sorted(media.rglob("*"))
        if path.is_file()
    }


async def test_a_backup_taken_while_the_bot_writes_restores_what_was_committed(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    await a_city_with_a_photo(engine, media)
    (media / "photo" / "unfinished.jpg.part").write_bytes(b"half a photo")
    committed = await contents(engine)
    archive = tmp_path / "aduan.tgz"
    # The bot is in the middle of a transaction that writes: the backup neither waits
    # for it nor catches it half done.
    async with engine.connect() as busy:
        await busy.begin()
        await busy.execute(
            insert(CitizenRow).values(
                channel="telegram",
                external_id="3003",
                chat_id="3003",
                display_name="Joko",
                offered=[],
            )
        )
        summary = await asyncio.wait_for(backup.backup(database_url, media, archive), 60)
        await busy.rollback()
    assert summary.media_files == 1
    with tarfile.open(archive) as opened:
        manifest = json.load(opened.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["backend"] == ("sqlite" if is_sqlite(database_url) else "postgresql")
    assert manifest["revision"] == (await migrate.revisions(engine))[1]

    await engine.dispose()
    if is_sqlite(database_url):
        target = f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'aduan.db'}"
        (tmp_path / "restored").mkdir()
    else:
        await reset_postgres(database_url)
        target = database_url
    restored_media = tmp_path / "restored-media"
    await backup.restore(archive, target, restored_media)

    restored = create_engine(target)
    try:
        assert await contents(restored) == committed
        await migrate.upgrade(restored)  # a restored database is a normal one
    finally:
        await restored.dispose()
    assert photos(restored_media) == {
        k: v for k, v in photos(media).items() if not k.endswith(".part")
    }


async def test_restore_refuses_to_overwrite_a_database_in_use_unless_told(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    await a_city_with_a_photo(engine, media)
    before = await contents(engine)
    archive = tmp_path / "aduan.tgz"
    await backup.backup(database_url, media, archive)
    await a_citizen(engine, external_id="2002")
    with pytest.raises(backup.BackupError, match=r"is not empty \(\d+ rows\); .* --replace"):
        await backup.restore(archive, database_url, media)
    await engine.dispose()
    await backup.restore(archive, database_url, media, replace=True)
    assert await contents(engine) == before


async def test_a_backup_is_only_restored_into_the_same_kind_of_database(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    archive = tmp_path / "aduan.tgz"
    await backup.backup(sqlite_url, tmp_path / "media", archive)
    with pytest.raises(backup.BackupError, match="holds a sqlite database"):
        await backup.restore(archive, "postgresql://aduan@127.0.0.1:1/aduan", tmp_path / "m")
    with pytest.raises(backup.BackupError, match="not a Kanal Aduan backup"):
        await backup.restore(Path(__file__), sqlite_url, tmp_path / "m")


def test_pg_dump_gets_the_password_through_its_environment() -> None:
    url, env = backup.libpq_url(
        "postgresql+asyncpg://aduan:s3cret@db.example.org:6432/aduan?ssl=require"
    )
    assert url == "postgresql://aduan@db.example.org:6432/aduan?sslmode=require"
    assert env == {"PGPASSWORD": "s3cret"}


async def test_the_commands_round_trip_a_sqlite_city(tmp_path: Path) -> None:
    """As an operator types them: ``aduan backup FILE``, then ``aduan restore FILE``."""
    url = await fresh_database_url("sqlite", tmp_path)
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await a_city_with_a_photo(engine, tmp_path / "media")
    committed = await contents(engine)
    await engine.dispose()
    archive = tmp_path / "aduan.tgz"
    settings = {"DATABASE_URL": url, "MEDIA_DIR": str(tmp_path / "media")}
    saved = await aduan(tmp_path, "backup", str(archive), **settings)
    assert saved.returncode == 0, saved.output
    assert f"backup written to {archive}: sqlite database" in saved.output

    elsewhere = tmp_path / "new-server"
    elsewhere.mkdir()
    restored = await aduan(elsewhere, "restore", str(archive))
    assert restored.returncode == 0, restored.output
    engine = create_engine(f"sqlite+aiosqlite:///{elsewhere / 'data' / 'kanal_aduan.db'}")
    try:
        assert await contents(engine) == committed
    finally:
        await engine.dispose()
    assert photos(elsewhere / "data" / "media") == photos(tmp_path / "media")
