"""The city's configuration: categories, agencies, deadlines, ticket prefix."""

from __future__ import annotations

import re
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Placeholders a city may use in its own texts (privacy_text, help_text).
TEXT_PLACEHOLDERS = ("city", "retention_months", "verify_days", "followup_days")


class Strict(BaseModel):
    """A mistyped key (``city_nama:``) is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _user_ids(values: list[int]) -> list[int]:
    wrong = [value for value in values if value <= 0]
    if wrong:
        raise ValueError(
            f"{', '.join(map(str, wrong))}: a person's Telegram id is a positive number"
        )
    return values


class Deadlines(Strict):
    """Deadlines per SP4N-LAPOR! (Perpres 76/2013, PermenPANRB 62/2018)."""

    verify_working_days: int = Field(3, ge=0)
    followup_working_days: int = Field(5, ge=0)
    autoclose_working_days: int = Field(10, ge=0)
    settle_days: int = Field(60, ge=1)
    # A complaint on hold (tertunda) for this long reminds whoever asked the citizen.
    info_wait_working_days: int = Field(5, ge=1)


class DeadlineOverrides(Strict):
    verify_working_days: int | None = Field(None, ge=0)
    followup_working_days: int | None = Field(None, ge=0)
    autoclose_working_days: int | None = Field(None, ge=0)
    settle_days: int | None = Field(None, ge=1)
    info_wait_working_days: int | None = Field(None, ge=1)


class Agency(Strict):
    code: str
    name: str
    # What citizens and buttons see ("Dinas PUPR"); the full name where there is room.
    short_name: str | None = None
    chat_id: int | None = None
    thread_id: int | None = None
    use_topic: bool = False
    officers: list[int] = Field(default_factory=list)

    @property
    def short(self) -> str:
        return self.short_name or self.name

    @field_validator("chat_id")
    @classmethod
    def _group_id(cls, value: int | None) -> int | None:
        if value is not None and value >= 0:
            raise ValueError(
                "a group's id is negative (e.g. -1001234567890); send /id in the group to see it"
            )
        return value

    _officers = field_validator("officers")(_user_ids)

    @model_validator(mode="after")
    def _one_place(self) -> Agency:
        if self.use_topic and self.chat_id is not None:
            raise ValueError(
                f"agency {self.code}: chat_id and use_topic together; "
                "an agency works either in its own group or in a topic of the admin group"
            )
        if self.thread_id is not None and self.chat_id is None:
            raise ValueError(f"agency {self.code}: thread_id needs the chat_id of its group")
        return self


class Category(Strict):
    code: str
    name: dict[str, str]
    agency: str
    deadlines: DeadlineOverrides = Field(default_factory=DeadlineOverrides)

    @field_validator("code")
    @classmethod
    def _short_code(cls, value: str) -> str:
        # Category codes travel in callback data, which Telegram caps at 64 bytes.
        if not re.fullmatch(r"[a-z0-9_]{1,24}", value):
            raise ValueError("category code: 1-24 of a-z, 0-9, _")
        return value

    def label(self, lang: str) -> str:
        return self.name.get(lang) or next(iter(self.name.values()))


TEMPLATE_PARAMETERS = ("ticket", "status", "next")


class WhatsAppTemplate(Strict):
    """A message template approved in WhatsApp Manager, for status pushes outside the
    24-hour window: its name, its language code and which value fills {{1}}, {{2}}..."""

    name: str
    language: str = "id"
    parameters: list[str] = Field(default_factory=lambda: list(TEMPLATE_PARAMETERS))

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, values: list[str]) -> list[str]:
        unknown = [value for value in values if value not in TEMPLATE_PARAMETERS]
        if unknown:
            raise ValueError(
                f"unknown template parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(TEMPLATE_PARAMETERS)}"
            )
        return values


class CityConfig(Strict):
    city_name: str = "Kota"
    ticket_prefix: str = "ADU"
    timezone: str = "Asia/Jakarta"
    cuti_bersama: list[date] = Field(default_factory=list)
    extra_working_days: list[date] = Field(default_factory=list)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    digest_time: time = time(7, 30)
    # Reminders and escalations to officers wait for this local time on a working day.
    office_hours_start: time = time(8, 0)
    desk_officers: list[int] = Field(default_factory=list)
    agencies: list[Agency]
    categories: list[Category]
    # How long complaints and what citizens sent are kept (stated in /privasi).
    retention_months: int = Field(24, ge=1)
    # The city's own words for /privasi and the FAQ of /bantuan, per language
    # (placeholders: see TEXT_PLACEHOLDERS); the catalogs' defaults where missing.
    privacy_text: dict[str, str] = Field(default_factory=dict)
    help_text: dict[str, str] = Field(default_factory=dict)
    # WhatsApp: the template for status pushes after the 24-hour window closed.
    whatsapp_status_template: WhatsAppTemplate | None = None

    @field_validator("privacy_text", "help_text")
    @classmethod
    def _known_placeholders(cls, texts: dict[str, str]) -> dict[str, str]:
        sample = dict.fromkeys(TEXT_PLACEHOLDERS, 1)
        for lang, text in texts.items():
            try:
                text.format(**sample)
            except (KeyError, IndexError, ValueError) as error:
                known = ", ".join("{" + name + "}" for name in TEXT_PLACEHOLDERS)
                raise ValueError(f"{lang}: {error!r}; placeholders allowed: {known}") from None
        return texts

    _desk_officers = field_validator("desk_officers")(_user_ids)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; Indonesian cities use Asia/Jakarta (WIB), "
                "Asia/Makassar (WITA) or Asia/Jayapura (WIT)"
            ) from None
        return value

    @field_validator("ticket_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z][A-Z0-9]{0,7}", value):
            raise ValueError("ticket_prefix: 1-8 capital letters or digits, starting with a letter")
        return value

    @model_validator(mode="after")
    def _references(self) -> CityConfig:
        codes = {a.code for a in self.agencies}
        if len(codes) != len(self.agencies):
            raise ValueError("agency codes must be unique")
        if len({c.code for c in self.categories}) != len(self.categories):
            raise ValueError("category codes must be unique")
        for category in self.categories:
            if category.agency not in codes:
                raise ValueError(f"category {category.code}: unknown agency {category.agency}")
        if not self.categories:
            raise ValueError("at least one category is needed")
        return self

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def agency(self, code: str | None) -> Agency | None:
        return next((a for a in self.agencies if a.code == code), None)

    def deadlines_for(self, category_code: str) -> Deadlines:
        category = self.category(category_code)
        if category is None:
            return self.deadlines
        overrides = category.deadlines.model_dump(exclude_none=True)
        return self.deadlines.model_copy(update=overrides)

    def text_values(self) -> dict[str, object]:
        """What a city text's placeholders stand for."""
        return {
            "city": self.city_name,
            "retention_months": self.retention_months,
            "verify_days": self.deadlines.verify_working_days,
            "followup_days": self.deadlines.followup_working_days,
        }

    def agency_of_officer(self, user_id: int) -> list[Agency]:
        return [a for a in self.agencies if user_id in a.officers]
