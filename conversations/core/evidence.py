"""Evidence photos: downloaded from the platform and kept by the bot."""

from __future__ import annotations

from conversations.core.context import CoreContext
from conversations.core.domain import Attachment
from conversations.core.messages import Inbound
from conversations.core.ports import FileTooLarge, UnitOfWork
from conversations.core.sanitize import FILE_ID_MAX


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
    limit = ctx.limits.max_photo_bytes
    if media.size is not None and media.size > limit:
        raise FileTooLarge(media.size)
    data = await ctx.fetchers[inbound.chat.channel.value].fetch(media)
    if len(data) > limit:
        raise FileTooLarge(len(data))
    stored = await ctx.files.save(data, "photo", media.mime_type or "image/jpeg")
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
