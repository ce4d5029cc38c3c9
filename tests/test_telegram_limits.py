"""Texts fit Telegram's limits, which count UTF-16 units (an emoji counts twice)."""

from __future__ import annotations

from handlers.telegram.sender import CAPTION_LIMIT, TEXT_LIMIT, split_text, telegram_length, trim


def test_a_long_text_with_emoji_splits_into_pieces_telegram_accepts() -> None:
    text = ("🚧 Jalan berlubang di depan sekolah\n" * 300).strip()
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(telegram_length(piece) <= TEXT_LIMIT for piece in pieces)
    assert "\n".join(pieces) == text


def test_a_text_without_line_breaks_is_cut_anyway() -> None:
    pieces = split_text("🚧" * 3000)
    assert [telegram_length(piece) for piece in pieces] == [4096, 1904]


def test_a_caption_is_trimmed_with_an_ellipsis() -> None:
    caption = trim("📷" * 600, CAPTION_LIMIT)
    assert telegram_length(caption) <= CAPTION_LIMIT
    assert caption.endswith("…")


def test_a_short_text_is_untouched() -> None:
    assert split_text("Halo") == ["Halo"]
    assert trim("Halo", CAPTION_LIMIT) == "Halo"
