"""Message catalogs: every user-facing text, per language, from YAML files.

Catalogs live in ``conversations/locales/<lang>/*.yaml``; nested keys are joined
with dots (``dialogue.ask_description``). Each feature keeps its own file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DEFAULT_LANGUAGE = "id"
LANGUAGES = ("id", "en")


def _flatten(prefix: str, node: Any, into: dict[str, str]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, into)
    else:
        into[prefix] = str(node)


class Catalog:
    def __init__(self, texts: Mapping[str, Mapping[str, str]], default: str = DEFAULT_LANGUAGE):
        self._texts = texts
        self.default = default

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR, default: str = DEFAULT_LANGUAGE) -> Catalog:
        texts: dict[str, dict[str, str]] = {}
        for lang_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
            flat: dict[str, str] = {}
            for file in sorted(lang_dir.glob("*.yaml")):
                _flatten("", yaml.safe_load(file.read_text(encoding="utf-8")) or {}, flat)
            texts[lang_dir.name] = flat
        return cls(texts, default)

    @property
    def languages(self) -> list[str]:
        return list(self._texts)

    def keys(self, lang: str) -> set[str]:
        return set(self._texts.get(lang, {}))

    def has(self, key: str, lang: str | None = None) -> bool:
        return key in self._texts.get(lang or self.default, {})

    def t(self, lang: str | None, key: str, **values: Any) -> str:
        texts = self._texts.get(lang or self.default) or self._texts[self.default]
        template = texts.get(key) or self._texts[self.default].get(key)
        if template is None:
            raise KeyError(f"no text for {key!r}")
        return template.format(**values) if values else template
