"""The complaint dialogue, one function per step (diagram: docs/complaint-dialogue.mmd).

category -> description -> location [-> address] -> photos -> privacy -> summary

Every button names the step whose prompt carries it (``d:<step>:<what>``): the
engine refuses a button of another step's prompt, and a step handler only sees
``what`` ("skip", "send", a category code...).
"""

from __future__ import annotations

from conversations.core.context import CoreContext
from conversations.core.domain import Dialogue, Draft
from conversations.core.messages import Choice, InboundKind, Reply
from conversations.steps import Outcome, Step, StepInput

PREFIX = "d"
BACK = "back"
CANCEL = "cancel"
SKIP = "skip"
DONE = "done"
SEND = "send"
EDIT = "edit"
TO_SUMMARY = "summary"
PRIVACY = {
    "normal": (False, False),
    "confidential": (False, True),
    "anonymous": (True, False),
    "both": (True, True),
}
PHOTOS_BEFORE_EDIT = "photos_before_edit"
# Steps whose prompt shows a reply keyboard (the share-location button).
SHOWS_KEYBOARD = frozenset({"location"})
EDITABLE = ("category", "description", "location", "photos", "privacy")
FIRST_STEP = "category"


def choice_id(step: str, what: str) -> str:
    """A button of ``step``'s prompt; short, as Telegram allows 64 bytes of button data."""
    return f"{PREFIX}:{step}:{what}"


def parse_choice(choice: str) -> tuple[str, str] | None:
    """(step, what) of a dialogue button, or None for any other choice."""
    prefix, _, rest = choice.partition(":")
    step, _, what = rest.partition(":")
    if prefix != PREFIX or not step or not what:
        return None
    return step, what


def _nav(ctx: CoreContext, lang: str, step: str, back: bool = True) -> tuple[Choice, ...]:
    row = [Choice(choice_id(step, BACK), ctx.t(lang, "common.back"))] if back else []
    row.append(Choice(choice_id(step, CANCEL), ctx.t(lang, "common.cancel")))
    return tuple(row)


def _again(ctx: CoreContext, lang: str, dialogue: Dialogue, key: str, **values: object) -> Outcome:
    """Re-prompt: say what was wrong, show the step's buttons again, keep everything."""
    prompt = STEPS[dialogue.step].prompt(ctx, lang, dialogue)
    text = ctx.t(lang, key, **values)
    return Outcome(dialogue.step, [prompt_with(prompt, text)], advance=False)


def prompt_with(prompt: Reply, text: str) -> Reply:
    """Another text with a prompt's buttons and keyboard."""
    return Reply(
        text,
        choices=prompt.choices,
        ask_location=prompt.ask_location,
        location_button=prompt.location_button,
        remove_keyboard=prompt.remove_keyboard,
    )


def _keep_photo(ctx: CoreContext, dialogue: Dialogue, given: StepInput) -> bool:
    """Add the photo of ``given`` to the draft if there is room; True when kept."""
    if given.attachment_id is None or len(dialogue.draft.photo_ids) >= ctx.limits.max_photos:
        return False
    dialogue.draft.photo_ids.append(given.attachment_id)
    return True


def has_room(ctx: CoreContext, dialogue: Dialogue) -> bool:
    return len(dialogue.draft.photo_ids) < ctx.limits.max_photos


# category ---------------------------------------------------------------


