"""What is kept of an inbound event: the same clean values on every channel and database."""

from __future__ import annotations

from conversations.core.messages import (
    Channel,
    ChatAddress,
    Inbound,
    InboundKind,
    Location,
    MediaRef,
    Person,
)
from conversations.core.sanitize import (
    NAME_MAX,
    PHONE_MAX,
    clean_inbound,
    clean_mime,
    clean_phone,
    clean_text,
)
from handlers.web.intake import WebIntake
from handlers.whatsapp.intake import decode_message


def event(**fields: object) -> Inbound:
    values: dict[str, object] = {
        "chat": ChatAddress(Channel.TELEGRAM, "1001"),
        "sender": Person("1001", "Siti"),
        "kind": InboundKind.TEXT,
        "update_key": "t:1",
        **fields,
    }
    return Inbound(**values)  # type: ignore[arg-type]


def test_control_characters_and_lone_surrogates_are_dropped_line_breaks_kept() -> None:
    assert clean_text("Jalan\x00 rusak\x1b[0m\r\nRT 03\x9b\ud800") == "Jalan rusak[0m\nRT 03"


def test_a_phone_is_digits_with_an_optional_plus_or_nothing() -> None:
    assert clean_phone("+62 812-3456 (7890)") == "+6281234567890"
    assert clean_phone("+62 812 kantor") is None
    assert clean_phone("+" + "6" * 40) is None
    assert len(clean_phone("+" + "6" * 20) or "") <= PHONE_MAX


def test_a_mime_type_is_kept_only_when_it_looks_like_one() -> None:
    assert clean_mime("Image/JPEG") == "image/jpeg"
    assert clean_mime("image/" + "x" * 150) is None
    assert clean_mime("<script>") is None


def test_names_fit_their_column_and_locations_out_of_range_are_no_location() -> None:
    cleaned = clean_inbound(
        event(
            sender=Person("1001", "A\nB " * 300, username="u" * 100, phone="+62 811 1"),
            kind=InboundKind.LOCATION,
            location=Location(999.0, -500.0),
            media=(MediaRef("f", "u", "photo", "image/" + "y" * 200, -5),),
        )
    )
    assert cleaned is not None
    assert len(cleaned.sender.display_name) <= NAME_MAX and "\n" not in cleaned.sender.display_name
    assert cleaned.sender.username == "u" * 64
    assert cleaned.kind is InboundKind.UNSUPPORTED and cleaned.location is None
    assert cleaned.media[0].mime_type is None and cleaned.media[0].size is None


def test_an_event_with_ids_longer_than_any_account_is_not_handled() -> None:
    assert clean_inbound(event(sender=Person("9" * 200, "X"))) is None
    assert clean_inbound(event(chat=ChatAddress(Channel.TELEGRAM, ""))) is None


def test_a_command_is_read_after_control_characters_are_dropped_on_every_channel() -> None:
    web = WebIntake().decode(
        {"browser": "b" * 24, "id": "m1", "kind": "text", "text": "/status\x00 ADU-2611-0001"}
    )
    whatsapp = decode_message(
        {"id": "wamid.1", "from": "6281234", "type": "text", "text": {"body": "\x00bantuan\x07"}},
        {"wa_id": "6281234", "user_id": "ID.1"},
    )
    assert web is not None and whatsapp is not None
    assert (web.kind, web.command, web.args) == (InboundKind.COMMAND, "status", "ADU-2611-0001")
    assert (whatsapp.kind, whatsapp.command) == (InboundKind.COMMAND, "bantuan")
