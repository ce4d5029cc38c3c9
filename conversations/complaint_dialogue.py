"""The complaint dialogue, one function per step (diagram: docs/complaint-dialogue.mmd).

category -> description -> location [-> address] -> photos -> privacy -> summary
"""

from __future__ import annotations

from conversations.core.context import CoreContext
from conversations.core.domain import Dialogue, Draft
from conversations.core.messages import Choice, InboundKind, Reply
from conversations.steps import Outcome, Step, StepInput

BACK = "nav:back"
CANCEL = "nav:cancel"
SKIP = "nav:skip"
DONE = "photos:done"
SEND = "summary:send"
EDIT = "summary:edit"
TO_SUMMARY = "edit:summary"
PRIVACY = {
    "privacy:normal": (False, False),
    "privacy:confidential": (False, True),
    "privacy:anonymous": (True, False),
    "privacy:both": (True, True),
}
PHOTOS_BEFORE_EDIT = "photos_before_edit"
EDITABLE = ("category", "description", "location", "photos", "privacy")
FIRST_STEP = "category"


def _nav(ctx: CoreContext, lang: str, back: bool = True) -> tuple[Choice, ...]:
    row = [Choice(BACK, ctx.t(lang, "common.back"))] if back else []
    row.append(Choice(CANCEL, ctx.t(lang, "common.cancel")))
    return tuple(row)


def _again(ctx: CoreContext, lang: str, dialogue: Dialogue, key: str, **values: object) -> Outcome:
    """Re-prompt: say what was wrong, show the step's buttons again, keep everything."""
    prompt = STEPS[dialogue.step].prompt(ctx, lang, dialogue)
    text = ctx.t(lang, key, **values)
    return Outcome(
        dialogue.step,
        [
            Reply(
                text,
                choices=prompt.choices,
                ask_location=prompt.ask_location,
                location_button=prompt.location_button,
            )
        ],
        advance=False,
    )


# category ---------------------------------------------------------------


