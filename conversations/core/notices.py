"""What the citizen reads about a filed complaint: the status in plain words, what
happens next and by when, the push after every move, the survey and ``/status``.

Every push ends with the next step; every date is a readable one ("Senin, 7
Desember 2026") computed from the category's deadlines, never a number in a text.
"""

from __future__ import annotations

from datetime import UTC, datetime

from conversations.core.context import CoreContext
from conversations.core.domain import Complaint, Event
from conversations.core.lifecycle import NEEDS_TEXT, OPEN_STATUSES, Action, Status
from conversations.core.messages import NO, YES, Choice, Reply

ADD = "add"
WITHDRAW = "withdraw"
REVIEW = "review"
SHOW = "status"
# Events a citizen sees in the history of /status besides the status changes.
SHOWN_EVENTS = frozenset({"submit", "followup", "answer"})
HISTORY_SHOWN = 12
MESSAGE_SHOWN = 1000


def agency_short(ctx: CoreContext, code: str | None) -> str:
    agency = ctx.config.agency(code)
    return agency.short if agency else (code or "-")


def agency_full(ctx: CoreContext, code: str | None) -> str:
    agency = ctx.config.agency(code)
    return agency.name if agency else (code or "-")


def category_label(ctx: CoreContext, complaint: Complaint, lang: str) -> str:
    category = ctx.config.category(complaint.category)
    return category.label(lang) if category else complaint.category


def status_words(ctx: CoreContext, status: Status, lang: str) -> str:
    """The status as a citizen says it (officers keep ``status_label``)."""
    return ctx.t(lang, f"citizen_status.{status.value}")


def _due(ctx: CoreContext, lang: str, key: str, due: datetime | None, **values: object) -> str:
    """A next step with its date; a date already past is said to be past."""
    if due is None:
        return ctx.t(lang, f"{key}_undated", **values)
    if due < ctx.clock.now():
        return ctx.t(lang, f"{key}_late", due=ctx.format_date(due, lang), **values)
    return ctx.t(lang, key, due=ctx.format_date(due, lang), **values)


def next_step(ctx: CoreContext, complaint: Complaint, lang: str, reviewed: bool = False) -> str:
    """What happens next and by when, for a complaint in its current status."""
    status = complaint.status
    agency = agency_short(ctx, complaint.agency)
    if status is Status.BARU:
        return _due(ctx, lang, "next.verify", complaint.verify_due)
    if status is Status.TERVERIFIKASI:
        return _due(ctx, lang, "next.verified", complaint.verify_due)
    if status is Status.DIDISPOSISIKAN:
        return _due(ctx, lang, "next.dispatched", complaint.followup_due, agency=agency)
    if status is Status.DITINDAKLANJUTI:
        return _due(ctx, lang, "next.working", complaint.settle_due, agency=agency)
    if status is Status.SELESAI:
        return _due(ctx, lang, "next.resolved", complaint.autoclose_due)
    if status is Status.DITOLAK:
        return ctx.t(lang, "next.rejected_reviewed" if reviewed else "next.rejected")
    return ctx.t(lang, f"next.{status.value}")


def complaint_choices(
    ctx: CoreContext, complaint: Complaint, lang: str, reviewed: bool = False, detail: bool = False
) -> tuple[tuple[Choice, ...], ...]:
    """What the citizen may do with the complaint now: add information while it is open
    (and, on /status, withdraw it), ask once for a review of a rejection."""
    cid = complaint.id
    if complaint.status is Status.TERTUNDA and not detail:
        # The push asks a question: its answer is typed, and "1" must stay an answer.
        return ()
    if complaint.status in OPEN_STATUSES:
        row = [Choice(f"{ADD}:{cid}", ctx.t(lang, "mine.add"))]
        if detail:
            row.append(Choice(f"{WITHDRAW}:{cid}", ctx.t(lang, "mine.withdraw")))
        return (tuple(row),)
    if complaint.status is Status.DITOLAK and not reviewed:
        return ((Choice(f"{REVIEW}:{cid}", ctx.t(lang, "mine.review")),),)
    return ()


