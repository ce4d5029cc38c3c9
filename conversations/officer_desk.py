"""The officers' desk in chat groups: buttons on cards, replies to cards, slash commands
and reason prompts. A front end over ``conversations.core.desk`` (who may do what, the
moves, notes, the queue, the report), which the web desk uses too.

Everything arrives as neutral ``Inbound`` events. Only the admin group (with its
topics) and the agencies' own groups are officers' chats; events from any other
group the bot is in are ignored. Only officers act: the desk (``desk_officers`` or
administrators of the admin group) on every complaint, an agency's officers on
the complaints of their agency. A refusal changes nothing.

A reply to a card is an answer to the citizen. A reason (reject, not our
authority, a question) is only ever taken from a reply to the bot's prompt that
asked for it; such a request lasts ``REQUEST_TTL``, ends with any change of the
complaint, and its prompt has a button to cancel it.
"""

from __future__ import annotations

import logging
import re
import string
from datetime import timedelta

from conversations.core.cards import CARD_LIMIT, text_units
from conversations.core.context import CoreContext
from conversations.core.desk import Officer, OfficerActions, Refused
from conversations.core.domain import (
    Attachment,
    CardLink,
    Complaint,
    OfficerRequest,
)
from conversations.core.evidence import keep_photo
from conversations.core.handling import (
    ASK_ROLE,
    DESK_ROLE,
    card_agency,
    card_for,
)
from conversations.core.lifecycle import (
    NEEDS_TEXT,
    Action,
    Role,
)
from conversations.core.messages import ChatAddress, Choice, Inbound, InboundKind, Reply
from conversations.core.outbox import queue
from conversations.core.ports import ChatAdmins, FileTooLarge, UnitOfWork
from conversations.core.reporter import citizen_follow_up, follow_up_reply
from conversations.core.tickets import TicketReader
from conversations.report_command import report_command

# The citizen's side of a complaint on hold lives in the core; kept importable here.
__all__ = ["Officer", "OfficerDesk", "citizen_follow_up", "follow_up_reply"]

log = logging.getLogger(__name__)

REQUEST_TTL = timedelta(hours=24)
# Actions whose text the officer gives by replying to the bot's prompt.
ASK_ACTIONS = tuple(sorted(NEEDS_TEXT))


def template_pattern(template: str, ticket: str) -> re.Pattern[str]:
    """A catalog template as a pattern: its literal text, ``{ticket}`` as a named
    group, any other placeholder as any text."""
    parts: list[str] = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field == "ticket":
            parts.append(f"(?P<ticket>{ticket})")
        elif field is not None:
            parts.append(".*?")
    return re.compile("".join(parts), re.DOTALL | re.IGNORECASE)


