"""Every prompt the dialogue, the survey and the status pushes produce fits WhatsApp:
at most 3 reply buttons of at most 20 characters, lists of at most 10 rows of at most
24, bodies of at most 1024, and every choice can still be picked (tapped or typed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conversations import complaint_dialogue as flow
from conversations.core.context import CoreContext
from conversations.core.domain import Complaint, Dialogue, Draft
from conversations.core.i18n import Catalog
from conversations.core.lifecycle import Status
from conversations.core.messages import Channel, ChatAddress, Choice, Reply
from conversations.core.notices import complaint_choices, survey_reply
from conversations.core.workdays import WorkingCalendar
from conversations.engine import CitizenChat
from handlers.whatsapp.intake import decode_message
from handlers.whatsapp.render import (
    BODY_LIMIT,
    BUTTON_TITLE,
    BUTTONS_MAX,
    ROW_TITLE,
    ROWS_MAX,
    TEXT_LIMIT,
    Outgoing,
    render,
)
from storage.files import LocalFileStore
from tests.support.core import sample_city

LANGUAGES = ("id", "en")


def context(tmp_path: Path) -> CoreContext:
    config = sample_city()

    def no_storage() -> Any:
        raise AssertionError("rendering needs no storage")

    return CoreContext(
        config=config,
        catalog=Catalog.load(),
        calendar=WorkingCalendar(config.timezone, config.cuti_bersama, config.extra_working_days),
        uow=no_storage,
        files=LocalFileStore(tmp_path),
        desk_chat=ChatAddress(Channel.TELEGRAM, "-1001"),
    )


def every_prompt(ctx: CoreContext) -> list[tuple[str, Reply]]:
    prompts: list[tuple[str, Reply]] = []
    chat = CitizenChat(ctx)
    complaint = Complaint(
        ticket="ADU-2611-0001", citizen_id=1, channel="whatsapp", chat_id="62812",
        category="jalan", agency="pupr", description="Jalan berlubang besar.",
        created_at=datetime(2026, 11, 27, tzinfo=UTC), id=7,
    )  # fmt: skip
    full = Draft(
        category="jalan", description="Jalan berlubang besar di depan SDN 2, sudah seminggu.",
        latitude=-8.1, longitude=112.16, address="Jl. Merdeka 5", photo_ids=[1, 2, 3, 4, 5],
    )  # fmt: skip
    for lang in LANGUAGES:
        for name, step in flow.STEPS.items():
            for draft in (Draft(), full):
                dialogue = Dialogue(citizen_id=1, step=name, draft=draft, back=["category"])
                prompts.append((f"{lang} step {name}", step.prompt(ctx, lang, dialogue)))
        prompts.append(
            (f"{lang} photo received", flow.photo_received(ctx, lang, Dialogue(1, "photos")))
        )
        prompts += [
            (f"{lang} menu", chat._menu(lang)),
            (f"{lang} language", chat._language_menu(lang)),
        ]
        prompts += [(f"{lang} cancel?", r) for r in chat._ask_cancel(Dialogue(1, "summary"), lang)]
        prompts.append((f"{lang} survey", survey_reply(ctx, complaint, lang)))
        for status in Status:
            complaint.status = status
            for detail in (False, True):
                choices = complaint_choices(ctx, complaint, lang, detail=detail)
                prompts.append((f"{lang} push {status}", Reply("Status", choices=choices)))
    return prompts


def fits(message: Outgoing) -> list[str]:
    problems = []
    titles = [title for _, title, _ in message.options]
    if message.kind == "buttons" and (
        not 1 <= len(titles) <= BUTTONS_MAX or any(len(t) > BUTTON_TITLE for t in titles)
    ):
        problems.append(f"buttons {titles}")
    if message.kind == "list" and (
        not 1 <= len(titles) <= ROWS_MAX or any(len(t) > ROW_TITLE for t in titles)
    ):
        problems.append(f"list {titles}")
    if len(set(titles)) < len(titles):
        problems.append(f"titles twice: {titles}")
    limit = TEXT_LIMIT if message.kind == "text" else BODY_LIMIT
    if (not message.text.strip() and message.kind != "location") or len(message.text) > limit:
        problems.append(f"{message.kind} text of {len(message.text)}")
    return problems


def test_every_prompt_fits_whatsapp_and_every_choice_stays_reachable(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    problems: list[str] = []
    prompts = every_prompt(ctx)
    assert len(prompts) > 80
    shapes = set()
    for name, reply in prompts:
        messages = render(reply, ctx.t(None, "whatsapp.more"))
        shapes |= {m.kind for m in messages}
        for message in messages:
            problems += [f"{name}: {p}" for p in fits(message)]
        offered = {id_ for m in messages for id_, _, _ in m.options}
        typed = "\n".join(m.text for m in messages if m.kind == "text")
        for choice in (c for row in reply.choices for c in row):
            if choice.id not in offered and choice.label not in typed:
                problems.append(f"{name}: {choice.label!r} can be neither tapped nor typed")
        if name.split()[1] == "step":
            # The dialogue itself never falls back to a numbered list.
            assert all(m.kind != "text" for m in messages[-1:]) or not reply.choices, name
    assert problems == []
    assert shapes == {"buttons", "list", "location_request", "text"}


def test_long_labels_are_shortened_and_labels_alike_or_too_many_become_numbered_text() -> None:
    (buttons,) = render(Reply("Pilih:", choices=((Choice("a", "Lampu penerangan jalan umum"),),)))
    assert (buttons.kind, buttons.options) == ("buttons", (("a", "Lampu penerangan ja…", ""),))
    alike = (
        Choice("a", "Jalan dan jembatan rusak berat"),
        Choice("b", "Jalan dan jembatan rusak ringan"),
    )
    (text,) = render(Reply("Pilih:", choices=(alike,)))
    assert text.kind == "text" and "2. Jalan dan jembatan rusak ringan" in text.text
    many = tuple((Choice(f"n:{n}", f"Nomor {n}"),) for n in range(14))
    (text,) = render(Reply("Pilih:", choices=many))
    assert text.kind == "text" and "14. Nomor 13" in text.text


def test_a_long_text_is_split_and_the_choices_go_with_its_last_part() -> None:
    text = "\n".join(f"Baris {n}: " + "x" * 80 for n in range(80))
    *parts, last = render(Reply(text, choices=((Choice("ok", "Oke"),),)))
    assert [m.kind for m in parts] == ["text"] * len(parts) and last.kind == "buttons"
    assert "\n".join(m.text for m in [*parts, last]) == text
    assert all(len(m.text) <= BODY_LIMIT for m in [*parts, last])
    assert render(Reply("")) == []


# Meta's documented webhook examples, as the inbox stores them (message and contact).
CONTACT = {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234", "user_id": "US.1349"}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"type": "sticker", "sticker": {"id": "1"}}, ("unsupported", "sticker")),
        ({"type": "document", "document": {"id": "2", "mime_type": "application/pdf"}},
         ("unsupported", "document")),
        ({"type": "document", "document": {"id": "3", "mime_type": "image/png"}}, ("photo", None)),
        ({"type": "video", "video": {"id": "4"}}, ("unsupported", "video")),
        ({"type": "button", "button": {"payload": "x", "text": "Lihat status"}}, ("text", None)),
        ({"type": "text", "text": {"body": "status ADU-2611-0001"}}, ("command", None)),
        ({"type": "text", "text": {"body": "Batal"}}, ("command", None)),
        ({"type": "text", "text": {"body": "batal saja karena sudah diperbaiki"}}, ("text", None)),
        ({"type": "unsupported", "errors": [{"code": 131051}]}, ("unsupported", "other")),
    ],
)  # fmt: skip
def test_what_whatsapp_sends_becomes_a_neutral_event(
    message: dict[str, Any], expected: tuple[str, str | None]
) -> None:
    inbound = decode_message({"from": "16505551234", "id": "wamid.X", **message}, CONTACT)
    assert inbound is not None
    assert (inbound.kind.value, inbound.unsupported) == expected
    assert inbound.sender.display_name == "Sheena Nelson"
    assert inbound.sender.phone == "+16505551234"


def test_a_reaction_to_the_bots_message_needs_no_answer() -> None:
    reaction = {"type": "reaction", "reaction": {"message_id": "wamid.OUT1", "emoji": "👍"}}
    assert decode_message({"from": "16505551234", "id": "wamid.R", **reaction}, CONTACT) is None


def test_a_status_word_takes_the_ticket_as_its_argument() -> None:
    body = {"type": "text", "text": {"body": "status ADU-2611-0001"}}
    inbound = decode_message({"from": "16505551234", "id": "wamid.Y", **body}, CONTACT)
    assert inbound is not None and (inbound.command, inbound.args) == ("status", "ADU-2611-0001")
