"""Moving records between core dataclasses and table rows; datetimes stored as UTC."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlmodel import SQLModel

T = TypeVar("T")


def to_db_time(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(UTC)


def from_db_time(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def row_values(record: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in dataclasses.fields(record):
        value = getattr(record, item.name)
        if isinstance(value, datetime):
            value = to_db_time(value)
        elif hasattr(value, "value") and isinstance(value.value, str):
            value = value.value
        values[item.name] = value
    return values


def to_record(row: SQLModel, cls: type[T], **overrides: Any) -> T:
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        if item.name in overrides:
            values[item.name] = overrides[item.name]
            continue
        value = getattr(row, item.name)
        if isinstance(value, datetime):
            value = from_db_time(value)
        values[item.name] = value
    return cls(**values)
