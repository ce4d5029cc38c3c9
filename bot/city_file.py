"""Reading the city's YAML: every problem at once, each with its line number."""

from __future__ import annotations

import difflib
import re
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from conversations.core.config import CityConfig

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"
# YAML 1.1 integers without the base-60 form: ``digest_time: 7:30`` would be 450.
_PLAIN_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)


class CityLoader(yaml.SafeLoader):
    """Dates and times stay text, so the schema checks them and names the line of a
    bad one (``2026-02-30``) instead of the YAML parser failing without one."""


CityLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_TIMESTAMP, _INT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CityLoader.add_implicit_resolver(_INT, _PLAIN_INT, list("-+0123456789"))


class CityFileError(Exception):
    def __init__(self, path: Path, problems: list[str]):
        super().__init__("\n".join(problems))
        self.path = path
        self.problems = problems


def load_city(path: Path) -> CityConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CityFileError(path, [f"cannot read {path}: {error.strerror}"]) from None
    loader = CityLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        reason = getattr(error, "problem", None) or str(error)
        raise CityFileError(path, [f"{path}{line}: not valid YAML: {reason}"]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise CityFileError(path, [f"{path}: expected keys such as city_name and categories"])
    # The whole-file checks, on the raw data: pydantic would run them only once every
    # field is right, and could name no line.
    references = _reference_problems(path, root, data)
    try:
        config = CityConfig.model_validate(data)
    except ValidationError as error:
        problems = [
            _describe(path, root, item)
            for item in error.errors()
            if item["loc"] or not references  # the file-wide ones are in ``references``
        ]
        raise CityFileError(path, _by_line(problems + references)) from None
    if references:
        raise CityFileError(path, references)
    return config


def _reference_problems(path: Path, root: yaml.Node | None, data: dict[str, Any]) -> list[str]:
    """Codes used twice, categories naming an unknown agency, no category: each at the
    line of the faulty entry."""

    def where(*loc: str | int) -> str:
        line = _line(root, loc)
        return f"{path} line {line}" if line else str(path)

    def entries(key: str) -> list[Any]:
        found = data.get(key)
        return found if isinstance(found, list) else []

    problems: list[str] = []
    codes: dict[str, dict[str, int]] = {"agencies": {}, "categories": {}}
    for key, what in (("agencies", "agency"), ("categories", "category")):
        for index, entry in enumerate(entries(key)):
            code = entry.get("code") if isinstance(entry, dict) else None
            if not isinstance(code, str):
                continue
            first = codes[key].setdefault(code, index)
            if first != index:
                problems.append(
                    f"{where(key, index, 'code')}: {key}.{index}.code: {what} code {code} "
                    f"is already used on line {_line(root, (key, first, 'code'))}"
                )
    agencies = codes["agencies"]
    for index, entry in enumerate(entries("categories")):
        agency = entry.get("agency") if isinstance(entry, dict) else None
        if isinstance(agency, str) and agency not in agencies:
            message = f"unknown agency {agency}"
            close = difflib.get_close_matches(agency, list(agencies), n=1, cutoff=0.6)
            if close:
                message += f" (did you mean {close[0]}?)"
            elif agencies:
                message += f"; known: {', '.join(agencies)}"
            problems.append(
                f"{where('categories', index, 'agency')}: categories.{index}.agency: {message}"
            )
    if data.get("categories") == []:
        problems.append(f"{where('categories')}: categories: at least one category is needed")
    return problems


def _by_line(problems: list[str]) -> list[str]:
    def line(problem: str) -> int:
        found = re.search(r" line (\d+): ", problem)
        return int(found.group(1)) if found else 0

    return sorted(problems, key=line)


def _describe(path: Path, root: yaml.Node | None, item: Any) -> str:
    loc: tuple[str | int, ...] = tuple(item["loc"])
    line = _line(root, loc)
    where = f"{path} line {line}" if line else str(path)
    name = ".".join(str(part) for part in loc) or "(top)"
    if item["type"] == "extra_forbidden":
        message = "unknown key"
        known = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]}?)"
    else:
        message = str(item["msg"]).removeprefix("Value error, ")
    return f"{where}: {name}: {message}"


def _line(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """The line of the key (or list item) the error is about, else of its nearest parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            pair = next((p for p in node.value if p[0].value == part), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _fields_at(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the schema allows where ``loc`` points, for "did you mean" hints."""
    model: type[BaseModel] | None = CityConfig
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (list, Union, types.UnionType):
        for argument in get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None
