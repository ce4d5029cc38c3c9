"""How the bot introduces itself on a platform: its commands and descriptions, per
language, from the catalogs (an adapter registers them at start)."""

from __future__ import annotations

from dataclasses import dataclass

from conversations.core.context import CoreContext

# The commands citizens see in the platform's menu, in this order.
COMMANDS = ("start", "lapor", "aduansaya", "status", "batal", "bantuan", "privasi", "bahasa")


@dataclass(frozen=True)
class BotProfile:
    language: str
    commands: tuple[tuple[str, str], ...]
    description: str
    short_description: str


def bot_profiles(ctx: CoreContext) -> list[BotProfile]:
    """One profile per catalog language, the city's default first."""
    languages = sorted(ctx.catalog.languages, key=lambda lang: lang != ctx.catalog.default)
    city = ctx.config.city_name
    return [
        BotProfile(
            language=lang,
            commands=tuple((name, ctx.t(lang, f"bot_command.{name}")) for name in COMMANDS),
            description=ctx.t(lang, "bot_profile.description", city=city),
            short_description=ctx.t(lang, "bot_profile.short_description", city=city),
        )
        for lang in languages
    ]
