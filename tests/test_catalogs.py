"""Every text exists in Indonesian and English, with the same placeholders."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conversations.core.context import CoreContext
from conversations.core.domain import Complaint, Event
from conversations.core.i18n import LANGUAGES, Catalog
from conversations.core.lifecycle import TRANSITIONS, Action, Status
from conversations.core.messages import Channel, ChatAddress
from conversations.core.notices import push_text
from conversations.core.workdays import WorkingCalendar
from storage.files import LocalFileStore
from tests.support.core import FrozenClock, sample_city


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


# Every text, rendered: no deadline number written into a text, a next step in every push.

# A number followed by a unit of time is a deadline written into the text; deadlines
# come from the category's configuration as placeholders.
WRITTEN_DEADLINE = re.compile(
    r"\d+\s*(?:hari|minggu|bulan|jam|working days?|days?|weeks?|months?|hours?)\b",
    re.IGNORECASE,
)
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


class Sample:
    """A placeholder's sample value: a marker, whatever the format spec (``.5f``, ``02d``)."""

    def __init__(self, name: str):
        self.name = name

    def __format__(self, spec: str) -> str:
        return f"⟨{self.name}⟩"


class Samples(dict[str, Sample]):
    def __missing__(self, key: str) -> Sample:
        return Sample(key)


def text_context(tmp_path: Path) -> CoreContext:
    config = sample_city()
    return CoreContext(
        config=config,
        catalog=Catalog.load(),
        calendar=WorkingCalendar(config.timezone, config.cuti_bersama, config.extra_working_days),
        uow=lambda: None,  # type: ignore[arg-type]
        files=LocalFileStore(tmp_path),
        desk_chat=ChatAddress(Channel.TELEGRAM, "-1001"),
        clock=FrozenClock(NOW),
    )


def test_every_text_renders_with_sample_values_and_writes_no_deadline_number() -> None:
    catalog = Catalog.load()
    city = sample_city()
    texts = [(lang, key, catalog.t(lang, key)) for lang in LANGUAGES for key in catalog.keys(lang)]
    for name in ("help_text", "privacy_text"):
        texts += [(lang, name, text) for lang, text in getattr(city, name).items()]
    assert len(texts) > 400
    for lang, key, template in texts:
        rendered = template.format_map(Samples())
        assert not WRITTEN_DEADLINE.search(rendered), (lang, key, rendered)


def test_the_city_texts_exist_in_both_languages() -> None:
    city = sample_city()
    assert set(city.help_text) == set(city.privacy_text) == set(LANGUAGES)


def complaint_in(status: Status) -> Complaint:
    return Complaint(
        ticket="ADU-2611-0042",
        citizen_id=1,
        channel="telegram",
        chat_id="1001",
        category="jalan",
        agency="pupr",
        description="Jalan berlubang di depan SDN 2 sejak seminggu lalu.",
        created_at=NOW,
        status=status,
        verify_due=NOW + timedelta(days=5),
        followup_due=NOW + timedelta(days=7),
        settle_due=NOW + timedelta(days=60),
        autoclose_due=NOW + timedelta(days=14),
        dispatched_at=NOW,
        id=42,
    )


# Statuses whose next step has a date the citizen can hold the city to.
DATED = {
    Status.BARU: "verify_due",
    Status.TERVERIFIKASI: "verify_due",
    Status.DIDISPOSISIKAN: "followup_due",
    Status.DITINDAKLANJUTI: "settle_due",
    Status.SELESAI: "autoclose_due",
}
MOVES = sorted({(action, target) for (_, action), (target, _) in TRANSITIONS.items()})


@pytest.mark.parametrize(("action", "target"), MOVES, ids=lambda v: str(v))
def test_every_status_push_names_a_next_step(
    action: Action, target: Status, tmp_path: Path
) -> None:
    ctx = text_context(tmp_path)
    complaint = complaint_in(target)
    event = Event(42, NOW, action.value, "desk", public_message="Contoh pesan petugas.")
    for lang in LANGUAGES:
        text = push_text(ctx, complaint, event, lang)
        marker = ctx.t(lang, "notify.next_line", next="")
        assert marker in text, (lang, text)
        next_step = text.split(marker, 1)[1]
        assert len(next_step) > 20 and "{" not in text, (lang, text)
        if target in DATED:
            due = getattr(complaint, DATED[target])
            assert ctx.format_date(due, lang) in next_step, (lang, text)


def test_a_date_reads_like_a_date(tmp_path: Path) -> None:
    ctx = text_context(tmp_path)
    monday = datetime(2026, 12, 7, 3, 5, tzinfo=UTC)  # 10:05 in Jakarta
    assert ctx.format_date(monday, "id") == "Senin, 7 Desember 2026"
    assert ctx.format_date(monday, "en") == "Monday, 7 December 2026"
    assert ctx.format_datetime(monday, "id") == "Senin, 7 Desember 2026 pukul 10.05"
    assert ctx.format_datetime(monday, "en") == "Monday, 7 December 2026, 10:05"
