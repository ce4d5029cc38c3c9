"""Claiming rows of an ordered queue, one lane (chat) at a time, for one process.

The inbox and the outbox are both queues whose rows must be handled in order per
chat ("lane"), exactly once, by whichever bot process claims them first. A claim
is the row's ``owner`` (a worker id) and a ``lease_until`` that the owner's
heartbeat keeps extending. A lane's rows are claimable from its head (its oldest
unfinished row) onwards, and only when the head is: waiting and due, or claimed
by an owner that is gone (no fresh heartbeat) or whose lease ran out. Rows a
process already holds are skipped, so a lane it is working on grows at its tail.
PostgreSQL locks the rows it claims with ``SKIP LOCKED``; SQLite runs one
process and serialises writers (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from storage.mapping import from_db_time
from storage.tables import WorkerRow


@dataclass(frozen=True)
class QueueTable:
    model: type[SQLModel]
    lane_columns: tuple[str, ...]
    waiting: str  # status of a row nobody holds
    claimed: str  # status of a held row

    def column(self, name: str) -> Any:
        return getattr(self.model, name)

    def lane_of(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, name) for name in self.lane_columns)


def live_owners(cutoff: datetime) -> Any:
    worker: Any = WorkerRow
    return select(worker.id).where(worker.heartbeat_at > cutoff)


def claimable(table: QueueTable, now: datetime, cutoff: datetime) -> ColumnElement[bool]:
    c = table.column
    due = or_(c("next_attempt_at").is_(None), c("next_attempt_at") <= now)
    orphaned = or_(
        c("lease_until").is_(None),
        c("lease_until") <= now,
        c("owner").is_(None),
        c("owner").not_in(live_owners(cutoff)),
    )
    return or_(
        and_(c("status") == table.waiting, due),
        and_(c("status") == table.claimed, orphaned),
    )


async def claim_lanes(
    session: AsyncSession,
    table: QueueTable,
    *,
    owner: str,
    now: datetime,
    owner_cutoff: datetime,
    lease_seconds: float,
    limit: int,
    per_lane: int,
    lanes: Sequence[tuple[Any, ...]] | None = None,
    skip_lanes: Sequence[tuple[Any, ...]] = (),
) -> list[Any]:
    """Claim up to ``limit`` rows, at most ``per_lane`` of a lane, oldest first.

    ``lanes`` restricts the claim to those lanes; ``skip_lanes`` leaves those out
    (lanes this process holds enough of). Returns the claimed rows, in id order.
    """
    c = table.column
    unfinished = c("status").in_([table.waiting, table.claimed])
    mine = and_(c("status") == table.claimed, c("owner") == owner)
    lane = tuple_(*(c(name) for name in table.lane_columns))
    ok = claimable(table, now, owner_cutoff)
    order = c("id")
    partition = [c(name) for name in table.lane_columns]
    inner = select(
        c("id").label("id"),
        func.row_number().over(partition_by=partition, order_by=order).label("rn"),
        func.first_value(case((ok, literal(1)), else_=literal(0)))
        .over(partition_by=partition, order_by=order)
        .label("head_ok"),
    ).where(unfinished, not_(mine))
    if lanes is not None:
        if not lanes:
            return []
        inner = inner.where(lane.in_(list(lanes)))
    if skip_lanes:
        inner = inner.where(lane.not_in(list(skip_lanes)))
    ranked = inner.subquery()
    # Ranked and locked in one statement: the window runs in the derived table, the
    # lock (``SKIP LOCKED``) takes only the queue's rows.
    query = (
        select(table.model, ranked.c.rn)
        .join(ranked, c("id") == ranked.c.id)
        .where(ranked.c.rn <= per_lane, ranked.c.head_ok == 1)
        .order_by(c("id"))
        .limit(max(1, limit))
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=table.model)
    picked = (await session.execute(query)).all()
    if not picked:
        return []
    rank = {int(row.id): int(rn) for row, rn in picked}
    by_lane: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for row, _ in picked:
        by_lane[table.lane_of(row)].append(row)
    chosen: list[Any] = []
    live: set[str] = set()
    if any(row.status == table.claimed for row, _ in picked):
        # Only a takeover needs to know who is alive now.
        live = {
            str(ident)
            for ident in (await session.execute(live_owners(owner_cutoff))).scalars()
            if ident != owner
        }
    for held in by_lane.values():
        expected = 1
        for row in held:
            # Only an unbroken run from the head: a row locked by another process
            # (skipped) or changed since it was ranked ends the run.
            if rank[int(row.id)] != expected or not _still_claimable(table, row, now, owner, live):
                break
            chosen.append(row)
            expected += 1
    if not chosen:
        return []
    chosen.sort(key=lambda row: int(row.id))
    lease = now + timedelta(seconds=lease_seconds)
    await session.execute(
        update(table.model)
        .where(c("id").in_([int(row.id) for row in chosen]))
        .values(status=table.claimed, owner=owner, lease_until=lease)
    )
    for row in chosen:
        row.status, row.owner, row.lease_until = table.claimed, owner, lease
    return chosen


def _still_claimable(
    table: QueueTable, row: Any, now: datetime, owner: str, live: set[str]
) -> bool:
    if row.status == table.waiting:
        return row.next_attempt_at is None or _aware(row.next_attempt_at) <= now
    if row.status != table.claimed or row.owner == owner:
        return False
    expired = row.lease_until is None or _aware(row.lease_until) <= now
    return expired or row.owner is None or row.owner not in live


def _aware(moment: datetime) -> datetime:
    value = from_db_time(moment)
    assert value is not None
    return value


async def release_rows(
    session: AsyncSession, table: QueueTable, owner: str, ids: Sequence[int] | None = None
) -> int:
    """Hand rows this owner holds back, untouched (``ids`` None: all of them)."""
    c = table.column
    statement = update(table.model).where(c("status") == table.claimed, c("owner") == owner)
    if ids is not None:
        if not ids:
            return 0
        statement = statement.where(c("id").in_(list(ids)))
    result = await session.execute(
        statement.values(status=table.waiting, owner=None, lease_until=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def extend_leases(
    session: AsyncSession,
    table: QueueTable,
    owner: str,
    until: datetime,
    ending_before: datetime | None = None,
) -> None:
    """Extend the leases this owner holds to ``until``; with ``ending_before``, only
    those that end before it, and on PostgreSQL none that a transaction is changing.

    Taking every held row in one statement queued the heartbeat behind the updates
    finishing those rows, and them behind it: rows are settled within seconds, so
    they are left alone; a row held long (a slow chat) is extended in good time.
    """
    c = table.column
    mine = and_(c("status") == table.claimed, c("owner") == owner)
    if ending_before is not None:
        mine = and_(mine, or_(c("lease_until").is_(None), c("lease_until") < ending_before))
    target: Any = mine
    if session.get_bind().dialect.name == "postgresql":
        # A locked row is being settled by its owner; the next heartbeat extends it
        # if it is still held.
        target = c("id").in_(select(c("id")).where(mine).with_for_update(skip_locked=True))
    await session.execute(update(table.model).where(target).values(lease_until=until))
