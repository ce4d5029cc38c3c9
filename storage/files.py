"""Evidence files kept by the bot, in a local folder, named by content hash."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from conversations.core.ports import FileTooLarge, StoredFile

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "text/csv": ".csv",
}


class LocalFileStore:
    def __init__(self, root: Path, max_bytes: int = 20 * 1024 * 1024):
        self.root = root
        self.max_bytes = max_bytes

    async def save(self, data: bytes, kind: str, mime_type: str | None) -> StoredFile:
        if len(data) > self.max_bytes:
            raise FileTooLarge(len(data))
        digest = hashlib.sha256(data).hexdigest()
        relative = Path(kind) / digest[:2] / f"{digest}{_EXTENSIONS.get(mime_type or '', '.bin')}"
        target = self.root / relative
        await asyncio.to_thread(self._write, target, data)
        return StoredFile(str(relative), len(data), digest, mime_type)

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(target.suffix + ".part")
        temporary.write_bytes(data)
        temporary.replace(target)

    async def load(self, path: str) -> bytes:
        resolved = (self.root / path).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValueError("path outside the file store")
        return await asyncio.to_thread(resolved.read_bytes)
