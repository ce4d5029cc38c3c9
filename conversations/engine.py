"""Runs the citizen's side of a chat: commands, the menu and the complaint dialogue.

The engine loads and saves; steps decide; every reply goes to the outbox in the
same transaction as the state it belongs to.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from conversations import complaint_dialogue as flow
from conversations.core.complaints import submit
from conversations.core.context import CoreContext
from conversations.core.domain import Citizen, Complaint, Dialogue
from conversations.core.evidence import keep_photo
from conversations.core.flood import FloodGuard, Verdict
from conversations.core.handling import refresh_reporter_cards
from conversations.core.i18n import LANGUAGES
from conversations.core.lifecycle import Role
from conversations.core.messages import Choice, Inbound, InboundKind, Reply
from conversations.core.outbox import queue_replies
from conversations.core.ports import FileTooLarge, UnitOfWork
from conversations.steps import Outcome, StepInput

log = logging.getLogger(__name__)

CONFIRM_CANCEL = "confirm_cancel"
CANCEL_YES = "cancel:yes"
CANCEL_NO = "cancel:no"
MINE_SHOWN = 10

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
        self.choice_handlers: dict[str, ChoiceHandler] = {}
        self.idle_handlers: list[IdleHandler] = []
        # Telegram replies to a bot message about a complaint; they come before the
        # dialogue, so an answer to the officer is not taken as a dialogue step.
        self.reply_handlers: list[IdleHandler] = []
        self.ticket_pattern = re.compile(
            rf"^\s*({re.escape(ctx.config.ticket_prefix)}-\d{{4}}-\d{{4,}})\s*$", re.IGNORECASE
        )

    async def handle(self, inbound: Inbound) -> Turn:
        ctx = self.ctx
        async with ctx.uow() as uow:
            if not await uow.updates.claim(inbound.update_key):
                return Turn(duplicate=True)
            citizen = await self._citizen(uow, inbound)
            verdict = self.flood.check(f"{inbound.chat.channel.value}:{inbound.chat.chat_id}")
            if verdict is Verdict.PASS:
                dialogue = await uow.dialogues.get(citizen.id or 0)
                replies = await self._route(uow, citizen, dialogue, inbound)
            else:
                # Too fast: this message is dropped (the draft is untouched) and
                # the citizen is told once per window.
                flood = Reply(ctx.t(citizen.language, "common.flood"))
                replies = [flood] if verdict is Verdict.WARN else []
            await queue_replies(uow, inbound.chat, replies, inbound.update_key)
            await uow.commit()
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

    # routing ------------------------------------------------------------

    async def _route(
        self, uow: UnitOfWork, citizen: Citizen, dialogue: Dialogue | None, inbound: Inbound
    ) -> list[Reply]:
        lang = citizen.language
        if inbound.kind is InboundKind.COMMAND:
            return await self._command(uow, citizen, dialogue, inbound)
        if inbound.kind is InboundKind.TEXT and inbound.text:
            # A ticket number is a status lookup, whatever else is pending: it is
            # never a valid description, address or answer.
            match = self.ticket_pattern.match(inbound.text)
            if match:
                return await self._status(uow, citizen, match.group(1))
        choice = inbound.choice
        if inbound.kind is InboundKind.TEXT and dialogue is not None:
            choice = self._choice_from_label(citizen, dialogue, inbound.text or "")
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
            return await self._idle(uow, citizen, inbound)
        if choice in (flow.CANCEL, flow.BACK):
            replies = (
                self._ask_cancel(dialogue, lang)
                if choice == flow.CANCEL
                else self._back(dialogue, lang)
            )
            await uow.dialogues.save(dialogue)
            return replies
        if dialogue.step == CONFIRM_CANCEL:
            return self._ask_cancel(dialogue, lang, again=True)
        step = flow.STEPS[dialogue.step]
        given = await self._step_input(uow, citizen, dialogue, inbound, choice)
        outcome = step.handle(self.ctx, lang, dialogue, given)
        return await self._apply(uow, citizen, dialogue, outcome)

    def _choice_from_label(self, citizen: Citizen, dialogue: Dialogue, text: str) -> str | None:
        """A typed button label counts as pressing it (reply keyboards, old clients)."""
        step = flow.STEPS.get(dialogue.step)
        if step is None:
            return None
        wanted = text.strip().casefold()
        for row in step.prompt(self.ctx, citizen.language, dialogue).choices:
            for choice in row:
                if choice.label.casefold() == wanted:
                    return choice.id
        return None

    async def _step_input(
        self,
        uow: UnitOfWork,
        citizen: Citizen,
        dialogue: Dialogue,
        inbound: Inbound,
        choice: str | None,
    ) -> StepInput:
        attachment_id: int | None = None
        problem: str | None = None
        step = flow.STEPS[dialogue.step]
        if (
            inbound.kind is InboundKind.PHOTO
            and inbound.media
            and step.accepts_media(self.ctx, dialogue)
        ):
            try:
                kept = await keep_photo(self.ctx, uow, inbound, "citizen", citizen_id=citizen.id)
                attachment_id = kept.id
            except FileTooLarge:
                problem = "too_large"
            except Exception:
                log.warning("photo download failed", exc_info=True)
                problem = "failed"
        kind = InboundKind.CHOICE if choice is not None else inbound.kind
        return StepInput(
            kind=kind,
            text=inbound.text,
            choice=choice,
            location=inbound.location,
            attachment_id=attachment_id,
            media_problem=problem,
        )

    async def _apply(
        self, uow: UnitOfWork, citizen: Citizen, dialogue: Dialogue, outcome: Outcome
    ) -> list[Reply]:
        lang = citizen.language
        replies = list(outcome.replies)
        if outcome.submit:
            complaint = await submit(self.ctx, uow, citizen, dialogue.draft)
            await uow.dialogues.delete(dialogue.citizen_id)
            return [*replies, self._submitted(complaint, lang)]
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
        if dialogue.step != origin or outcome.advance:
            replies.append(flow.STEPS[dialogue.step].prompt(self.ctx, lang, dialogue))
        if dialogue.step != "photos":
            dialogue.context.pop(flow.PHOTOS_BEFORE_EDIT, None)
        await uow.dialogues.save(dialogue)
        return replies

    @staticmethod
    def _unwind_to_summary(dialogue: Dialogue) -> None:
        if "summary" in dialogue.back:
            del dialogue.back[dialogue.back.index("summary") :]
        elif dialogue.step != "summary":
            dialogue.back.append(dialogue.step)
        dialogue.step = "summary"
        dialogue.editing = False

    def _submitted(self, complaint: Complaint, lang: str) -> Reply:
        text = self.ctx.t(
            lang,
            "dialogue.submitted",
            ticket=complaint.ticket,
            verify_due=self.ctx.format_date(complaint.verify_due),
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
        return [flow.STEPS[dialogue.step].prompt(self.ctx, lang, dialogue)]

    def _ask_cancel(self, dialogue: Dialogue, lang: str, again: bool = False) -> list[Reply]:
        if dialogue.step != CONFIRM_CANCEL:
            dialogue.context["cancel_from"] = dialogue.step
            dialogue.step = CONFIRM_CANCEL
        text = self.ctx.t(lang, "dialogue.use_buttons" if again else "dialogue.confirm_cancel")
        rows = (
            (
                Choice(CANCEL_YES, self.ctx.t(lang, "dialogue.cancel_yes")),
                Choice(CANCEL_NO, self.ctx.t(lang, "dialogue.cancel_no")),
            ),
        )
        return [Reply(text, choices=rows, remove_keyboard=True)]

    # commands and choices valid everywhere --------------------------------

    async def _command(
        self, uow: UnitOfWork, citizen: Citizen, dialogue: Dialogue | None, inbound: Inbound
    ) -> list[Reply]:
        lang = citizen.language
        command = inbound.command or ""
        if command in ("start", "menu"):
            replies = [self._menu(lang)]
            if dialogue is not None:
                replies += self._resume(dialogue, lang)
            return replies
        if command in ("lapor", "aduan_baru", "new"):
            return await self._start_dialogue(uow, citizen, dialogue)
        if command in ("batal", "cancel"):
            if dialogue is None:
                return [Reply(self.ctx.t(lang, "dialogue.nothing_to_cancel"))]
            replies = self._ask_cancel(dialogue, lang)
            await uow.dialogues.save(dialogue)
            return replies
        if command in ("bahasa", "language"):
            return [self._language_menu(lang)]
        if command in ("aduansaya", "mine"):
            return await self._my_complaints(uow, citizen)
        if command == "status":
            if inbound.args.strip():
                return await self._status(uow, citizen, inbound.args.strip().split()[0])
            return [self._ask_ticket(lang)]
        if command in ("bantuan", "help"):
            return [Reply(self.ctx.t(lang, "menu.help_text"))]
        if dialogue is not None:
            return self._resume(dialogue, lang)
        return [Reply(self.ctx.t(lang, "menu.unknown"), choices=self._menu_rows(lang))]

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
            return await self._my_complaints(uow, citizen)
        if choice == "menu:status":
            return [self._ask_ticket(lang)]
        if choice == "menu:help":
            return [Reply(self.ctx.t(lang, "menu.help_text"))]
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
        if choice in (CANCEL_YES, CANCEL_NO):
            if dialogue is None or dialogue.step != CONFIRM_CANCEL:
                return [] if dialogue is None else self._resume(dialogue, lang)
            if choice == CANCEL_YES:
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
        prefix = choice.split(":", 1)[0]
        handler = self.choice_handlers.get(prefix)
        if handler is not None:
            return await handler(self.ctx, uow, citizen, inbound, choice)
        return None

    async def _idle(self, uow: UnitOfWork, citizen: Citizen, inbound: Inbound) -> list[Reply]:
        lang = citizen.language
        for handler in self.idle_handlers:
            handled = await handler(self.ctx, uow, citizen, inbound)
            if handled is not None:
                return handled
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
        dialogue = Dialogue(citizen_id=citizen.id, step=flow.FIRST_STEP)
        await uow.dialogues.save(dialogue)
        return [self._prompt(dialogue, lang)]

    def _resume(self, dialogue: Dialogue, lang: str) -> list[Reply]:
        if dialogue.step == CONFIRM_CANCEL:
            return self._ask_cancel(dialogue, lang, again=True)
        return [self._prompt(dialogue, lang)]

    def _prompt(self, dialogue: Dialogue, lang: str) -> Reply:
        if dialogue.step == CONFIRM_CANCEL:
            return self._ask_cancel(dialogue, lang, again=True)[0]
        return flow.STEPS[dialogue.step].prompt(self.ctx, lang, dialogue)

    # menu, lists, status ----------------------------------------------------

    def _menu_rows(self, lang: str) -> tuple[tuple[Choice, ...], ...]:
        t = self.ctx.t
        return (
            (Choice("menu:new", t(lang, "menu.new")), Choice("menu:mine", t(lang, "menu.mine"))),
            (
                Choice("menu:status", t(lang, "menu.status")),
                Choice("menu:help", t(lang, "menu.help")),
            ),
            (Choice("menu:lang", t(lang, "menu.language")),),
        )

    def _menu(self, lang: str) -> Reply:
        text = self.ctx.t(lang, "menu.greeting", city=self.ctx.config.city_name)
        return Reply(text, choices=self._menu_rows(lang))

    def _language_menu(self, lang: str) -> Reply:
        rows = (
            (
                Choice("lang:id", self.ctx.t(lang, "language.id")),
                Choice("lang:en", self.ctx.t(lang, "language.en")),
            ),
        )
        return Reply(self.ctx.t(lang, "language.ask"), choices=rows)

    def _ask_ticket(self, lang: str) -> Reply:
        example = (
            f"{self.ctx.config.ticket_prefix}-{self.ctx.local(self.ctx.clock.now()):%y%m}-0001"
        )
        return Reply(self.ctx.t(lang, "status.ask_ticket", example=example))

    async def _my_complaints(self, uow: UnitOfWork, citizen: Citizen) -> list[Reply]:
        lang = citizen.language
        assert citizen.id is not None
        complaints = await uow.complaints.for_citizen(citizen.id, limit=MINE_SHOWN)
        if not complaints:
            return [Reply(self.ctx.t(lang, "mine.empty"))]
        lines = [self.ctx.t(lang, "mine.header")]
        for complaint in complaints:
            category = self.ctx.config.category(complaint.category)
            lines.append(
                self.ctx.t(
                    lang,
                    "mine.line",
                    ticket=complaint.ticket,
                    status=self.ctx.t(lang, f"status_label.{complaint.status.value}"),
                    date=self.ctx.format_date(complaint.created_at),
                    category=category.label(lang) if category else complaint.category,
                )
            )
        if len(complaints) == MINE_SHOWN:
            more = await uow.complaints.count_for_citizen(citizen.id) - MINE_SHOWN
            if more > 0:
                lines.append(self.ctx.t(lang, "mine.more", count=more))
        return [Reply("\n".join(lines))]

    async def _status(self, uow: UnitOfWork, citizen: Citizen, ticket: str) -> list[Reply]:
        lang = citizen.language
        complaint = await uow.complaints.by_ticket(ticket)
        if complaint is None or complaint.citizen_id != citizen.id:
            return [Reply(self.ctx.t(lang, "status.not_found", ticket=ticket.upper()))]
        assert complaint.id is not None
        history = await uow.events.for_complaint(complaint.id)
        said = [e.public_message for e in history if e.actor_role != Role.CITIZEN.value]
        last = next((m for m in reversed(said) if m), None)
        return [Reply(status_text(self.ctx, complaint, lang, last))]


def status_text(
    ctx: CoreContext, complaint: Complaint, lang: str, last_message: str | None = None
) -> str:
    category = ctx.config.category(complaint.category)
    agency = ctx.config.agency(complaint.agency)
    if complaint.status.value in ("baru", "terverifikasi") and complaint.verify_due:
        deadline = ctx.t(
            lang, "status.deadline_verify", due=ctx.format_datetime(complaint.verify_due)
        )
    elif complaint.status.value in ("didisposisikan", "ditindaklanjuti") and complaint.followup_due:
        deadline = ctx.t(
            lang, "status.deadline_followup", due=ctx.format_datetime(complaint.followup_due)
        )
    else:
        deadline = ctx.t(lang, "status.deadline_none")
    text = ctx.t(
        lang,
        "status.detail",
        ticket=complaint.ticket,
        status=ctx.t(lang, f"status_label.{complaint.status.value}"),
        category=category.label(lang) if category else complaint.category,
        agency=agency.name if agency else complaint.agency,
        created=ctx.format_datetime(complaint.created_at),
        deadline=deadline,
        description=complaint.description[:1500],
    )
    if last_message:
        text += ctx.t(lang, "status.last_message", message=last_message[:1500])
    return text
