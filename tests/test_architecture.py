"""The dependency rule: the dialogues and the core know no platform, HTTP or SQL library."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "telegram",
    "aiogram",
    "pywa",
    "httpx",
    "aiohttp",
    "requests",
    "fastapi",
    "starlette",
    "flask",
    "sqlalchemy",
    "sqlmodel",
    "asyncpg",
    "aiosqlite",
    "psycopg",
    "psycopg2",
    "matplotlib",
    "openpyxl",
    "xlsxwriter",
    "PIL",
}
OUTER_LAYERS = {"bot", "handlers", "storage"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_conversations_and_core_import_no_platform_http_or_sql_library() -> None:
    files = sorted((ROOT / "conversations").rglob("*.py"))
    assert len(files) > 10
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN)
        for path in files
        if imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}


def test_conversations_do_not_reach_into_the_outer_layers() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & OUTER_LAYERS)
        for path in sorted((ROOT / "conversations").rglob("*.py"))
        if imported_roots(path) & OUTER_LAYERS
    }
    assert offenders == {}


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from telegram import Bot\nimport sqlalchemy.orm\n")
    assert imported_roots(sample) & FORBIDDEN == {"telegram", "sqlalchemy"}