def ask_category(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    buttons = [Choice(f"cat:{c.code}", c.label(lang)) for c in ctx.config.categories]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    return Reply(ctx.t(lang, "dialogue.ask_category"), choices=(*rows, _nav(ctx, lang, back=False)))


def on_category(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    code = (given.choice or "").removeprefix("cat:")
    if not given.choice or not given.choice.startswith("cat:") or ctx.config.category(code) is None:
        return _again(ctx, lang, dialogue, "dialogue.ask_category_buttons")
    dialogue.draft.category = code
    return Outcome("description")


# description ------------------------------------------------------------


def ask_description(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    text = ctx.t(lang, "dialogue.ask_description", min=ctx.limits.description_min)
    return Reply(text, choices=(_nav(ctx, lang),))


def on_description(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    if given.kind is not InboundKind.TEXT or not given.text:
        return _again(ctx, lang, dialogue, "dialogue.description_needs_text")
    text = given.text.strip()
    limits = ctx.limits
    if len(text) < limits.description_min:
        return _again(
            ctx,
            lang,
            dialogue,
            "dialogue.description_too_short",
            length=len(text),
            min=limits.description_min,
        )
    if len(text) > limits.description_max:
        return _again(
            ctx,
            lang,
            dialogue,
            "dialogue.description_too_long",
            length=len(text),
            max=limits.description_max,
        )
    dialogue.draft.description = text
    return Outcome("location")


# location ---------------------------------------------------------------


def ask_location(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    return Reply(
        ctx.t(lang, "dialogue.ask_location"),
        choices=(_nav(ctx, lang),),
        ask_location=True,
        location_button=ctx.t(lang, "dialogue.share_location"),
    )


def _address(ctx: CoreContext, lang: str, dialogue: Dialogue, text: str) -> Outcome | None:
    """Store a typed address, or return the re-prompt explaining why not."""
    address = text.strip()
    if len(address) < ctx.limits.address_min:
        return _again(
            ctx, lang, dialogue, "dialogue.location_needs_input", min=ctx.limits.address_min
        )
    if len(address) > ctx.limits.address_max:
        return _again(ctx, lang, dialogue, "dialogue.address_too_long", max=ctx.limits.address_max)
    dialogue.draft.address = address
    return None


def on_location(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    if given.kind is InboundKind.LOCATION and given.location is not None:
        dialogue.draft.latitude = given.location.latitude
        dialogue.draft.longitude = given.location.longitude
        dialogue.draft.address = None
        return Outcome("address")
    if given.kind is InboundKind.TEXT and given.text:
        problem = _address(ctx, lang, dialogue, given.text)
        if problem is not None:
            return problem
        dialogue.draft.latitude = dialogue.draft.longitude = None
        return Outcome("photos")
    return _again(ctx, lang, dialogue, "dialogue.location_needs_input", min=ctx.limits.address_min)


def ask_address(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    return Reply(
        ctx.t(lang, "dialogue.ask_address_optional"),
        choices=((Choice(SKIP, ctx.t(lang, "dialogue.skip")),), _nav(ctx, lang)),
        remove_keyboard=True,
    )


def on_address(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    if given.choice == SKIP:
        return Outcome("photos")
    if given.kind is InboundKind.LOCATION and given.location is not None:
        return on_location(ctx, lang, dialogue, given)
    if given.kind is InboundKind.TEXT and given.text:
        return _address(ctx, lang, dialogue, given.text) or Outcome("photos")
    return _again(ctx, lang, dialogue, "dialogue.use_buttons")


# photos -----------------------------------------------------------------


def ask_photos(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    finish = DONE if dialogue.draft.photo_ids else SKIP
    label = "dialogue.photos_done" if dialogue.draft.photo_ids else "dialogue.skip"
    return Reply(
        ctx.t(lang, "dialogue.ask_photos", max=ctx.limits.max_photos),
        choices=((Choice(finish, ctx.t(lang, label)),), _nav(ctx, lang)),
        remove_keyboard=True,
    )


def _photo_buttons(ctx: CoreContext, lang: str) -> tuple[tuple[Choice, ...], ...]:
    return ((Choice(DONE, ctx.t(lang, "dialogue.photos_done")),), _nav(ctx, lang))


def photos_accept_media(ctx: CoreContext, dialogue: Dialogue) -> bool:
    return len(dialogue.draft.photo_ids) < ctx.limits.max_photos


def on_photos(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    limit = ctx.limits.max_photos
    if given.choice in (DONE, SKIP):
        return Outcome("privacy")
    if given.kind is InboundKind.PHOTO:
        if given.media_problem == "too_large":
            return _again(
                ctx,
                lang,
                dialogue,
                "dialogue.photo_too_large",
                max_mb=ctx.limits.max_photo_bytes // (1024 * 1024),
            )
        if len(dialogue.draft.photo_ids) >= limit:
            text = ctx.t(lang, "dialogue.photo_limit", max=limit, next=limit + 1)
            return Outcome(
                "photos", [Reply(text, choices=_photo_buttons(ctx, lang))], advance=False
            )
        if given.attachment_id is None:
            return _again(ctx, lang, dialogue, "dialogue.photo_failed")
        dialogue.draft.photo_ids.append(given.attachment_id)
        text = ctx.t(
            lang, "dialogue.photo_received", count=len(dialogue.draft.photo_ids), max=limit
        )
        return Outcome("photos", [Reply(text, choices=_photo_buttons(ctx, lang))], advance=False)
    return _again(ctx, lang, dialogue, "dialogue.photos_need_photo")


# privacy ----------------------------------------------------------------


def ask_privacy(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    rows = (
        (
            Choice("privacy:normal", ctx.t(lang, "dialogue.privacy_normal")),
            Choice("privacy:confidential", ctx.t(lang, "dialogue.privacy_confidential")),
        ),
        (
            Choice("privacy:anonymous", ctx.t(lang, "dialogue.privacy_anonymous")),
            Choice("privacy:both", ctx.t(lang, "dialogue.privacy_both")),
        ),
        _nav(ctx, lang),
    )
    return Reply(ctx.t(lang, "dialogue.ask_privacy"), choices=rows)


def on_privacy(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    if given.choice not in PRIVACY:
        return _again(ctx, lang, dialogue, "dialogue.use_buttons")
    dialogue.draft.anonymous, dialogue.draft.confidential = PRIVACY[given.choice]
    return Outcome("summary")


# summary ----------------------------------------------------------------


def privacy_label(ctx: CoreContext, lang: str, draft: Draft) -> str:
    key = {
        (False, False): "normal",
        (False, True): "confidential",
        (True, False): "anonymous",
        (True, True): "both",
    }[(draft.anonymous, draft.confidential)]
    return ctx.t(lang, f"dialogue.privacy_label_{key}")


def location_text(ctx: CoreContext, lang: str, draft: Draft) -> str:
    parts = []
    if draft.latitude is not None and draft.longitude is not None:
        parts.append(ctx.t(lang, "dialogue.location_pin", lat=draft.latitude, lon=draft.longitude))
    if draft.address:
        parts.append(draft.address)
    return " – ".join(parts) or ctx.t(lang, "dialogue.location_none")


def _shorten(text: str, limit: int = 1500) -> str:
    # The summary must fit one Telegram message (4096 characters).
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ask_summary(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    draft = dialogue.draft
    category = ctx.config.category(draft.category or "")
    text = ctx.t(
        lang,
        "dialogue.summary",
        category=category.label(lang) if category else "-",
        description=_shorten(draft.description or "-"),
        location=location_text(ctx, lang, draft),
        photos=ctx.t(lang, "dialogue.photo_count", count=len(draft.photo_ids)),
        privacy=privacy_label(ctx, lang, draft),
    )
    rows = (
        (
            Choice(SEND, ctx.t(lang, "dialogue.summary_send")),
            Choice(EDIT, ctx.t(lang, "dialogue.summary_edit")),
        ),
        _nav(ctx, lang),
    )
    return Reply(text, choices=rows)


def on_summary(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    if given.choice == SEND:
        return Outcome(None, submit=True)
    if given.choice == EDIT:
        return Outcome("edit")
    return _again(ctx, lang, dialogue, "dialogue.use_buttons")


def ask_edit(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    buttons = [Choice(f"edit:{name}", ctx.t(lang, f"dialogue.edit_{name}")) for name in EDITABLE]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Choice(TO_SUMMARY, ctx.t(lang, "dialogue.back_to_summary")),))
    return Reply(ctx.t(lang, "dialogue.ask_edit"), choices=tuple(rows))


def on_edit(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    if given.choice == TO_SUMMARY:
        return Outcome("summary", advance=False)
    field = (given.choice or "").removeprefix("edit:")
    if field not in EDITABLE:
        return _again(ctx, lang, dialogue, "dialogue.use_buttons")
    dialogue.editing = True
    if field == "photos":
        dialogue.context[PHOTOS_BEFORE_EDIT] = list(dialogue.draft.photo_ids)
        dialogue.draft.photo_ids = []
    return Outcome(field)


STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step("category", ask_category, on_category),
        Step("description", ask_description, on_description),
        Step("location", ask_location, on_location),
        Step("address", ask_address, on_address),
        Step("photos", ask_photos, on_photos, photos_accept_media),
        Step("privacy", ask_privacy, on_privacy),
        Step("summary", ask_summary, on_summary),
        Step("edit", ask_edit, on_edit),
    )
}

# While editing one field from the summary, these steps still belong to that field.
CONTINUES_EDIT = {"address"}
