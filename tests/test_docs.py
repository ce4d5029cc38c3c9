"""The documentation stands on its own: diagrams inline, no link out of the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def mermaid_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```mermaid\n(.*?)```", text, re.S)]


def test_the_architecture_shows_the_lifecycle_and_the_dialogue_as_they_are() -> None:
    blocks = mermaid_blocks((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    for diagram in ("lifecycle.mmd", "complaint-dialogue.mmd"):
        source = (ROOT / "docs" / diagram).read_text(encoding="utf-8").strip()
        assert source in blocks, f"docs/architecture.md does not show docs/{diagram} as it is"


def test_every_relative_link_leads_to_a_file_of_the_repository() -> None:
    broken = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        assert "shared/" not in text, f"{document.name} points outside the repository"
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            path = (document.parent / target).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{document.name}: {target}")
    assert broken == []


def test_the_readme_anchors_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in readme.splitlines()
        if line.startswith("#")
    }
    anchors = set(re.findall(r"\]\(#([^)]+)\)", readme))
    assert anchors - headings == set()
