"""``aduan backup FILE`` and ``aduan restore FILE``: the database and the photos together.

A backup is one ``.tar.gz``: ``manifest.json``, the database (a SQLite copy made with
SQLite's online backup API, or a ``pg_dump`` custom-format dump) and ``media/``.
Both database copies are consistent snapshots taken while the bot keeps running.
The snapshot is taken before the photos are copied: photos are written (under
their SHA-256) before the row naming them is committed and are never changed, so
every photo the snapshot names is in the archive.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, func, select
from sqlalchemy.engine import URL, Connection, make_url

from storage.database import create_engine, display_url, normalise_url, sqlite_path
from storage.migrate import alembic_config, revisions

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.pgdump"
MEDIA = "media"
# Files the bot is still writing, or its own probe; not evidence.
_SKIPPED_SUFFIXES = (".part",)
_SKIPPED_NAMES = (".write-test",)
# Query parameters libpq (pg_dump, pg_restore) understands; asyncpg's own ones are dropped.
_LIBPQ_PARAMS = {
    "host",
    "port",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "connect_timeout",
    "application_name",
    "options",
    "target_session_attrs",
}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Summary:
    backend: str
    revision: str | None
    media_files: int
    size: int


async def backup(url: str, media_dir: Path, target: Path) -> Summary:
    url = normalise_url(url)
    backend = make_url(url).get_backend_name()
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    with tempfile.TemporaryDirectory(prefix=".aduan-backup-", dir=target.parent) as work:
        folder = Path(work)
        if backend == "sqlite":
            database = folder / SQLITE_FILE
            await asyncio.to_thread(_sqlite_snapshot, _existing_sqlite(url), database)
            revision = await asyncio.to_thread(_sqlite_revision, database)
        else:
            database = folder / POSTGRES_FILE
            engine = create_engine(url)
            try:
                revision, _ = await revisions(engine)
            finally:
                await engine.dispose()
            await _run_pg("pg_dump", url, "--format=custom", f"--file={database}")
        partial = target.with_name(target.name + ".part")
        count = await asyncio.to_thread(
            _write_archive, partial, database, media_dir, backend, revision
        )
        partial.replace(target)
    size = (await asyncio.to_thread(target.stat)).st_size
    return Summary(backend, revision, count, size)


async def restore(source: Path, url: str, media_dir: Path, replace: bool = False) -> Summary:
    url = normalise_url(url)
    backend = make_url(url).get_backend_name()
    manifest = _read_manifest(source)
    if manifest.get("backend") != backend:
        raise BackupError(
            f"{source} holds a {manifest.get('backend')} database and DATABASE_URL names "
            f"{backend}; restore into the same kind of database"
        )
    revision = manifest.get("revision")
    revision = str(revision) if revision is not None else None
    _check_known_revision(url, revision)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            rows = await connection.run_sync(_rows)
            if rows and not replace:
                raise BackupError(
                    f"the database {display_url(url)} is not empty ({rows} rows); "
                    "restore into an empty database, or pass --replace to overwrite it"
                )
            # Tables without rows (a new server that ran `aduan migrate`) go quietly.
            if backend != "sqlite":
                await connection.run_sync(_drop_all)
    finally:
        await engine.dispose()
    with tempfile.TemporaryDirectory(prefix=".aduan-restore-") as work:
        folder = Path(work)
        with tarfile.open(source, "r:gz") as archive:
            name = SQLITE_FILE if backend == "sqlite" else POSTGRES_FILE
            archive.extract(name, folder, filter="data")
            count = await asyncio.to_thread(_extract_media, archive, media_dir)
        if backend == "sqlite":
            path = sqlite_path(url)
            assert path is not None
            await asyncio.to_thread(_sqlite_snapshot, folder / name, path)
        else:
            await _run_pg(
                "pg_restore",
                url,
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                str(folder / name),
            )
    size = (await asyncio.to_thread(source.stat)).st_size
    return Summary(backend, revision, count, size)


# -- SQLite ------------------------------------------------------------------------------


def _existing_sqlite(url: str) -> Path:
    path = sqlite_path(url)
    if path is None or not path.is_file():
        raise BackupError(f"there is no database at {path}: check DATABASE_URL")
    return path


def _sqlite_snapshot(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy, even while others write."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)


def _sqlite_revision(path: Path) -> str | None:
    with closing(sqlite3.connect(path)) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            row = None
    return str(row[0]) if row else None


# -- PostgreSQL --------------------------------------------------------------------------


def libpq_url(url: str) -> tuple[str, dict[str, str]]:
    """A URL pg_dump understands, and the environment carrying its password (never
    on the command line, where ``ps`` would show it)."""
    parsed = make_url(url)
    query = {key: value for key, value in parsed.query.items() if key in _LIBPQ_PARAMS}
    if "ssl" in parsed.query and "sslmode" not in query:
        query["sslmode"] = parsed.query["ssl"]
    plain = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=query,
    )
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return plain.render_as_string(hide_password=False), env


async def _run_pg(tool: str, url: str, *arguments: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed: install the PostgreSQL client tools "
            "(Debian/Ubuntu: apt install postgresql-client), of the server's version or newer"
        )
    target, secret = libpq_url(url)
    process = await asyncio.create_subprocess_exec(
        tool,
        f"--dbname={target}",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **secret},
    )
    _, errors = await process.communicate()
    if process.returncode != 0:
        detail = errors.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{tool} failed: {detail[0] if detail else process.returncode}")


def _rows(connection: Connection) -> int:
    """Rows of data (the schema's version is no data)."""
    metadata = MetaData()
    metadata.reflect(connection)
    return sum(
        connection.execute(select(func.count()).select_from(table)).scalar_one()
        for table in metadata.sorted_tables
        if table.name != "alembic_version"
    )


def _drop_all(connection: Connection) -> None:
    metadata = MetaData()
    metadata.reflect(connection)
    metadata.drop_all(connection)


# -- the archive -------------------------------------------------------------------------


def _write_archive(
    target: Path, database: Path, media_dir: Path, backend: str, revision: str | None
) -> int:
    files = sorted(_media_files(media_dir))
    manifest = {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": backend,
        "revision": revision,
        "media_files": len(files),
    }
    with tarfile.open(target, "w:gz", compresslevel=1) as archive:
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime = len(data), int(datetime.now(UTC).timestamp())
        archive.addfile(info, io.BytesIO(data))
        archive.add(database, database.name)
        for path in files:
            archive.add(path, f"{MEDIA}/{path.relative_to(media_dir).as_posix()}")
    return len(files)


def _media_files(media_dir: Path) -> list[Path]:
    if not media_dir.is_dir():
        return []
    return [
        path
        for path in media_dir.rglob("*")
        if path.is_file()
        and not path.name.endswith(_SKIPPED_SUFFIXES)
        and path.name not in _SKIPPED_NAMES
    ]


def _read_manifest(source: Path) -> dict[str, object]:
    try:
        with tarfile.open(source, "r:gz") as archive:
            member = archive.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest: dict[str, object] = json.load(member)
    except FileNotFoundError:
        raise BackupError(f"{source} does not exist") from None
    except (tarfile.TarError, KeyError, ValueError, OSError):
        raise BackupError(f"{source} is not a Kanal Aduan backup") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} has backup format {manifest.get('format')}, not {FORMAT}")
    return manifest


def _check_known_revision(url: str, revision: str | None) -> None:
    if revision is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config(url))
    try:
        scripts.get_revision(revision)
    except CommandError:
        raise BackupError(
            f"the backup's database schema ({revision}) is newer than this version of "
            "Kanal Aduan knows; restore it with that version or a newer one"
        ) from None


def _extract_media(archive: tarfile.TarFile, media_dir: Path) -> int:
    count = 0
    media_dir.mkdir(parents=True, exist_ok=True)
    for member in archive.getmembers():
        if not member.isfile() or not member.name.startswith(f"{MEDIA}/"):
            continue
        member.name = member.name.removeprefix(f"{MEDIA}/")
        count += 1
        if (media_dir / member.name).exists():
            continue  # named by content: the same file
        archive.extract(member, media_dir, filter="data")
    return count