def push_text(ctx: CoreContext, complaint: Complaint, event: Event, lang: str) -> str:
    """The message after a move: what happened, the officer's words, what happens next."""
    agency = agency_short(ctx, complaint.agency)
    message = (event.public_message or "")[:MESSAGE_SHOWN]
    key = f"notify.what.{event.action}"
    if not ctx.catalog.has(key, lang):
        key = "notify.what.other"
    text = ctx.t(
        lang,
        "notify.header",
        ticket=complaint.ticket,
        category=category_label(ctx, complaint, lang),
    )
    what = ctx.t(
        lang,
        key,
        agency=agency,
        message=message,
        city=ctx.config.city_name,
        status=status_words(ctx, complaint.status, lang),
    )
    text += "\n" + what
    if message and event.action not in NEEDS_TEXT and "{message}" not in ctx.catalog.t(lang, key):
        text += ctx.t(lang, "notify.officer_message", message=message)
    return text + ctx.t(lang, "notify.next_line", next=next_step(ctx, complaint, lang))


def survey_key(complaint: Complaint) -> str:
    """One survey per resolution, whoever queues it (the resolution or the scan)."""
    assert complaint.resolved_at is not None
    return f"survey:{complaint.id}:{complaint.resolved_at.astimezone(UTC).isoformat()}"


def survey_reply(ctx: CoreContext, complaint: Complaint, lang: str) -> Reply:
    """The rating comes first: typing "4" (or pressing the fourth button) gives 4 stars."""
    cid = complaint.id
    rows = (
        tuple(
            Choice(f"survey:rate:{cid}:{n}", ctx.t(lang, "survey.star", n=n)) for n in range(1, 6)
        ),
        (
            Choice(f"survey:fixed:{cid}", ctx.t(lang, "survey.fixed"), YES),
            Choice(f"survey:notfixed:{cid}", ctx.t(lang, "survey.not_fixed"), NO),
        ),
    )
    return Reply(ctx.t(lang, "survey.ask", ticket=complaint.ticket), choices=rows)


def reviewed(history: list[Event]) -> bool:
    """A rejection may be reviewed once, at the citizen's request."""
    return any(e.action == Action.REVIEW.value for e in history)


def officer_words(history: list[Event]) -> list[Event]:
    """The officers' words that still matter: said with the latest status change (a
    question, a reason, what was done) and the latest answer since then, oldest first."""
    last_move = max((i for i, e in enumerate(history) if e.to_status), default=None)
    if last_move is None:
        return []
    move = history[last_move]
    said = [move] if move.public_message and move.actor_role != "citizen" else []
    answers = [e for e in history[last_move + 1 :] if e.action == "answer" and e.public_message]
    return said + answers[-1:]


def history_line(ctx: CoreContext, complaint: Complaint, event: Event, lang: str) -> str | None:
    if not event.to_status and event.action not in SHOWN_EVENTS:
        return None
    key = f"history.{event.action}"
    if not ctx.catalog.has(key, lang):
        if not event.to_status:
            return None
        what = status_words(ctx, Status(event.to_status), lang)
    else:
        what = ctx.t(lang, key)
    return ctx.t(lang, "history.line", date=ctx.format_date(event.at, lang), what=what)


def status_text(
    ctx: CoreContext,
    complaint: Complaint,
    history: list[Event],
    lang: str,
    awaiting_comment: bool = False,
) -> str:
    """``/status``: the complaint, its history with dates, the officers' words while they
    matter, and the next step (``awaiting_comment``: the citizen said "not fixed" and
    has yet to say what is wrong)."""
    text = ctx.t(
        lang,
        "status.detail",
        ticket=complaint.ticket,
        status=status_words(ctx, complaint.status, lang),
        category=category_label(ctx, complaint, lang),
        created=ctx.format_date(complaint.created_at, lang),
        description=complaint.description[:MESSAGE_SHOWN],
    )
    if complaint.dispatched_at is not None:
        text += ctx.t(lang, "status.agency", agency=agency_full(ctx, complaint.agency))
    lines = [
        line for event in history if (line := history_line(ctx, complaint, event, lang)) is not None
    ]
    if lines:
        text += ctx.t(lang, "status.history", lines="\n".join(lines[-HISTORY_SHOWN:]))
    for words in officer_words(history):
        done = words.action == Action.RESOLVE.value
        key = "status.what_was_done" if done else "status.officer_said"
        text += ctx.t(
            lang,
            key,
            date=ctx.format_date(words.at, lang),
            message=(words.public_message or "")[:MESSAGE_SHOWN],
        )
    if awaiting_comment:
        step = ctx.t(lang, "next.resolved_comment", ticket=complaint.ticket)
    else:
        step = next_step(ctx, complaint, lang, reviewed(history))
    return text + ctx.t(lang, "notify.next_line", next=step)