def split_message(text: str, limit: int = CARD_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` UTF-16 code units, cut at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while text_units(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            cut = limit
            while text_units(line[:cut]) > limit:
                cut -= text_units(line[:cut]) - limit
            pieces.append(line[:cut])
            line = line[cut:]
        joined = f"{current}\n{line}" if current else line
        if current and text_units(joined) > limit:
            pieces.append(current)
            joined = line
        current = joined
    if current or not pieces:
        pieces.append(current)
    return pieces


class OfficerDesk:
    def __init__(self, ctx: CoreContext, admins: ChatAdmins | None = None):
        self.ctx = ctx
        self.admins = admins
        self.actions = OfficerActions(ctx)
        ticket = rf"{re.escape(ctx.config.ticket_prefix)}-\d{{4}}-\d{{4,}}"
        self.tickets = TicketReader(ctx.config.ticket_prefix)
        self.ticket_pattern = re.compile(rf"\b{ticket}\b", re.IGNORECASE)
        # What the bot's cards and reason prompts look like, in every language: a
        # reply to any other bot message that names a ticket is no answer to anyone.
        catalog = ctx.catalog
        self.card_headers: list[re.Pattern[str]] = []
        self.ask_prompts: list[tuple[Action, re.Pattern[str]]] = []
        for lang in catalog.languages:
            for header in ("card.header_new", "card.header"):
                self.card_headers.append(template_pattern(catalog.t(lang, header), ticket))
            for action in ASK_ACTIONS:
                prompt = catalog.t(lang, f"officer.ask.{action.value}")
                self.ask_prompts.append((action, template_pattern(prompt, ticket)))

    def t(self, key: str, **values: object) -> str:
        return self.ctx.t(self.ctx.catalog.default, key, **values)

    async def handle(self, inbound: Inbound) -> str | None:
        """Handle one group event; returns the text to answer a button press with."""
        if inbound.kind is InboundKind.COMMAND and inbound.command == "id":
            await self._chat_id(inbound)
            return None
        async with self.ctx.uow() as uow:
            if not await uow.updates.claim(inbound.update_key):
                return None
            if not self.is_officers_chat(inbound.chat):
                log.info(
                    "ignored %s from user %s in chat %s: not an officers' chat",
                    inbound.kind.value,
                    inbound.sender.user_id,
                    inbound.chat.chat_id,
                )
                await uow.commit()
                return None
            if inbound.sender_is_chat:
                # The history must name who acted; an anonymous admin cannot be named.
                await self._say(uow, inbound, self.t("officer.anonymous_admin"))
                notice = None
            else:
                notice = await self._route(uow, inbound)
            await uow.commit()
        self.ctx.wake_outbox()
        return notice

    async def _chat_id(self, inbound: Inbound) -> None:
        """``/id``: the group's id (and the topic's), which setting the bot up needs,
        so it works in any group, configured or not; only the group's admins are told."""
        chat = inbound.chat
        admin = inbound.sender_is_chat  # posting "as the group" takes an admin
        if not admin and self.admins is not None:
            try:
                admin = await self.admins.is_admin(chat.chat_id, inbound.sender.user_id)
            except Exception:
                log.warning("could not ask for the administrators of chat %s", chat.chat_id)
        if not admin:
            self._refused(inbound, "/id is for the group's administrators")
            return
        async with self.ctx.uow() as uow:
            if not await uow.updates.claim(inbound.update_key):
                return
            if chat.thread_id is None:
                text = self.t("officer.chat_id", chat_id=chat.chat_id)
            else:
                text = self.t(
                    "officer.chat_topic_id", chat_id=chat.chat_id, thread_id=chat.thread_id
                )
            await self._say(uow, inbound, text)
            await uow.commit()
        self.ctx.wake_outbox()

    def is_officers_chat(self, chat: ChatAddress) -> bool:
        """The admin group (any of its topics) or an agency's own group.

        Desk commands show reporters' identities: never in any other group.
        """
        if chat.channel is not self.ctx.desk_chat.channel:
            return False
        if chat.chat_id == self.ctx.desk_chat.chat_id:
            return True
        return any(
            agency.chat_id is not None and str(agency.chat_id) == chat.chat_id
            for agency in self.ctx.config.agencies
        )

    # who is asking ---------------------------------------------------------

    async def officer(self, inbound: Inbound) -> Officer | None:
        config = self.ctx.config
        user_id = inbound.sender.user_id
        try:
            numeric = int(user_id)
        except ValueError:
            numeric = None
        desk = numeric is not None and numeric in config.desk_officers
        agencies = frozenset(a.code for a in config.agency_of_officer(numeric or 0))
        if not desk and self.admins is not None:
            try:
                desk = await self.admins.is_admin(self.ctx.desk_chat.chat_id, user_id)
            except Exception:
                log.warning("could not ask for the admin group's administrators", exc_info=True)
        if not desk and not agencies:
            return None
        return Officer(user_id, inbound.sender.display_name, desk, agencies)

    def _refused(self, inbound: Inbound, why: str, complaint: Complaint | None = None) -> None:
        log.info(
            "refused %s from user %s in chat %s%s",
            inbound.kind.value,
            inbound.sender.user_id,
            inbound.chat.chat_id,
            f" on {complaint.ticket}" if complaint else "",
            extra={"reason": why},
        )

    # routing -----------------------------------------------------------------

    async def _route(self, uow: UnitOfWork, inbound: Inbound) -> str | None:
        if inbound.kind is InboundKind.CHOICE:
            return await self._press(uow, inbound)
        if inbound.kind is InboundKind.COMMAND:
            await self._command(uow, inbound)
            return None
        if inbound.kind in (InboundKind.TEXT, InboundKind.PHOTO) and inbound.reply_to_message_id:
            link = await uow.cards.find(inbound.chat.chat_id, inbound.reply_to_message_id)
            if link is None:
                link = await self._link_from_text(uow, inbound)
            if link is not None:
                await self._reply_to_card(uow, inbound, link)
        return None

    async def _remember_card(self, uow: UnitOfWork, inbound: Inbound, complaint: Complaint) -> None:
        """Store the pressed card's link if its send is not confirmed yet.

        Links are recorded when the outbox confirms a send; a quick officer can
        press a button before that, and the card must still be edited.
        """
        if inbound.message_id is None or complaint.id is None:
            return
        if await uow.cards.find(inbound.chat.chat_id, inbound.message_id) is not None:
            return
        agency = await self._chat_agency(uow, inbound.chat)
        await uow.cards.add(
            CardLink(
                chat_id=inbound.chat.chat_id,
                message_id=inbound.message_id,
                complaint_id=complaint.id,
                role=f"agency:{agency}" if agency else DESK_ROLE,
                thread_id=inbound.chat.thread_id,
            )
        )

    async def _link_from_text(self, uow: UnitOfWork, inbound: Inbound) -> CardLink | None:
        """A reply to a card or a reason prompt whose link is not stored yet (or was lost).

        The link is recorded once the send is confirmed; an officer can answer
        faster than that, so fall back to the ticket the message names, but only
        when the message is a card or a prompt. Replies to reminders, digests,
        queues, alerts and confirmations are ignored: they reach nobody.
        """
        text = inbound.reply_to_bot_text or ""
        if inbound.reply_to_message_id is None:
            return None
        role: str | None = None
        match = next((m for _, p in self.ask_prompts if (m := p.fullmatch(text))), None)
        if match is not None:
            role = ASK_ROLE
        else:
            match = next((m for p in self.card_headers if (m := p.match(text))), None)
        if match is None:
            return None
        complaint = await uow.complaints.by_ticket(match.group("ticket"))
        if complaint is None or complaint.id is None:
            return None
        if role is None:
            agency = await self._chat_agency(uow, inbound.chat)
            role = f"agency:{agency}" if agency else DESK_ROLE
        return CardLink(
            chat_id=inbound.chat.chat_id,
            message_id=inbound.reply_to_message_id,
            complaint_id=complaint.id,
            role=role,
            thread_id=inbound.chat.thread_id,
        )

    async def _say(self, uow: UnitOfWork, inbound: Inbound, text: str, index: int = 0) -> None:
        extra: dict[str, object] = {}
        if inbound.message_id is not None and inbound.kind is not InboundKind.CHOICE:
            extra["reply_to"] = inbound.message_id
        key = f"desk:{inbound.update_key}:{index}"
        await queue(uow, inbound.chat, Reply(text), "reply", key, extra=extra)

    # buttons -------------------------------------------------------------------

    async def _press(self, uow: UnitOfWork, inbound: Inbound) -> str | None:
        parts = (inbound.choice or "").split(":")
        if len(parts) < 4 or parts[0] != "op" or not parts[2].isdigit():
            return None
        verb, complaint_id, version = parts[1], int(parts[2]), parts[3]
        arg = parts[4] if len(parts) > 4 else None
        complaint = await uow.complaints.get(complaint_id)
        if complaint is None:
            return self.t("officer.not_found", ticket="#" + parts[2])
        officer = await self.officer(inbound)
        try:
            self.actions.role(officer, complaint)
            assert officer is not None
            if verb == "cancel":
                return await self._cancel(uow, inbound, complaint, officer, arg)
            if version != str(complaint.version):
                return await self.actions.stale(uow, complaint)
            await self._remember_card(uow, inbound, complaint)
            if verb in ("dispatch", "back"):
                if verb == "dispatch":
                    self.actions.check(officer, complaint, Action.DISPATCH)
                await self._show(uow, inbound, complaint, picker=verb == "dispatch")
                return self.t("officer.pick_agency") if verb == "dispatch" else None
            if verb == "to":
                agencies = self.ctx.config.agencies
                if arg is None or not arg.isdigit() or int(arg) >= len(agencies):
                    return None
                chosen = agencies[int(arg)]
                await self.actions.move(
                    uow, officer, complaint, Action.DISPATCH, agency=chosen.code
                )
                return self.t("officer.dispatched", agency=chosen.short)
            try:
                action = Action(verb)
            except ValueError:
                return None
            if action in NEEDS_TEXT:
                self.actions.check(officer, complaint, action)
                await self._ask_reason(uow, inbound, complaint, action, officer)
                return self.t("officer.reason_asked")
            await self.actions.move(uow, officer, complaint, action)
            return self.actions.done_notice(complaint)
        except Refused as refusal:
            self._refused(inbound, refusal.why, complaint)
            return refusal.text

    async def _show(
        self, uow: UnitOfWork, inbound: Inbound, complaint: Complaint, picker: bool
    ) -> None:
        """Edit the pressed card: the agency picker, or back to the card."""
        assert inbound.message_id is not None
        link = await uow.cards.find(inbound.chat.chat_id, inbound.message_id)
        card = await card_for(self.ctx, uow, complaint, link.role if link else DESK_ROLE)
        if picker:
            rows: list[tuple[Choice, ...]] = []
            prefix = f"op:to:{complaint.id}:{complaint.version}"
            agencies = self.ctx.config.agencies
            order = sorted(range(len(agencies)), key=lambda i: agencies[i].code != complaint.agency)
            for index in order:
                agency = agencies[index]
                label = agency.short
                if agency.code == complaint.agency:
                    label = self.t("officer.default_agency", agency=agency.short)
                rows.append((Choice(f"{prefix}:{index}", label[:64]),))
            back = f"op:back:{complaint.id}:{complaint.version}"
            rows.append((Choice(back, self.t("officer.button.back")),))
            card = Reply(f"{card.text}\n\n{self.t('officer.pick_agency')}", choices=tuple(rows))
        await queue(
            uow,
            inbound.chat,
            card,
            "edit",
            f"show:{inbound.update_key}",
            complaint.id,
            extra={"message_id": inbound.message_id},
        )

    async def _ask_reason(
        self,
        uow: UnitOfWork,
        inbound: Inbound,
        complaint: Complaint,
        action: Action,
        officer: Officer,
    ) -> None:
        assert complaint.id is not None
        request = await uow.requests.add(
            OfficerRequest(
                complaint_id=complaint.id,
                chat_id=inbound.chat.chat_id,
                action=action.value,
                version=complaint.version,
                actor_id=officer.user_id,
                actor_name=officer.name,
                created_at=self.ctx.clock.now(),
            )
        )
        text = self.t(f"officer.ask.{action.value}", ticket=complaint.ticket, name=officer.name)
        cancel = Choice(
            f"op:cancel:{complaint.id}:{complaint.version}:{request.id}",
            self.t("officer.button.cancel"),
        )
        await queue(
            uow,
            inbound.chat,
            Reply(text, choices=((cancel,),)),
            "card",
            f"ask:{inbound.update_key}",
            complaint.id,
            ASK_ROLE,
            extra={"reply_to": inbound.message_id},
        )

    async def _cancel(
        self,
        uow: UnitOfWork,
        inbound: Inbound,
        complaint: Complaint,
        officer: Officer,
        request_id: str | None,
    ) -> str:
        """The prompt's cancel button: the request ends, the prompt says so, nothing moves."""
        assert complaint.id is not None
        if request_id is not None and request_id.isdigit():
            await uow.requests.discard(complaint.id, int(request_id))
        if inbound.message_id is not None:
            text = self.t("officer.ask_cancelled", ticket=complaint.ticket, name=officer.name)
            await queue(
                uow,
                inbound.chat,
                Reply(text),
                "edit",
                f"cancel:{inbound.update_key}",
                complaint.id,
                extra={"message_id": inbound.message_id},
            )
        return self.t("officer.cancelled")

    def _prompted_action(self, text: str) -> Action | None:
        return next((a for a, p in self.ask_prompts if p.fullmatch(text)), None)

    def _live(self, request: OfficerRequest, complaint: Complaint) -> bool:
        """A request holds until the complaint changes, for at most ``REQUEST_TTL``."""
        fresh = self.ctx.clock.now() - request.created_at <= REQUEST_TTL
        return fresh and request.version == complaint.version

    # replies to cards ------------------------------------------------------------

    async def _reply_to_card(self, uow: UnitOfWork, inbound: Inbound, link: CardLink) -> None:
        complaint = await uow.complaints.get(link.complaint_id)
        if complaint is None:
            return
        officer = await self.officer(inbound)
        role = officer.role_for(complaint) if officer else None
        if officer is None or role is None:
            self._refused(inbound, "reply to a card by a non-officer or another agency", complaint)
            return
        assert complaint.id is not None
        if link.role == ASK_ROLE:
            # Only a reply to the prompt gives the reason; the presser's own request first.
            requests = await uow.requests.for_complaint(complaint.id, inbound.chat.chat_id)
            live = [r for r in requests if self._live(r, complaint)]
            for request in requests:
                if request not in live and request.id is not None:
                    await uow.requests.discard(complaint.id, request.id)
            if inbound.reply_to_bot_text is not None:
                # The prompt names what it asks for; a cancelled prompt asks for nothing.
                asked = self._prompted_action(inbound.reply_to_bot_text)
                live = [r for r in live if asked is not None and r.action == asked.value]
            mine = [r for r in live if r.actor_id == officer.user_id]
            pending = (mine or live)[0] if live else None
            await self._give_reason(uow, inbound, complaint, officer, role, pending)
            return
        if card_agency(link) not in (None, complaint.agency) and not officer.desk:
            self._refused(inbound, "reply to another agency's card", complaint)
            return
        await self._answer(uow, inbound, complaint, officer)

    async def _give_reason(
        self,
        uow: UnitOfWork,
        inbound: Inbound,
        complaint: Complaint,
        officer: Officer,
        role: Role,
        pending: OfficerRequest | None,
    ) -> None:
        if pending is None:
            await self._say(uow, inbound, self.t("officer.request_expired"))
            return
        text = (inbound.text or "").strip()
        if not text:
            await self._say(uow, inbound, self.t("officer.reason_empty"))
            return
        action = Action(pending.action)
        photos: list[Attachment] = []
        try:
            self.actions.check(officer, complaint, action)
            if inbound.kind is InboundKind.PHOTO and inbound.media:
                # A photo with the text as its caption: the "after" photo of a resolution.
                kept = await self._keep_officer_photo(uow, inbound, complaint)
                if kept is None:
                    return
                photos.append(kept)
            await self.actions.move(
                uow, officer, complaint, action, message=text, attachments=photos
            )
        except Refused as refusal:
            self._refused(inbound, refusal.why, complaint)
            await self._say(uow, inbound, refusal.text)
            return
        await self._say(
            uow,
            inbound,
            self.t(
                "officer.done_reply",
                ticket=complaint.ticket,
                status=self.actions.status_label(complaint.status),
            ),
        )

    async def _keep_officer_photo(
        self, uow: UnitOfWork, inbound: Inbound, complaint: Complaint
    ) -> Attachment | None:
        """The officer's photo, kept as evidence; None (and the officer told) if it failed."""
        try:
            return await keep_photo(self.ctx, uow, inbound, "officer", complaint.id)
        except FileTooLarge:
            await self._say(uow, inbound, self.t("officer.photo_too_large"))
        except Exception:
            log.warning("officer photo download failed", exc_info=True)
            await self._say(uow, inbound, self.t("officer.photo_failed"))
        return None

    async def _answer(
        self, uow: UnitOfWork, inbound: Inbound, complaint: Complaint, officer: Officer
    ) -> None:
        """An officer's reply to a card: the official answer, relayed to the citizen."""
        assert complaint.id is not None
        text = (inbound.text or "").strip()
        stored: list[Attachment] = []
        if inbound.kind is InboundKind.PHOTO and inbound.media:
            kept = await self._keep_officer_photo(uow, inbound, complaint)
            if kept is None:
                return
            stored.append(kept)
        if not text and not stored:
            return
        await self.actions.answer(uow, officer, complaint, text, stored)
        await self._say(uow, inbound, self.t("officer.answer_sent", ticket=complaint.ticket))

    # commands ------------------------------------------------------------------------

    async def _command(self, uow: UnitOfWork, inbound: Inbound) -> None:
        command = inbound.command or ""
        if command not in ("aduan", "antrian", "catatan", "laporan"):
            return
        officer = await self.officer(inbound)
        if officer is None:
            self._refused(inbound, f"/{command} by a non-officer")
            return
        if command == "aduan":
            await self._show_complaint(uow, inbound, officer)
        elif command == "antrian":
            await self._queue(uow, inbound, officer)
        elif command == "laporan":
            agency = await self._chat_agency(uow, inbound.chat)
            answer = await report_command(
                self.ctx, uow, inbound, officer.desk, officer.agencies, agency
            )
            if answer:
                await self._say(uow, inbound, answer)
        else:
            await self._note(uow, inbound, officer)

    async def _note(self, uow: UnitOfWork, inbound: Inbound, officer: Officer) -> None:
        link = None
        if inbound.reply_to_message_id is not None:
            link = await uow.cards.find(inbound.chat.chat_id, inbound.reply_to_message_id)
        text = inbound.args.strip()
        if link is None or not text:
            await self._say(uow, inbound, self.t("officer.note_usage"))
            return
        complaint = await uow.complaints.get(link.complaint_id)
        if complaint is None or complaint.id is None:
            return
        try:
            await self.actions.note(uow, officer, complaint, text)
        except Refused as refusal:
            self._refused(inbound, f"note: {refusal.why}", complaint)
            await self._say(uow, inbound, refusal.text)
            return
        await self._say(uow, inbound, self.t("officer.note_saved", ticket=complaint.ticket))

    async def _show_complaint(self, uow: UnitOfWork, inbound: Inbound, officer: Officer) -> None:
        ticket = self.tickets.find(inbound.args) or inbound.args.strip().split(" ")[0]
        if not ticket:
            await self._say(uow, inbound, self.t("officer.aduan_usage"))
            return
        complaint = await uow.complaints.by_ticket(ticket)
        if complaint is None or complaint.id is None:
            await self._say(uow, inbound, self.t("officer.not_found", ticket=ticket.upper()))
            return
        try:
            report = await self.actions.report(uow, officer, complaint)
        except Refused as refusal:
            self._refused(inbound, f"/aduan: {refusal.why}", complaint)
            await self._say(uow, inbound, refusal.text)
            return
        # The whole description is here, so this can be longer than one message.
        for index, piece in enumerate(split_message(report)):
            await self._say(uow, inbound, piece, index)

    async def _queue(self, uow: UnitOfWork, inbound: Inbound, officer: Officer) -> None:
        agency = await self._chat_agency(uow, inbound.chat)
        try:
            view = await self.actions.queue(uow, officer, agency)
        except Refused as refusal:
            self._refused(inbound, f"/antrian: {refusal.why}")
            return
        await self._say(uow, inbound, self.actions.queue_text(view))

    async def _chat_agency(self, uow: UnitOfWork, chat: ChatAddress) -> str | None:
        """The agency whose chat (or topic) this is, if any."""
        for agency in self.ctx.config.agencies:
            same_chat = agency.chat_id is not None and str(agency.chat_id) == chat.chat_id
            if same_chat and agency.thread_id in (None, chat.thread_id):
                return agency.code
        if chat.thread_id is not None:
            topic = await uow.topics.by_thread(chat.chat_id, chat.thread_id)
            if topic is not None:
                return topic.agency
        return None
