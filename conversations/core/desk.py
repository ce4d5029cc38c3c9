"""The officers' actions, whatever front end an officer uses (a Telegram group, the web desk).

Who may do what, the move with its reason or answer, internal notes, the queue,
the complaint's report and history, and what a refusal says. Front ends find out
who the officer is (a Telegram id in the city file, a web account), load the
complaint, call these, and show the result; none of them decides anything here.
Every call runs in the caller's unit of work; the caller commits and wakes the
outbox. A refusal raises ``Refused`` with the text to show, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from conversations.core.cards import CARD_ACTIONS
from conversations.core.context import CoreContext
from conversations.core.domain import Attachment, Complaint, Event
from conversations.core.handling import (
    DESK_ROLE,
    Actor,
    Conflict,
    actor_label,
    agency_may_act,
    card_for,
    done_label,
    explain,
    push_to_citizen,
    transition,
)
from conversations.core.lifecycle import (
    NEEDS_TEXT,
    OPEN_STATUSES,
    Action,
    IllegalTransition,
    Role,
    Status,
    actions_from,
    plan,
)
from conversations.core.notices import agency_short, complaint_choices
from conversations.core.ports import UnitOfWork
from conversations.core.survey import RATED_EVENT

DESK_QUEUE = (Status.BARU, Status.TERVERIFIKASI)
AGENCY_QUEUE = (Status.DIDISPOSISIKAN, Status.DITINDAKLANJUTI)
QUEUE_LIMIT = 30
HISTORY_LIMIT = 40
NOTE_EVENT = "note"
ANSWER_EVENT = "answer"


@dataclass(frozen=True)
class Officer:
    """Someone allowed to act: the desk on every complaint, an agency's officers on the
    complaints of their agency. ``user_id`` is what the history records."""

    user_id: str
    name: str
    desk: bool
    agencies: frozenset[str]

    def role_for(self, complaint: Complaint) -> Role | None:
        if self.desk:
            return Role.DESK
        if complaint.agency in self.agencies:
            return Role.AGENCY
        return None

    def may_see(self, complaint: Complaint) -> bool:
        """An agency sees a complaint once it was dispatched to it, never before: the
        category's agency is only a suggestion until the desk verifies and dispatches."""
        if self.desk:
            return True
        return complaint.agency in self.agencies and complaint.dispatched_at is not None

    def actor(self, role: Role) -> Actor:
        return Actor(role, self.user_id, self.name)

    def sees_agency(self, code: str) -> bool:
        return self.desk or code in self.agencies


class Refused(Exception):
    """Nothing changed; ``text`` says why, in the officers' language."""

    def __init__(self, text: str, why: str):
        super().__init__(why)
        self.text = text
        self.why = why


@dataclass(frozen=True)
class QueueView:
    header: str
    complaints: list[Complaint]


