"""The complaint card officers see. Anonymous reporters never appear on it.

A card is always one message: its buttons stay on it and later edits replace the
whole text. The description is therefore shortened on the card (``/aduan`` shows
all of it), and shortened further if names, address and footer would still make
the card longer than a platform message.
"""

from __future__ import annotations

from conversations.core.context import CoreContext
from conversations.core.domain import Attachment, Citizen, Complaint
from conversations.core.lifecycle import Action, Role, Status, actions_from
from conversations.core.messages import Choice, Location, Reply

# Telegram's limit for a message is 4096 UTF-16 code units; the agency picker adds a
# line under the card, so the card itself keeps some room.
CARD_LIMIT = 3900
CARD_DESCRIPTION_MAX = 1500

CARD_ACTIONS = (
    Action.VERIFY,
    Action.DISPATCH,
    Action.START,
    Action.RESOLVE,
    Action.RESUME,
    Action.REQUEST_INFO,
    Action.REJECT,
    Action.NOT_AUTHORITY,
    Action.RETURN,
)


def action_choice_id(action: Action, complaint: Complaint) -> str:
    return f"op:{action.value}:{complaint.id}:{complaint.version}"


def reporter_line(
    ctx: CoreContext, complaint: Complaint, citizen: Citizen | None, lang: str
) -> str:
    # Officers answer on Telegram; a reporter elsewhere is marked with their channel.
    channel = complaint.channel
    via = (
        ""
        if channel == "telegram"
        else ctx.t(lang, "card.via", channel=ctx.t(lang, f"report.channel.{channel}"))
    )
    if complaint.anonymous or citizen is None:
        return ctx.t(lang, "card.anonymous_reporter") + via
    username = f" (@{citizen.username})" if citizen.username else ""
    phone = f" {citizen.phone}" if citizen.phone else ""
    name = ctx.t(lang, "card.reporter", name=citizen.display_name, username=username, phone=phone)
    return name + via


def location_line(ctx: CoreContext, complaint: Complaint, lang: str) -> str:
    parts = []
    if complaint.latitude is not None and complaint.longitude is not None:
        parts.append(
            ctx.t(lang, "card.location_pin", lat=complaint.latitude, lon=complaint.longitude)
        )
    if complaint.address:
        parts.append(ctx.t(lang, "card.address", address=complaint.address))
    return " – ".join(parts) if parts else ctx.t(lang, "card.no_location")


def deadline_line(ctx: CoreContext, complaint: Complaint, lang: str) -> str:
    if complaint.status in (Status.BARU, Status.TERVERIFIKASI) and complaint.verify_due:
        return ctx.t(lang, "card.deadline_verify", due=ctx.format_date(complaint.verify_due, lang))
    if (
        complaint.status in (Status.DIDISPOSISIKAN, Status.DITINDAKLANJUTI)
        and complaint.followup_due
    ):
        return ctx.t(
            lang, "card.deadline_followup", due=ctx.format_date(complaint.followup_due, lang)
        )
    return ctx.t(lang, "card.deadline_none")


def text_units(text: str) -> int:
    """A text's length as platforms count it (UTF-16 code units: an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def shown_description(ctx: CoreContext, complaint: Complaint, lang: str, limit: int | None) -> str:
    """The description, or its first ``limit`` characters and where to read the rest."""
    text = complaint.description
    if limit is None or len(text) <= limit:
        return text
    cut = text[:limit].rstrip()
    return f"{cut}{ctx.t(lang, 'card.description_cut', ticket=complaint.ticket)}"


def card_text(
    ctx: CoreContext,
    complaint: Complaint,
    citizen: Citizen | None,
    photo_count: int,
    lang: str,
    description_limit: int | None = None,
    additions: int = 0,
) -> str:
    agency = ctx.config.agency(complaint.agency)
    category = ctx.config.category(complaint.category)
    status = ctx.t(lang, f"status_label.{complaint.status.value}")
    if complaint.confidential:
        status += ctx.t(lang, "card.confidential_mark")
    # The "new" mark only while nobody has acted on the complaint.
    header = "card.header_new" if complaint.status is Status.BARU else "card.header"
    return ctx.t(
        lang,
        "card.text",
        header=ctx.t(lang, header, ticket=complaint.ticket),
        status=status,
        category=category.label(lang) if category else complaint.category,
        agency=agency.short if agency else complaint.agency,
        reporter=reporter_line(ctx, complaint, citizen, lang),
        unreachable=ctx.t(lang, "card.unreachable") if citizen and citizen.unreachable else "",
        location=location_line(ctx, complaint, lang),
        photos=ctx.t(lang, "card.photos", count=photo_count),
        additions=ctx.t(lang, "card.additions", count=additions) if additions else "",
        deadline=deadline_line(ctx, complaint, lang),
        description=shown_description(ctx, complaint, lang, description_limit),
    )


def card_choices(
    ctx: CoreContext, complaint: Complaint, role: Role, lang: str
) -> tuple[tuple[Choice, ...], ...]:
    allowed = set(actions_from(complaint.status, role))
    buttons = [
        Choice(action_choice_id(action, complaint), ctx.t(lang, f"officer.button.{action.value}"))
        for action in CARD_ACTIONS
        if action in allowed
    ]
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


def render_card(
    ctx: CoreContext,
    complaint: Complaint,
    citizen: Citizen | None,
    attachments: list[Attachment],
    role: Role = Role.DESK,
    lang: str | None = None,
    footer: str | None = None,
    buttons: bool = True,
    full: bool = False,
    additions: int = 0,
) -> Reply:
    """The card; ``full`` keeps the whole description (for ``/aduan``, never for a card).
    ``additions``: how often the reporter added information since filing."""
    lang = lang or ctx.catalog.default
    photos = len([a for a in attachments if a.source == "citizen"])

    def compose(limit: int | None) -> str:
        text = card_text(ctx, complaint, citizen, photos, lang, limit, additions)
        return f"{text}\n\n{footer}" if footer else text

    if full:
        text = compose(None)
    else:
        limit = min(len(complaint.description), CARD_DESCRIPTION_MAX)
        text = compose(limit)
        while text_units(text) > CARD_LIMIT and limit > 0:
            # Cutting a character removes at least one code unit.
            limit = max(0, limit - (text_units(text) - CARD_LIMIT))
            text = compose(limit)
        if text_units(text) > CARD_LIMIT:  # the rest alone is too long: cut the end
            while text_units(text) >= CARD_LIMIT:
                text = text[: len(text) - (text_units(text) - CARD_LIMIT + 1)]
            text += "…"
    return Reply(
        text=text,
        choices=card_choices(ctx, complaint, role, lang) if buttons else (),
    )


def card_media(
    ctx: CoreContext, complaint: Complaint, attachments: list[Attachment], lang: str | None = None
) -> Reply | None:
    lang = lang or ctx.catalog.default
    photo_ids = tuple(a.id for a in attachments if a.kind == "photo" and a.id is not None)
    if not photo_ids:
        return None
    caption = ctx.t(
        lang, "card.photo_caption", index=1, count=len(photo_ids), ticket=complaint.ticket
    )
    return Reply(text=caption, photos=photo_ids)


def card_location(ctx: CoreContext, complaint: Complaint) -> Reply | None:
    if complaint.latitude is None or complaint.longitude is None:
        return None
    return Reply(text="", location=Location(complaint.latitude, complaint.longitude))
