"""Every text exists in Indonesian and English, with the same placeholders."""

from __future__ import annotations

import string

from conversations.core.i18n import Catalog


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_indonesian_and_english_have_the_same_keys() -> None:
    catalog = Catalog.load()
    assert catalog.keys("id") == catalog.keys("en")
    assert len(catalog.keys("id")) > 50


def test_translations_use_the_same_placeholders() -> None:
    catalog = Catalog.load()
    for key in catalog.keys("id"):
        assert placeholders(catalog.t("id", key)) == placeholders(catalog.t("en", key)), key


def test_unknown_language_falls_back_to_indonesian() -> None:
    catalog = Catalog.load()
    assert catalog.t("jv", "dialogue.cancel_yes") == "Ya, batalkan"
