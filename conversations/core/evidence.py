"""Evidence photos: downloaded from the platform and kept by the bot.

``prefetch`` downloads an event's photo before its transaction opens, so no
database lock is held across a network call (SQLite has one writer); the
handling then only records the file that is already kept.
"""

from __future__ import annotations

from conversations.core.context import CoreContext
from conversations.core.domain import Attachment
from conversations.core.messages import Inbound
from conversations.core.ports import FileTooLarge, StoredFile, UnitOfWork
from conversations.core.sanitize import FILE_ID_MAX


def _cache_key(inbound: Inbound) -> tuple[str, str]:
    return inbound.chat.channel.value, inbound.media[-1].file_id


async def prefetch(ctx: CoreContext, inbound: Inbound) -> None:
    """Download and keep the event's photo now, outside any transaction. A photo that
    is too large or cannot be fetched is left for ``keep_photo`` to report."""
    if not inbound.media:
        return
    try:
        ctx.media_cache[_cache_key(inbound)] = await _download(ctx, inbound)
    except Exception:
        return
    while len(ctx.media_cache) > 256:  # only the events being handled need theirs
        ctx.media_cache.pop(next(iter(ctx.media_cache)))


async def _download(ctx: CoreContext, inbound: Inbound) -> StoredFile:
    media = inbound.media[-1]
    limit = ctx.limits.max_photo_bytes
    if media.size is not None and media.size > limit:
        raise FileTooLarge(media.size)
    data = await ctx.fetchers[inbound.chat.channel.value].fetch(media)
    if len(data) > limit:
        raise FileTooLarge(len(data))
    return await ctx.files.save(data, "photo", media.mime_type or "image/jpeg")


async def keep_photo(
    ctx: CoreContext,
    uow: UnitOfWork,
    inbound: Inbound,
    source: str,
    complaint_id: int | None = None,
    citizen_id: int | None = None,
) -> Attachment:
    """Download the photo of ``inbound`` and store it as an attachment."""
    media = inbound.media[-1]
    stored = ctx.media_cache.pop(_cache_key(inbound), None) or await _download(ctx, inbound)
    return await uow.attachments.add(
        Attachment(
            kind="photo",
            path=stored.path,
            size=stored.size,
            sha256=stored.sha256,
            channel=inbound.chat.channel.value,
            # Only a photo's own file id can be sent as a photo again; an image that
            # came as a document is uploaded from the stored file when shown.
            platform_file_id=(
                media.file_id
                if media.kind == "photo" and len(media.file_id) <= FILE_ID_MAX
                else None
            ),
            mime_type=stored.mime_type,
            complaint_id=complaint_id,
            citizen_id=citizen_id,
            source=source,
        )
    )