class OfficerActions:
    def __init__(self, ctx: CoreContext):
        self.ctx = ctx

    def t(self, key: str, **values: object) -> str:
        return self.ctx.t(self.ctx.catalog.default, key, **values)

    def status_label(self, status: Status | str) -> str:
        return self.t(f"status_label.{Status(status).value}")

    def refuse(self, why: str, key: str) -> Refused:
        """A refusal for the front end to show (and log, with where it came from)."""
        return Refused(self.t(key), why)

    # who may do what -------------------------------------------------------------

    def role(self, officer: Officer | None, complaint: Complaint) -> Role:
        """The officer's role on this complaint, or ``Refused``."""
        if officer is None:
            raise self.refuse("not an officer", "officer.not_officer")
        role = officer.role_for(complaint)
        if role is None:
            raise self.refuse("another agency's complaint", "officer.other_agency")
        return role

    def allowed(self, officer: Officer, complaint: Complaint) -> list[Action]:
        """The moves the officer may make now, as their card offers them."""
        role = officer.role_for(complaint)
        if role is None:
            return []
        if role is Role.AGENCY and not agency_may_act(complaint):
            return []
        possible = set(actions_from(complaint.status, role))
        return [action for action in CARD_ACTIONS if action in possible]

    def check(self, officer: Officer, complaint: Complaint, action: Action) -> Role:
        """Whether the move is allowed now (before asking for its text); ``Refused`` if not."""
        role = self.role(officer, complaint)
        try:
            plan(complaint.status, action, role, complaint.resume_status)
        except IllegalTransition as error:
            raise self._illegal(error) from None
        return role

    def _illegal(self, error: IllegalTransition) -> Refused:
        return Refused(explain(self.ctx, error), f"illegal: {error}")

    async def stale(self, uow: UnitOfWork, complaint: Complaint) -> str:
        """Someone else acted first: who, and the status now."""
        assert complaint.id is not None
        history = await uow.events.for_complaint(complaint.id)
        lang = self.ctx.catalog.default
        last = history[-1] if history else None
        who = actor_label(self.ctx, last.actor_role, last.actor_name, lang) if last else "-"
        return self.t("officer.conflict", who=who, status=self.status_label(complaint.status))

    # moves -----------------------------------------------------------------------

    async def move(
        self,
        uow: UnitOfWork,
        officer: Officer | None,
        complaint: Complaint,
        action: Action,
        *,
        version: int | None = None,
        message: str | None = None,
        agency: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Complaint:
        """Make the move for the officer, or raise ``Refused`` with nothing changed.

        ``version`` is the one the officer saw (a card's button, a web form): a newer
        complaint means someone else acted first. ``message`` is what the citizen reads
        (needed for a rejection, a question, a resolution).
        """
        role = self.role(officer, complaint)
        assert officer is not None
        if version is not None and version != complaint.version:
            raise Refused(await self.stale(uow, complaint), "stale")
        try:
            return await transition(
                self.ctx,
                uow,
                complaint,
                action,
                officer.actor(role),
                message=message,
                agency=agency,
                attachments=list(attachments),
            )
        except IllegalTransition as error:
            raise self._illegal(error) from None
        except Conflict as error:
            raise Refused(await self.stale(uow, error.complaint), "conflict") from None

    def done_notice(self, complaint: Complaint) -> str:
        return self.t("officer.done_notice", status=self.status_label(complaint.status))

    @staticmethod
    def needs_text(action: Action) -> bool:
        return action in NEEDS_TEXT

    async def answer(
        self,
        uow: UnitOfWork,
        officer: Officer | None,
        complaint: Complaint,
        text: str,
        attachments: Sequence[Attachment] = (),
    ) -> Event:
        """The officers' answer, relayed to the citizen in their chat and recorded."""
        role = self.role(officer, complaint)
        assert officer is not None and complaint.id is not None
        text = text.strip()
        stored = list(attachments)
        event = await uow.events.add(
            Event(
                complaint_id=complaint.id,
                at=self.ctx.clock.now(),
                action=ANSWER_EVENT,
                actor_role=role.value,
                actor_id=officer.user_id,
                actor_name=officer.name,
                public_message=text or None,
                attachment_ids=[a.id for a in stored if a.id is not None],
            )
        )
        citizen = await uow.citizens.get(complaint.citizen_id)
        lang = citizen.language if citizen else complaint.language
        message = self.ctx.t(
            lang,
            "notify.answer",
            ticket=complaint.ticket,
            sender=self.sender(complaint, role, lang),
            message=text or self.ctx.t(lang, "notify.photo_only"),
        )
        await push_to_citizen(
            self.ctx,
            uow,
            complaint,
            message,
            f"push:{event.id}",
            stored,
            complaint_choices(self.ctx, complaint, lang),
            status_change=False,
        )
        return event

    def sender(self, complaint: Complaint, role: Role, lang: str) -> str:
        """Who answered, as the citizen reads it: the desk, or the agency."""
        if role is Role.AGENCY:
            return agency_short(self.ctx, complaint.agency)
        return self.ctx.t(lang, "notify.desk_name", city=self.ctx.config.city_name)

    async def note(
        self, uow: UnitOfWork, officer: Officer | None, complaint: Complaint, text: str
    ) -> Event:
        """An internal note: in the history for officers, never shown to the citizen."""
        role = self.role(officer, complaint)
        assert officer is not None and complaint.id is not None
        return await uow.events.add(
            Event(
                complaint_id=complaint.id,
                at=self.ctx.clock.now(),
                action=NOTE_EVENT,
                actor_role=role.value,
                actor_id=officer.user_id,
                actor_name=officer.name,
                note=text.strip(),
            )
        )

    # what officers read ------------------------------------------------------------

    async def queue(self, uow: UnitOfWork, officer: Officer, agency: str | None) -> QueueView:
        """Complaints waiting: the desk's (new, verified) or an agency's (dispatched,
        in progress), oldest first. An agency officer sees only their own agency's."""
        if agency is None and not officer.desk and len(officer.agencies) == 1:
            agency = next(iter(officer.agencies))
        if agency is not None:
            if not officer.sees_agency(agency):
                raise self.refuse("queue of another agency", "officer.other_agency")
            items = await uow.complaints.queue(AGENCY_QUEUE, agency, QUEUE_LIMIT)
            found = self.ctx.config.agency(agency)
            header = self.t("officer.queue_agency", agency=found.name if found else agency)
        else:
            items = await uow.complaints.queue(DESK_QUEUE, None, QUEUE_LIMIT)
            header = self.t("officer.queue_desk")
        return QueueView(header, items)

    def queue_text(self, view: QueueView) -> str:
        if not view.complaints:
            return self.t("officer.queue_empty", header=view.header)
        lines = [view.header]
        for complaint in view.complaints:
            category = self.ctx.config.category(complaint.category)
            lines.append(
                self.t(
                    "officer.queue_line",
                    ticket=complaint.ticket,
                    status=self.status_label(complaint.status),
                    date=self.ctx.format_date(complaint.created_at),
                    category=category.label(self.ctx.catalog.default)
                    if category
                    else complaint.category,
                )
            )
        return "\n".join(lines)

    async def search(
        self,
        uow: UnitOfWork,
        officer: Officer,
        *,
        statuses: Sequence[Status] | None = None,
        agency: str | None = None,
        overdue: bool = False,
        ticket: str | None = None,
        limit: int = 100,
    ) -> list[Complaint]:
        """The web desk's list: filtered by status, agency, overdue and ticket; an agency
        officer never sees another agency's complaints."""
        agencies: list[str] | None = None
        if agency is not None:
            if not officer.sees_agency(agency):
                raise self.refuse("list of another agency", "officer.other_agency")
            agencies = [agency]
        elif not officer.desk:
            agencies = sorted(officer.agencies)
        overdue_at: datetime | None = self.ctx.clock.now() if overdue else None
        return await uow.complaints.search(
            statuses=statuses,
            agencies=agencies,
            overdue_at=overdue_at,
            ticket=ticket,
            limit=limit,
            dispatched_only=not officer.desk,
        )

    def overdue(self, complaint: Complaint) -> bool:
        now = self.ctx.clock.now()
        if complaint.status in DESK_QUEUE and complaint.verify_due is not None:
            return complaint.verify_due < now
        if complaint.status is Status.DIDISPOSISIKAN and complaint.followup_due is not None:
            return complaint.followup_due < now
        if complaint.status in OPEN_STATUSES and complaint.settle_due is not None:
            return complaint.settle_due < now
        return False

    async def report(self, uow: UnitOfWork, officer: Officer, complaint: Complaint) -> str:
        """The card with the whole description and the history (``/aduan``)."""
        self.role(officer, complaint)
        assert complaint.id is not None
        card = await card_for(self.ctx, uow, complaint, DESK_ROLE, full=True)
        lines = [card.text, "", self.t("officer.history_header")]
        history = await uow.events.for_complaint(complaint.id)
        for event in history[-HISTORY_LIMIT:]:
            lines.append(self.history_line(event))
        return "\n".join(lines)

    def history_line(self, event: Event) -> str:
        lang = self.ctx.catalog.default
        move = ""
        if event.to_status and event.from_status:
            move = f" ({self.status_label(event.from_status)} → "
            move += f"{self.status_label(event.to_status)})"
        line = self.t(
            "officer.history_line",
            when=self.ctx.format_datetime(event.at),
            action=done_label(self.ctx, event.action, lang),
            move=move,
            actor=actor_label(self.ctx, event.actor_role, event.actor_name, lang),
        )
        if event.public_message:
            line += "\n" + self.t("officer.history_public", message=event.public_message)
        if event.action == RATED_EVENT and event.note:
            line += "\n" + self.t("officer.history_rating", stars=event.note)
        elif event.note:
            line += "\n" + self.t("officer.history_note", note=event.note)
        if event.attachment_ids:
            line += "\n" + self.t("officer.history_photos", count=len(event.attachment_ids))
        return line