def ask_category(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    buttons = [Choice(choice_id("category", c.code), c.label(lang)) for c in ctx.config.categories]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    return Reply(
        ctx.t(lang, "dialogue.ask_category"),
        choices=(*rows, _nav(ctx, lang, "category", back=False)),
    )


def on_category(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    code = given.choice or ""
    if ctx.config.category(code) is None:
        return _again(ctx, lang, dialogue, "dialogue.ask_category_buttons")
    dialogue.draft.category = code
    return Outcome("description")


# description ------------------------------------------------------------


def ask_description(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    text = ctx.t(lang, "dialogue.ask_description", min=ctx.limits.description_min)
    return Reply(text, choices=(_nav(ctx, lang, "description"),))


def _description_problem(
    ctx: CoreContext, lang: str, text: str, photo_kept: bool
) -> tuple[str, dict[str, object]] | None:
    limits = ctx.limits
    if len(text) < limits.description_min:
        key = (
            "dialogue.photo_kept_caption_short" if photo_kept else "dialogue.description_too_short"
        )
        return key, {"length": len(text), "min": limits.description_min}
    if len(text) > limits.description_max:
        return "dialogue.description_too_long", {"length": len(text), "max": limits.description_max}
    return None


def on_description(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    """Text; a photo with a caption is the description and the first photo at once."""
    photo_kept = False
    if given.kind is InboundKind.PHOTO:
        photo_kept = _keep_photo(ctx, dialogue, given)
        if not (given.text or "").strip():
            key = (
                "dialogue.photo_kept_needs_text"
                if photo_kept
                else "dialogue.description_needs_text"
            )
            return _again(
                ctx,
                lang,
                dialogue,
                key,
                count=len(dialogue.draft.photo_ids),
                max=ctx.limits.max_photos,
            )
    elif given.kind is not InboundKind.TEXT or not given.text:
        return _again(ctx, lang, dialogue, "dialogue.description_needs_text")
    text = (given.text or "").strip()
    problem = _description_problem(ctx, lang, text, photo_kept)
    if problem is not None:
        key, values = problem
        photos = {"count": len(dialogue.draft.photo_ids), "max": ctx.limits.max_photos}
        return _again(ctx, lang, dialogue, key, **{**photos, **values})
    dialogue.draft.description = text
    if photo_kept:
        said = ctx.t(
            lang,
            "dialogue.description_with_photo",
            count=len(dialogue.draft.photo_ids),
            max=ctx.limits.max_photos,
        )
        return Outcome("location", [Reply(said)])
    return Outcome("location")


# location ---------------------------------------------------------------


def ask_location(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    return Reply(
        ctx.t(lang, "dialogue.ask_location"),
        choices=(_nav(ctx, lang, "location"),),
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
        choices=(
            (Choice(choice_id("address", SKIP), ctx.t(lang, "dialogue.skip")),),
            _nav(ctx, lang, "address"),
        ),
        remove_keyboard=True,
    )


def on_address(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    """Optional: an address, "skip", a better pin, or already the first photo."""
    if given.choice == SKIP:
        return Outcome("photos")
    if given.kind is InboundKind.LOCATION and given.location is not None:
        return on_location(ctx, lang, dialogue, given)
    if given.kind is InboundKind.TEXT and given.text:
        if len(given.text.strip()) < ctx.limits.address_min:
            return _again(
                ctx, lang, dialogue, "dialogue.address_too_short", min=ctx.limits.address_min
            )
        return _address(ctx, lang, dialogue, given.text) or Outcome("photos")
    if given.kind is InboundKind.PHOTO:
        # Pin, then photos: the photo skips the address and is the first photo.
        outcome = on_photos(ctx, lang, dialogue, given)
        return Outcome("photos", outcome.replies, prompted=True)
    return _again(ctx, lang, dialogue, "dialogue.address_or_photo")


# photos -----------------------------------------------------------------


def ask_photos(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    count, limit = len(dialogue.draft.photo_ids), ctx.limits.max_photos
    finish = DONE if count else SKIP
    label = "dialogue.photos_done" if count else "dialogue.skip"
    text = ctx.t(lang, "dialogue.ask_photos", max=limit)
    if count:
        key = "dialogue.photos_so_far_full" if count >= limit else "dialogue.photos_so_far"
        text += " " + ctx.t(lang, key, count=count, max=limit)
    return Reply(
        text,
        choices=(
            (Choice(choice_id("photos", finish), ctx.t(lang, label)),),
            _nav(ctx, lang, "photos"),
        ),
        remove_keyboard=True,
    )


def photo_buttons(ctx: CoreContext, lang: str) -> tuple[tuple[Choice, ...], ...]:
    done = Choice(choice_id("photos", DONE), ctx.t(lang, "dialogue.photos_done"))
    return ((done,), _nav(ctx, lang, "photos"))


def photo_received(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    """The answer to a kept photo; at the limit it says so instead of asking for more."""
    count, limit = len(dialogue.draft.photo_ids), ctx.limits.max_photos
    key = "dialogue.photo_received_full" if count >= limit else "dialogue.photo_received"
    return Reply(ctx.t(lang, key, count=count, max=limit), choices=photo_buttons(ctx, lang))


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
            text = ctx.t(lang, "dialogue.photo_limit", max=limit)
            return Outcome("photos", [Reply(text, choices=photo_buttons(ctx, lang))], advance=False)
        if not _keep_photo(ctx, dialogue, given):
            return _again(ctx, lang, dialogue, "dialogue.photo_failed")
        return Outcome("photos", [photo_received(ctx, lang, dialogue)], advance=False)
    return _again(ctx, lang, dialogue, "dialogue.photos_need_photo")


# privacy ----------------------------------------------------------------


def ask_privacy(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    def option(what: str) -> Choice:
        return Choice(choice_id("privacy", what), ctx.t(lang, f"dialogue.privacy_{what}"))

    rows = (
        (option("normal"), option("anonymous")),
        (option("confidential"), option("both")),
        _nav(ctx, lang, "privacy"),
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
            Choice(choice_id("summary", SEND), ctx.t(lang, "dialogue.summary_send")),
            Choice(choice_id("summary", EDIT), ctx.t(lang, "dialogue.summary_edit")),
        ),
        _nav(ctx, lang, "summary"),
    )
    return Reply(text, choices=rows)


def on_summary(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    if given.choice == SEND:
        return Outcome(None, submit=True)
    if given.choice == EDIT:
        return Outcome("edit")
    return _again(ctx, lang, dialogue, "dialogue.use_buttons")


def ask_edit(ctx: CoreContext, lang: str, dialogue: Dialogue) -> Reply:
    buttons = [
        Choice(choice_id("edit", name), ctx.t(lang, f"dialogue.edit_{name}")) for name in EDITABLE
    ]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Choice(choice_id("edit", TO_SUMMARY), ctx.t(lang, "dialogue.back_to_summary")),))
    return Reply(ctx.t(lang, "dialogue.ask_edit"), choices=tuple(rows))


def on_edit(ctx: CoreContext, lang: str, dialogue: Dialogue, given: StepInput) -> Outcome:
    if given.choice == TO_SUMMARY:
        return Outcome("summary", advance=False)
    field = given.choice or ""
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
        # A photo at these steps is kept (the engine downloads it); at the limit it
        # is not downloaded and the step says the limit is reached.
        Step("description", ask_description, on_description, has_room),
        Step("location", ask_location, on_location),
        Step("address", ask_address, on_address, has_room),
        Step("photos", ask_photos, on_photos, has_room),
        Step("privacy", ask_privacy, on_privacy),
        Step("summary", ask_summary, on_summary),
        Step("edit", ask_edit, on_edit),
    )
}

# While editing one field from the summary, these steps still belong to that field.
CONTINUES_EDIT = {"address"}
# Steps that take a photo themselves; at the others, the rest of an album whose first
# photo a step took is kept by the engine.
TAKES_PHOTOS = frozenset({"description", "address", "photos"})
