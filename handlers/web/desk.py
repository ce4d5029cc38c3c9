"""The officers' web desk at ``/petugas``: a front end over ``conversations.core.desk``.

Officers sign in with an account made by ``aduan officer add``; the session is a
random token in an HttpOnly, SameSite=Strict cookie (only its hash is stored), and
every form carries the session's CSRF token. Failed sign-ins slow the next ones
down. What an officer may see and do is decided by the core, as in the chat groups.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from conversations.core.cards import reporter_line
from conversations.core.context import CoreContext
from conversations.core.desk import Officer, OfficerActions, Refused
from conversations.core.domain import Complaint, OfficerAccount, OfficerSession
from conversations.core.lifecycle import OPEN_STATUSES, Action, Status
from conversations.core.ports import WebStore
from conversations.core.tickets import TicketReader
from handlers.web.pages import Pages, page_language
from handlers.web.security import LoginThrottle, Signer, check_image, check_password, new_token
from handlers.web.security import token_hash as hash_of

log = logging.getLogger(__name__)

SESSION_COOKIE = "aduan_petugas"
LOGIN_COOKIE = "aduan_petugas_form"
FLASH_COOKIE = "aduan_petugas_pesan"
SESSION_HOURS = 12
PREFIX = "/petugas"
TEXT_LIMIT = 4000
FEED_SHOWN = 50


@dataclass(frozen=True)
class SignedIn:
    account: OfficerAccount
    session: OfficerSession
    officer: Officer


def officer_of(account: OfficerAccount) -> Officer:
    agencies = frozenset({account.agency}) if account.agency else frozenset()
    return Officer(f"web:{account.username}", account.display_name, account.desk, agencies)


class WebDesk:
    def __init__(
        self,
        ctx: CoreContext,
        store: WebStore,
        signer: Signer,
        pages: Pages,
        secure_cookies: bool = False,
        throttle: LoginThrottle | None = None,
    ):
        self.ctx = ctx
        self.store = store
        self.signer = signer
        self.pages = pages
        self.secure = secure_cookies
        self.actions = OfficerActions(ctx)
        self.tickets = TicketReader(ctx.config.ticket_prefix)
        self.throttle = throttle or LoginThrottle()

    # sessions ------------------------------------------------------------------------

    async def signed_in(self, request: Request) -> SignedIn | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        session = await self.store.session(hash_of(token), self.ctx.clock.now())
        if session is None:
            return None
        account = await self.store.account_by_id(session.account_id)
        if account is None or not account.active:
            return None
        return SignedIn(account, session, officer_of(account))

    def _cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PREFIX,
            httponly=True,
            secure=self.secure,
            samesite="strict",
        )

    def _flash(self, response: Response, text: str) -> None:
        self._cookie(response, FLASH_COOKIE, self.signer.sign_timed("flash", text), 60)

    def _take_flash(self, request: Request) -> str | None:
        return self.signer.unsign_timed("flash", request.cookies.get(FLASH_COOKIE), 60)

    def _render(
        self, request: Request, name: str, status_code: int = 200, **values: Any
    ) -> Response:
        lang = page_language(request, self.ctx.catalog)
        flash = self._take_flash(request)
        response = self.pages.render(
            request, name, lang, status_code=status_code, flash=flash, prefix=PREFIX, **values
        )
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path=PREFIX)
        return response

    async def _form(self, request: Request, signed: SignedIn) -> FormData | None:
        form = await request.form(max_files=0, max_fields=10, max_part_size=64 * 1024)
        if not secrets.compare_digest(str(form.get("csrf") or ""), signed.session.csrf):
            return None
        return form

    # signing in ------------------------------------------------------------------------

    async def login_page(self, request: Request, error: str | None = None) -> Response:
        if error is None and await self.signed_in(request):
            return RedirectResponse(PREFIX, status_code=303)
        csrf = new_token()
        response = self._render(
            request, "desk_login.html", status_code=400 if error else 200, csrf=csrf, error=error
        )
        self._cookie(response, LOGIN_COOKIE, csrf, 3600)
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
        lang = page_language(request, self.ctx.catalog)
        given = str(form.get("csrf") or "")
        expected = request.cookies.get(LOGIN_COOKIE) or ""
        if not expected or not secrets.compare_digest(given, expected):
            return await self.login_page(request, self.ctx.t(lang, "web.desk.expired_form"))
        username = str(form.get("username") or "").strip().lower()[:64]
        password = str(form.get("password") or "")[:1024]
        address = request.client.host if request.client else "?"
        keys = (f"user:{username}", f"address:{address}")
        if self.throttle.locked(*keys):
            log.warning(
                "web desk: sign-in refused for %r from %s: too many failures", username, address
            )
            return await self.login_page(request, self.ctx.t(lang, "web.desk.too_many_logins"))
        await asyncio.sleep(self.throttle.delay(*keys))
        account = await self.store.account(username)
        # argon2 takes most of a second of CPU: not on the event loop the bot runs on.
        ok = await asyncio.to_thread(
            check_password, password, account.password_hash if account else None
        )
        if account is None or not ok or not account.active:
            self.throttle.failed(*keys)
            log.info("web desk: failed sign-in for %r from %s", username, address)
            return await self.login_page(request, self.ctx.t(lang, "web.desk.wrong_login"))
        self.throttle.succeeded(*keys)
        assert account.id is not None
        token = new_token()
        now = self.ctx.clock.now()
        await self.store.add_session(
            OfficerSession(
                token_hash=hash_of(token),
                account_id=account.id,
                csrf=new_token(),
                created_at=now,
                expires_at=now + timedelta(hours=SESSION_HOURS),
            )
        )
        log.info("web desk: %s signed in", account.username)
        response = RedirectResponse(PREFIX, status_code=303)
        self._cookie(response, SESSION_COOKIE, token, SESSION_HOURS * 3600)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    async def logout(self, request: Request) -> Response:
        signed = await self.signed_in(request)
        if signed is not None and await self._form(request, signed) is not None:
            await self.store.end_session(signed.session.token_hash)
        response = RedirectResponse(f"{PREFIX}/masuk", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    # the list --------------------------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        signed = await self.signed_in(request)
        if signed is None:
            return RedirectResponse(f"{PREFIX}/masuk", status_code=303)
        officer = signed.officer
        params = request.query_params
        status_name = params.get("status", "")
        agency = params.get("agency") or None
        ticket = (params.get("ticket") or "").strip()[:40] or None
        if ticket:
            ticket = self.tickets.find(ticket) or ticket
        overdue = params.get("overdue") == "1"
        complaints: list[Complaint] = []
        error = None
        try:
            statuses: list[Status] | None = None
            if status_name in {s.value for s in Status}:
                statuses = [Status(status_name)]
            elif status_name != "all":
                statuses = sorted(OPEN_STATUSES)
            async with self.ctx.uow() as uow:
                complaints = await self.actions.search(
                    uow, officer, statuses=statuses, agency=agency, overdue=overdue, ticket=ticket
                )
        except Refused as refusal:
            error = refusal.text
        agencies = [a for a in self.ctx.config.agencies if officer.sees_agency(a.code)]
        return self._render(
            request,
            "desk_list.html",
            signed=signed,
            complaints=[self._row(c) for c in complaints],
            statuses=list(Status),
            agencies=agencies,
            chosen={
                "status": status_name,
                "agency": agency or "",
                "ticket": ticket or "",
                "overdue": overdue,
            },
            error=error,
            role=self._role_text(request, signed),
        )

    def _row(self, complaint: Complaint) -> dict[str, Any]:
        agency = self.ctx.config.agency(complaint.agency)
        category = self.ctx.config.category(complaint.category)
        lang = self.ctx.catalog.default
        due = complaint.verify_due
        if complaint.status in (Status.DIDISPOSISIKAN, Status.DITINDAKLANJUTI):
            due = complaint.followup_due
        return {
            "ticket": complaint.ticket,
            "status": self.actions.status_label(complaint.status),
            "category": category.label(lang) if category else complaint.category,
            "agency": agency.short if agency else complaint.agency,
            "date": self.ctx.format_date(complaint.created_at),
            "due": self.ctx.format_date(due) if complaint.status in OPEN_STATUSES else "-",
            "overdue": self.actions.overdue(complaint),
            "confidential": complaint.confidential,
        }

    def _role_text(self, request: Request, signed: SignedIn) -> str:
        lang = page_language(request, self.ctx.catalog)
        if signed.account.desk:
            return self.ctx.t(lang, "web.desk.role_desk")
        agency = self.ctx.config.agency(signed.account.agency or "")
        return self.ctx.t(lang, "web.desk.role_agency", agency=agency.short if agency else "-")

    async def feed(self, request: Request) -> Response:
        signed = await self.signed_in(request)
        if signed is None:
            return RedirectResponse(f"{PREFIX}/masuk", status_code=303)
        items = []
        if signed.officer.desk:
            desk = self.ctx.desk_chat
            rows = await self.store.recent(desk.channel.value, desk.chat_id, FEED_SHOWN)
            items = [
                {
                    "at": self.ctx.format_datetime(r.sent_at or r.created_at),
                    "text": _text(r.payload),
                }
                for r in rows
                if r.kind != "edit" and _text(r.payload)
            ]
        return self._render(
            request,
            "desk_feed.html",
            signed=signed,
            items=items,
            role=self._role_text(request, signed),
        )

    # one complaint --------------------------------------------------------------------------

    async def _complaint(
        self, request: Request
    ) -> tuple[SignedIn | None, Complaint | None, Response | None]:
        signed = await self.signed_in(request)
        if signed is None:
            return None, None, RedirectResponse(f"{PREFIX}/masuk", status_code=303)
        ticket = request.path_params["ticket"]
        async with self.ctx.uow() as uow:
            complaint = await uow.complaints.by_ticket(ticket)
        lang = page_language(request, self.ctx.catalog)
        if complaint is None or not signed.officer.may_see(complaint):
            # Another agency's complaint does not exist for this officer.
            response = self._render(
                request,
                "desk_message.html",
                status_code=404,
                signed=signed,
                message=self.ctx.t(lang, "web.desk.not_found"),
                role=self._role_text(request, signed),
            )
            return signed, None, response
        return signed, complaint, None

    async def complaint(self, request: Request) -> Response:
        signed, complaint, refused = await self._complaint(request)
        if refused is not None or signed is None or complaint is None:
            assert refused is not None
            return refused
        assert complaint.id is not None
        async with self.ctx.uow() as uow:
            citizen = await uow.citizens.get(complaint.citizen_id)
            attachments = await uow.attachments.for_complaint(complaint.id)
            history = await uow.events.for_complaint(complaint.id)
        lang = self.ctx.catalog.default
        officer = signed.officer
        agency = self.ctx.config.agency(complaint.agency)
        category = self.ctx.config.category(complaint.category)
        deadlines = [
            (key, self.ctx.format_date(value))
            for key, value in (
                ("verify", complaint.verify_due),
                ("followup", complaint.followup_due),
                ("settle", complaint.settle_due),
                ("autoclose", complaint.autoclose_due),
            )
            if value is not None
        ]
        allowed = self.actions.allowed(officer, complaint)
        actions = [
            {
                "value": action.value,
                "label": self.ctx.t(lang, f"officer.button.{action.value}"),
                "needs_text": self.actions.needs_text(action),
                "dispatch": action is Action.DISPATCH,
            }
            for action in allowed
        ]
        return self._render(
            request,
            "desk_complaint.html",
            signed=signed,
            role=self._role_text(request, signed),
            complaint=complaint,
            status=self.actions.status_label(complaint.status),
            category=category.label(lang) if category else complaint.category,
            agency=agency.name if agency else complaint.agency,
            reporter=reporter_line(self.ctx, complaint, citizen, lang),
            unreachable=bool(citizen and citizen.unreachable),
            photos=[a.id for a in attachments if a.kind == "photo" and a.id is not None],
            history=[self.actions.history_line(e) for e in history],
            deadlines=deadlines,
            overdue=self.actions.overdue(complaint),
            actions=actions,
            agencies=self.ctx.config.agencies,
            map_url=_map_url(complaint),
        )

    async def act(self, request: Request) -> Response:
        signed, complaint, refused = await self._complaint(request)
        if refused is not None or signed is None or complaint is None:
            assert refused is not None
            return refused
        form = await self._form(request, signed)
        lang = page_language(request, self.ctx.catalog)
        back = RedirectResponse(f"{PREFIX}/aduan/{complaint.ticket}", status_code=303)
        if form is None:
            self._flash(back, self.ctx.t(lang, "web.desk.expired_form"))
            return back
        what = request.path_params["what"]
        text = str(form.get("text") or "")[:TEXT_LIMIT].strip()
        officer = signed.officer
        try:
            async with self.ctx.uow() as uow:
                fresh = await uow.complaints.get(complaint.id or 0)
                assert fresh is not None
                if what == "jawab":
                    if not text:
                        raise Refused(self.ctx.t(lang, "web.desk.empty_text"), "empty")
                    await self.actions.answer(uow, officer, fresh, text)
                    notice = self.ctx.t(None, "officer.answer_sent", ticket=fresh.ticket)
                elif what == "catatan":
                    if not text:
                        raise Refused(self.ctx.t(lang, "web.desk.empty_text"), "empty")
                    await self.actions.note(uow, officer, fresh, text)
                    notice = self.ctx.t(None, "officer.note_saved", ticket=fresh.ticket)
                else:
                    try:
                        action = Action(str(form.get("action") or ""))
                    except ValueError:
                        raise Refused(self.ctx.t(lang, "web.desk.expired_form"), "action") from None
                    version = str(form.get("version") or "")
                    agency = str(form.get("agency") or "") or None
                    await self.actions.move(
                        uow,
                        officer,
                        fresh,
                        action,
                        version=int(version) if version.isdigit() else -1,
                        message=text or None,
                        agency=agency if action is Action.DISPATCH else None,
                    )
                    notice = self.actions.done_notice(fresh)
                await uow.commit()
        except Refused as refusal:
            log.info(
                "web desk: refused %s by %s on %s",
                what,
                officer.user_id,
                complaint.ticket,
                extra={"reason": refusal.why},
            )
            self._flash(back, refusal.text)
            return back
        self.ctx.wake_outbox()
        self._flash(back, notice)
        return back

    async def photo(self, request: Request) -> Response:
        signed = await self.signed_in(request)
        attachment_id = request.path_params["attachment"]
        if signed is None or not attachment_id.isdigit():
            return Response("not found", status_code=404)
        async with self.ctx.uow() as uow:
            found = await uow.attachments.get_many([int(attachment_id)])
            complaint = None
            if found and found[0].complaint_id is not None:
                complaint = await uow.complaints.get(found[0].complaint_id)
        if not found or complaint is None or not signed.officer.may_see(complaint):
            return Response("not found", status_code=404)
        data = await self.ctx.files.load(found[0].path)
        try:
            mime = check_image(data).mime_type
        except Exception:
            return Response("not found", status_code=404)
        headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
        return Response(data, media_type=mime, headers=headers)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PREFIX, self.queue, methods=["GET"]),
            Route(f"{PREFIX}/masuk", self.login_page, methods=["GET"]),
            Route(f"{PREFIX}/masuk", self.login, methods=["POST"]),
            Route(f"{PREFIX}/keluar", self.logout, methods=["POST"]),
            Route(f"{PREFIX}/kabar", self.feed, methods=["GET"]),
            Route(f"{PREFIX}/aduan/{{ticket}}", self.complaint, methods=["GET"]),
            Route(f"{PREFIX}/aduan/{{ticket}}/{{what:str}}", self.act, methods=["POST"]),
            Route(f"{PREFIX}/foto/{{attachment}}", self.photo, methods=["GET"]),
        ]


def _text(payload: dict[str, Any]) -> str:
    reply = payload.get("reply")
    return str(reply.get("text") or "") if isinstance(reply, dict) else ""


def _map_url(complaint: Complaint) -> str | None:
    if complaint.latitude is None or complaint.longitude is None:
        return None
    lat, lon = complaint.latitude, complaint.longitude
    return (
        f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}"
    )
