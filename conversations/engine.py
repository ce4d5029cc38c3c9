"""Runs the citizen's side of a chat: commands, the menu and the complaint dialogue.

The engine loads and saves; steps decide; every reply goes to the outbox in the
same transaction as the state it belongs to. Everything here holds for every
channel: typed answers pick from the choices last offered, buttons of an older
prompt are refused, albums are answered once, voice notes and stickers get a
kind answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from conversations import citizen_requests as requests
from conversations import complaint_dialogue as flow
from conversations.core.choices import flat, from_stored, parse_words, pick
from conversations.core.complaints import submit
from conversations.core.context import CoreContext
from conversations.core.domain import Citizen, Complaint, Dialogue
from conversations.core.evidence import keep_photo
from conversations.core.flood import FloodGuard, Verdict
from conversations.core.handling import refresh_reporter_cards
from conversations.core.i18n import LANGUAGES
from conversations.core.messages import NO, YES, Choice, Inbound, InboundKind, Reply
from conversations.core.outbox import offer, queue_gathered, queue_replies
from conversations.core.ports import FileTooLarge, UnitOfWork
from conversations.core.tickets import TicketReader
from conversations.steps import Outcome, StepInput

log = logging.getLogger(__name__)

CONFIRM_CANCEL = "confirm_cancel"
CANCEL_YES = flow.choice_id(CONFIRM_CANCEL, "yes")
CANCEL_NO = flow.choice_id(CONFIRM_CANCEL, "no")
ALBUM = "album"
# The photos of an album arrive one by one; their answer waits this long for the rest.
ALBUM_WAIT = timedelta(seconds=2)
# What is said about what was sent instead of text or a photo.
UNSUPPORTED_TEXTS = {
    "voice": "voice",
    "audio": "voice",
    "video": "video",
    "video_note": "video",
    "animation": "video",
    "sticker": "sticker",
    "dice": "sticker",
    "document": "document",
}

ChoiceHandler = Callable[
    [CoreContext, UnitOfWork, Citizen, Inbound, str], Awaitable[list[Reply] | None]
]
IdleHandler = Callable[[CoreContext, UnitOfWork, Citizen, Inbound], Awaitable[list[Reply] | None]]


@dataclass
class Turn:
    """What one inbound event did; the adapter uses it to answer a button press."""

    duplicate: bool = False
    notice: str | None = None
    replies: list[Reply] = field(default_factory=list)


class CitizenChat:
    def __init__(self, ctx: CoreContext):
        self.ctx = ctx
        # Other features plug in here: choice ids by prefix, and messages that
        # arrive outside any dialogue (a follow-up to a complaint on hold).
        self.flood = FloodGuard()
        self.choice_handlers: dict[str, ChoiceHandler] = dict.fromkeys(
            requests.PREFIXES, requests.handle_choice
        )
        self.idle_handlers: list[IdleHandler] = []
        # Telegram replies to a bot message about a complaint; they come before the
        # dialogue, so an answer to the officer is not taken as a dialogue step.
        self.reply_handlers: list[IdleHandler] = []
        self.tickets = TicketReader(ctx.config.ticket_prefix)
        languages = ctx.catalog.languages
        self.yes_words = parse_words(",".join(ctx.t(lang, "input.yes") for lang in languages))
        self.no_words = parse_words(",".join(ctx.t(lang, "input.no") for lang in languages))

    async def handle(self, inbound: Inbound) -> Turn:
        ctx = self.ctx
        async with ctx.uow() as uow:
            if not await uow.updates.claim(inbound.update_key):
                return Turn(duplicate=True)
            citizen = await self._citizen(uow, inbound)
            verdict = self.flood.check(f"{inbound.chat.channel.value}:{inbound.chat.chat_id}")
            gathered: str | None = None
            if verdict is Verdict.PASS:
                dialogue = await uow.dialogues.get(citizen.id or 0)
                replies = await self._route(uow, citizen, dialogue, inbound)
                if inbound.media_group and inbound.kind is InboundKind.PHOTO and replies:
                    gathered = await self._gather(uow, citizen, inbound, replies)
                    replies = [self._combined(replies)]
            else:
                # Too fast: this message is dropped (the draft is untouched) and
                # the citizen is told once per window.
                flood = Reply(ctx.t(citizen.language, "common.flood"))
                replies = [flood] if verdict is Verdict.WARN else []
            if gathered is None:
                await queue_replies(uow, inbound.chat, replies, inbound.update_key)
            assert citizen.id is not None
            await offer(uow, citizen.id, replies)
            await uow.commit()
            waiting = uow.outbox.left_waiting
        if waiting:
            ctx.wake_outbox()
        return Turn(replies=replies)

    async def _citizen(self, uow: UnitOfWork, inbound: Inbound) -> Citizen:
        person = inbound.sender
        citizen = await uow.citizens.find(inbound.chat.channel.value, person.user_id)
        if citizen is None:
            # Everyone starts in the city's language; /bahasa switches.
            language = self.ctx.catalog.default
            return await uow.citizens.add(
                Citizen(
                    channel=inbound.chat.channel.value,
                    external_id=person.user_id,
                    chat_id=inbound.chat.chat_id,
                    display_name=person.display_name,
                    username=person.username,
                    phone=person.phone,
                    language=language,
                )
            )
        changed = (
            citizen.display_name != person.display_name
            or citizen.username != person.username
            or citizen.chat_id != inbound.chat.chat_id
            or (person.phone is not None and citizen.phone != person.phone)
            or citizen.unreachable
        )
        if changed:
            was_unreachable = citizen.unreachable
            citizen.display_name = person.display_name
            citizen.username = person.username
            citizen.chat_id = inbound.chat.chat_id
            citizen.phone = person.phone or citizen.phone
            citizen.unreachable = False
            await uow.citizens.update(citizen)
            if was_unreachable and citizen.id is not None:
                # The cards said the reporter blocked the bot; they wrote again.
                await refresh_reporter_cards(self.ctx, uow, citizen.id)
        return citizen

    # albums -------------------------------------------------------------

    @staticmethod
    def _combined(replies: list[Reply]) -> Reply:
        """Several replies as one message, with the buttons of the last."""
        last = replies[-1]
        text = "\n\n".join(reply.text for reply in replies if reply.text)
        return flow.prompt_with(last, text)

    async def _gather(
        self, uow: UnitOfWork, citizen: Citizen, inbound: Inbound, replies: list[Reply]
    ) -> str:
        """Answer an album once: each photo replaces the answer still waiting to go out."""
        assert inbound.media_group is not None
        key = f"{ALBUM}:{inbound.chat.chat_id}:{inbound.media_group}"
        not_before = self.ctx.clock.now() + ALBUM_WAIT
        return await queue_gathered(uow, inbound.chat, self._combined(replies), key, not_before)

    # routing ------------------------------------------------------------

    async def _route(
        self, uow: UnitOfWork, citizen: Citizen, dialogue: Dialogue | None, inbound: Inbound
    ) -> list[Reply]:
        lang = citizen.language
        if inbound.kind is InboundKind.COMMAND:
            return await self._command(uow, citizen, dialogue, inbound)
        choice = inbound.choice
        if inbound.kind is InboundKind.TEXT and inbound.text:
            # A ticket number is a status lookup, whatever else is pending: it is
            # never a valid description, address or answer.
            ticket = self.tickets.lookup(inbound.text)
            if ticket is not None:
                return await requests.show_ticket(self.ctx, uow, citizen, ticket)
            choice = self._typed_choice(citizen, dialogue, inbound.text)
        if choice is not None:
            handled = await self._global_choice(uow, citizen, dialogue, inbound, choice)
            if handled is not None:
                return handled
        if choice is None and inbound.reply_to_message_id is not None:
            for handler in self.reply_handlers:
                answered = await handler(self.ctx, uow, citizen, inbound)
                if answered is not None:
                    return answered
        if dialogue is None:
            if choice is not None:
                return self._out_of_date(None, lang)
            return await self._idle(uow, citizen, inbound)
        if choice is not None:
            return await self._dialogue_choice(uow, citizen, dialogue, inbound, choice)
        if dialogue.step == CONFIRM_CANCEL:
            return self._ask_cancel(dialogue, lang, again=True)
        if inbound.kind is InboundKind.UNSUPPORTED:
            return [self._unsupported(inbound, lang, self._prompt(dialogue, lang))]
        if self._continues_album(dialogue, inbound):
            return await self._album_photo(uow, citizen, dialogue, inbound)
        return await self._step(uow, citizen, dialogue, inbound, None)

    def _typed_choice(self, citizen: Citizen, dialogue: Dialogue | None, text: str) -> str | None:
        """Typing a label (any case, without its emoji), its number in the list last
        offered, or yes/no at a yes/no question counts as pressing the button."""
        found = pick(text, from_stored(citizen.offered), self.yes_words, self.no_words)
        if found is None and dialogue is not None:
            # Labels of the current prompt work too, even after another message came
            # in between (a status push, a lookup).
            prompt = flat(self._prompt(dialogue, citizen.language))
            found = pick(text, prompt, self.yes_words, self.no_words, numbers=False)
        return found.id if found is not None else None

    async def _dialogue_choice(
        self, uow: UnitOfWork, citizen: Citizen, dialogue: Dialogue, inbound: Inbound, choice: str
    ) -> list[Reply]:
        lang = citizen.language
        parsed = flow.parse_choice(choice)
        if parsed is None or parsed[0] != dialogue.step:
            # A button of an older prompt: it would act on another step.
            return self._out_of_date(dialogue, lang)
        what = parsed[1]
        if dialogue.step == CONFIRM_CANCEL:
            return await self._confirm_cancel(uow, dialogue, lang, what)
        if what in (flow.CANCEL, flow.BACK):
            replies = (
                self._ask_cancel(dialogue, lang)
                if what == flow.CANCEL
                else self._back(dialogue, lang)
            )
            await uow.dialogues.save(dialogue)
            return replies
        return await self._step(uow, citizen, dialogue, inbound, what)

    async def _step(
        self,
        uow: UnitOfWork,
        citizen: Citizen,
        dialogue: Dialogue,
        inbound: Inbound,
        what: str | None,
    ) -> list[Reply]:
        step = flow.STEPS[dialogue.step]
        before = len(dialogue.draft.photo_ids)
        given = await self._step_input(uow, citizen, dialogue, inbound, what)
        outcome = step.handle(self.ctx, citizen.language, dialogue, given)
        replies = await self._apply(uow, citizen, dialogue, outcome)
        if given.media_group and step.name in flow.TAKES_PHOTOS and outcome.step is not None:
            replies = await self._album_count(uow, citizen, dialogue, given, before, replies)
        elif outcome.step is not None and ALBUM in dialogue.context:
            dialogue.context.pop(ALBUM)
            await uow.dialogues.save(dialogue)
        return replies

    async def _step_input(
        self,
        uow: UnitOfWork,
        citizen: Citizen,
        dialogue: Dialogue,
        inbound: Inbound,
        what: str | None,
    ) -> StepInput:
        attachment_id: int | None = None
        problem: str | None = None
        step = flow.STEPS[dialogue.step]
        if (
            inbound.kind is InboundKind.PHOTO
            and inbound.media
            and step.accepts_media(self.ctx, dialogue)
        ):
            attachment_id, problem = await self._download(uow, citizen, inbound)
        kind = InboundKind.CHOICE if what is not None else inbound.kind
        return StepInput(
            kind=kind,
            text=inbound.text,
            choice=what,
            location=inbound.location,
            attachment_id=attachment_id,
            media_problem=problem,
            media_group=inbound.media_group if inbound.kind is InboundKind.PHOTO else None,
        )

    async def _download(
        self, uow: UnitOfWork, citizen: Citizen, inbound: Inbound
    ) -> tuple[int | None, str | None]:
        try:
            kept = await keep_photo(self.ctx, uow, inbound, "citizen", citizen_id=citizen.id)
            return kept.id, None
        except FileTooLarge:
            return None, "too_large"
        except Exception:
            log.warning("photo download failed", exc_info=True)
            return None, "failed"

    # albums in the dialogue -------------------------------------------------

    @staticmethod
    def _continues_album(dialogue: Dialogue, inbound: Inbound) -> bool:
        """A later photo of an album whose first photo a step took (with a caption at
        the description, or right after the pin): the dialogue moved on meanwhile."""
        album = dialogue.context.get(ALBUM)
        return (
            inbound.kind is InboundKind.PHOTO
            and inbound.media_group is not None
            and isinstance(album, dict)
            and album.get("id") == inbound.media_group
            and dialogue.step not in flow.TAKES_PHOTOS
        )

    async def _album_photo(
        self, uow: UnitOfWork, citizen: Citizen, dialogue: Dialogue, inbound: Inbound
    ) -> list[Reply]:
        before = len(dialogue.draft.photo_ids)
        kept_id, problem = (None, None)
        if flow.has_room(self.ctx, dialogue) and inbound.media:
            kept_id, problem = await self._download(uow, citizen, inbound)
        if kept_id is not None:
            dialogue.draft.photo_ids.append(kept_id)
        given = StepInput(
            kind=InboundKind.PHOTO, media_group=inbound.media_group, media_problem=problem
        )
        await uow.dialogues.save(dialogue)
        return await self._album_count(uow, citizen, dialogue, given, before, [])

    async def _album_count(
        self,
        uow: UnitOfWork,
        citizen: Citizen,
        dialogue: Dialogue,
        given: StepInput,
        before: int,
        replies: list[Reply],
    ) -> list[Reply]:
        """Count the album's photos and say it once for all of them: "3 foto diterima
        (3/5)", with what the current step asks for."""
        lang = citizen.language
        album = dialogue.context.get(ALBUM)
        if not isinstance(album, dict) or album.get("id") != given.media_group:
            album = {"id": given.media_group, "kept": 0, "dropped": 0, "failed": 0}
        if len(dialogue.draft.photo_ids) > before:
            album["kept"] += 1
        elif given.media_problem is not None:
            album["failed"] += 1
        else:
            album["dropped"] += 1
        dialogue.context[ALBUM] = album
        await uow.dialogues.save(dialogue)
        ctx = self.ctx
        count, limit = len(dialogue.draft.photo_ids), ctx.limits.max_photos
        full = "_full" if count >= limit else ""
        lines = [
            ctx.t(
                lang,
                f"dialogue.album_received{full}",
                received=album["kept"],
                count=count,
                max=limit,
            )
        ]
        if album["dropped"]:
            lines.append(ctx.t(lang, "dialogue.album_dropped", dropped=album["dropped"], max=limit))
        if album["failed"]:
            lines.append(ctx.t(lang, "dialogue.album_failed", failed=album["failed"]))
        if dialogue.step == "photos":
            return [Reply(" ".join(lines), choices=flow.photo_buttons(ctx, lang))]
        prompt = self._prompt(dialogue, lang)
        return [flow.prompt_with(prompt, " ".join(lines) + "\n\n" + prompt.text)]

    # applying an outcome ----------------------------------------------------

    async def _apply(
        self, uow: UnitOfWork, citizen: Citizen, dialogue: Dialogue, outcome: Outcome
    ) -> list[Reply]:
        lang = citizen.language
        replies = list(outcome.replies)
        keyboard_shown = dialogue.step in flow.SHOWS_KEYBOARD
        if outcome.submit:
            complaint = await submit(self.ctx, uow, citizen, dialogue.draft)
            await uow.dialogues.delete(dialogue.citizen_id)
            return _without_needless_removal(
                [*replies, self._submitted(complaint, lang)], keyboard_shown
            )
        if outcome.step is None:
            await uow.dialogues.delete(dialogue.citizen_id)
            return replies
        target, origin = outcome.step, dialogue.step
        if target == "summary" or (
            dialogue.editing
            and outcome.advance
            and dialogue.step not in ("edit", "summary")
            and target not in flow.CONTINUES_EDIT
        ):
            self._unwind_to_summary(dialogue)
        elif outcome.advance and target != dialogue.step:
            dialogue.back.append(dialogue.step)
            dialogue.step = target
        prompted = outcome.prompted and dialogue.step == target
        if (dialogue.step != origin or outcome.advance) and not prompted:
            replies.append(flow.STEPS[dialogue.step].prompt(self.ctx, lang, dialogue))
        if dialogue.step != "photos":
            dialogue.context.pop(flow.PHOTOS_BEFORE_EDIT, None)
        await uow.dialogues.save(dialogue)
        return _without_needless_removal(replies, keyboard_shown)

    @staticmethod
    def _unwind_to_summary(dialogue: Dialogue) -> None:
        if "summary" in dialogue.back:
            del dialogue.back[dialogue.back.index("summary") :]
        elif dialogue.step != "summary":
            dialogue.back.append(dialogue.step)
        dialogue.step = "summary"
        dialogue.editing = False

    def _submitted(self, complaint: Complaint, lang: str) -> Reply:
        rules = self.ctx.config.deadlines_for(complaint.category)
        text = self.ctx.t(
            lang,
            "dialogue.submitted",
            ticket=complaint.ticket,
            verify_due=self.ctx.format_date(complaint.verify_due, lang),
            verify_days=rules.verify_working_days,
        )
        return Reply(text, choices=self._menu_rows(lang), remove_keyboard=True)

    # navigation ---------------------------------------------------------

    def _back(self, dialogue: Dialogue, lang: str) -> list[Reply]:
        kept = dialogue.context.pop(flow.PHOTOS_BEFORE_EDIT, None)
        if dialogue.step == "photos" and kept is not None:
            # Leaving "change photos" without finishing keeps the photos sent before.
            dialogue.draft.photo_ids = list(kept)
        if dialogue.back:
            dialogue.step = dialogue.back.pop()
            if dialogue.step in ("summary", "edit"):
                dialogue.editing = False
        return [self._prompt(dialogue, lang)]

    def _ask_cancel(self, dialogue: Dialogue, lang: str, again: bool = False) -> list[Reply]:
        if dialogue.step != CONFIRM_CANCEL:
            dialogue.context["cancel_from"] = dialogue.step
            dialogue.step = CONFIRM_CANCEL
        text = self.ctx.t(lang, "dialogue.use_buttons" if again else "dialogue.confirm_cancel")
        rows = (
            (
                Choice(CANCEL_YES, self.ctx.t(lang, "dialogue.cancel_yes"), YES),
                Choice(CANCEL_NO, self.ctx.t(lang, "dialogue.cancel_no"), NO),
            ),
        )
        return [Reply(text, choices=rows, remove_keyboard=True)]

    async def _confirm_cancel(
        self, uow: UnitOfWork, dialogue: Dialogue, lang: str, what: str
    ) -> list[Reply]:
        if what == "yes":
            await uow.dialogues.delete(dialogue.citizen_id)
            return [
                Reply(
                    self.ctx.t(lang, "dialogue.cancelled"),
                    choices=self._menu_rows(lang),
                    remove_keyboard=True,
                )
            ]
        dialogue.step = str(dialogue.context.pop("cancel_from", flow.FIRST_STEP))
        await uow.dialogues.save(dialogue)
        return [Reply(self.ctx.t(lang, "dialogue.continue")), self._prompt(dialogue, lang)]

    def _out_of_date(self, dialogue: Dialogue | None, lang: str) -> list[Reply]:
        """A button of an older message: say so and show what is current instead."""
        text = self.ctx.t(lang, "common.out_of_date")
        if dialogue is None:
            return [Reply(text, choices=self._menu_rows(lang))]
        return [Reply(text), *self._resume(dialogue, lang)]

    def _unsupported(self, inbound: Inbound, lang: str, prompt: Reply | None) -> Reply:
        """A kind answer to a voice note, sticker, video or file: what to send instead."""
        kind = UNSUPPORTED_TEXTS.get(inbound.unsupported or "", "other")
        text = self.ctx.t(lang, f"unsupported.{kind}")
        if prompt is None:
            return Reply(f"{text}\n\n{self.ctx.t(lang, 'unsupported.idle')}")
        return flow.prompt_with(prompt, f"{text}\n\n{prompt.text}")

    # commands and choices valid everywhere --------------------------------

    async def _command(
        self, uow: UnitOfWork, citizen: Citizen, dialogue: Dialogue | None, inbound: Inbound
    ) -> list[Reply]:
        lang = citizen.language
        ctx = self.ctx
        command = inbound.command or ""
        if command in ("start", "menu"):
            await requests.forget_awaiting(ctx, uow, citizen)
            replies = [self._menu(lang)]
            if dialogue is not None:
                replies += self._resume(dialogue, lang)
            return replies
        if command in ("lapor", "aduan_baru", "new"):
            return await self._start_dialogue(uow, citizen, dialogue)
        if command in ("batal", "cancel"):
            if dialogue is None:
                if citizen.awaiting is not None:
                    await requests.forget_awaiting(ctx, uow, citizen)
                    return [Reply(ctx.t(lang, "dialogue.request_cancelled"))]
                return [Reply(ctx.t(lang, "dialogue.nothing_to_cancel"))]
            replies = self._ask_cancel(dialogue, lang)
            await uow.dialogues.save(dialogue)
            return replies
        if command in ("bahasa", "language"):
            return [self._language_menu(lang)]
        if command in ("aduansaya", "mine"):
            return await requests.my_complaints(ctx, uow, citizen)
        if command == "status":
            if inbound.args.strip():
                ticket = self.tickets.find(inbound.args) or inbound.args.strip().split()[0]
                return await requests.show_ticket(ctx, uow, citizen, ticket)
            return await requests.open_complaints(ctx, uow, citizen)
        if command in ("bantuan", "help"):
            return [self._help(lang)]
        if command in ("privasi", "privacy"):
            return [self._privacy(lang)]
        if dialogue is not None:
            return self._resume(dialogue, lang)
        return [Reply(ctx.t(lang, "menu.unknown"), choices=self._menu_rows(lang))]

    async def _global_choice(
        self,
        uow: UnitOfWork,
        citizen: Citizen,
        dialogue: Dialogue | None,
        inbound: Inbound,
        choice: str,
    ) -> list[Reply] | None:
        lang = citizen.language
        if choice == "menu:new":
            return await self._start_dialogue(uow, citizen, dialogue)
        if choice == "menu:mine":
            return await requests.my_complaints(self.ctx, uow, citizen)
        if choice == "menu:status":
            return await requests.open_complaints(self.ctx, uow, citizen)
        if choice == "menu:help":
            return [self._help(lang)]
        if choice == "menu:privacy":
            return [self._privacy(lang)]
        if choice == "menu:lang":
            return [self._language_menu(lang)]
        if choice.startswith("lang:") and choice[5:] in LANGUAGES:
            citizen.language = choice[5:]
            await uow.citizens.update(citizen)
            replies = [Reply(self.ctx.t(citizen.language, "language.changed"))]
            replies.append(
                self._menu(citizen.language)
                if dialogue is None
                else self._prompt(dialogue, citizen.language)
            )
            return replies
        prefix = choice.split(":", 1)[0]
        handler = self.choice_handlers.get(prefix)
        if handler is not None:
            return await handler(self.ctx, uow, citizen, inbound, choice)
        return None

    async def _idle(self, uow: UnitOfWork, citizen: Citizen, inbound: Inbound) -> list[Reply]:
        lang = citizen.language
        for handler in (requests.handle_awaited, *self.idle_handlers):
            handled = await handler(self.ctx, uow, citizen, inbound)
            if handled is not None:
                return handled
        if inbound.kind is InboundKind.UNSUPPORTED:
            return [self._unsupported(inbound, lang, None)]
        return [Reply(self.ctx.t(lang, "menu.unknown"), choices=self._menu_rows(lang))]

    async def _start_dialogue(
        self, uow: UnitOfWork, citizen: Citizen, dialogue: Dialogue | None
    ) -> list[Reply]:
        lang = citizen.language
        if dialogue is not None:
            return [
                Reply(self.ctx.t(lang, "dialogue.already_in_dialogue")),
                *self._resume(dialogue, lang),
            ]
        assert citizen.id is not None
        await requests.forget_awaiting(self.ctx, uow, citizen)
        dialogue = Dialogue(citizen_id=citizen.id, step=flow.FIRST_STEP)
        await uow.dialogues.save(dialogue)
        return [self._prompt(dialogue, lang)]

    def _resume(self, dialogue: Dialogue, lang: str) -> list[Reply]:
        return [self._prompt(dialogue, lang)]

    def _prompt(self, dialogue: Dialogue, lang: str) -> Reply:
        if dialogue.step == CONFIRM_CANCEL:
            return self._ask_cancel(dialogue, lang)[0]
        return flow.STEPS[dialogue.step].prompt(self.ctx, lang, dialogue)

    # menu, help, privacy -----------------------------------------------------

    def _menu_rows(self, lang: str) -> tuple[tuple[Choice, ...], ...]:
        t = self.ctx.t
        return (
            (Choice("menu:new", t(lang, "menu.new")), Choice("menu:mine", t(lang, "menu.mine"))),
            (
                Choice("menu:status", t(lang, "menu.status")),
                Choice("menu:help", t(lang, "menu.help")),
            ),
            (
                Choice("menu:privacy", t(lang, "menu.privacy")),
                Choice("menu:lang", t(lang, "menu.language")),
            ),
        )

    def _menu(self, lang: str) -> Reply:
        text = self.ctx.t(lang, "menu.greeting", city=self.ctx.config.city_name)
        return Reply(text, choices=self._menu_rows(lang))

    def _city_text(self, lang: str, texts: dict[str, str], fallback: str) -> str:
        config = self.ctx.config
        template = texts.get(lang) or self.ctx.t(lang, fallback)
        return template.format(**config.text_values())

    def _help(self, lang: str) -> Reply:
        config = self.ctx.config
        how = self.ctx.t(lang, "menu.help_text")
        faq = self._city_text(lang, config.help_text, "menu.help_faq")
        return Reply(f"{how}\n\n{faq}")

    def _privacy(self, lang: str) -> Reply:
        return Reply(self._city_text(lang, self.ctx.config.privacy_text, "menu.privacy_text"))

    def _language_menu(self, lang: str) -> Reply:
        rows = (
            (
                Choice("lang:id", self.ctx.t(lang, "language.id")),
                Choice("lang:en", self.ctx.t(lang, "language.en")),
            ),
        )
        return Reply(self.ctx.t(lang, "language.ask"), choices=rows)


def _without_needless_removal(replies: list[Reply], keyboard_shown: bool) -> list[Reply]:
    """Drop a keyboard removal when no keyboard is shown. The keyboard is shown only
    while the step that asks for it is the last prompt; a needless removal next to
    buttons costs Telegram a second call (send with the removal, then add the buttons)."""
    settled = []
    for reply in replies:
        if reply.ask_location:
            keyboard_shown = True
        elif reply.remove_keyboard:
            if not keyboard_shown:
                reply = replace(reply, remove_keyboard=False)
            keyboard_shown = False
        settled.append(reply)
    return settled
