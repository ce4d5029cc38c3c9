"""The complaint lifecycle: one transition table (diagram: docs/lifecycle.mmd)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    BARU = "baru"
    TERVERIFIKASI = "terverifikasi"
    DIDISPOSISIKAN = "didisposisikan"
    DITINDAKLANJUTI = "ditindaklanjuti"
    SELESAI = "selesai"
    DITUTUP = "ditutup"
    TERTUNDA = "tertunda"
    DITOLAK = "ditolak"
    BUKAN_WEWENANG = "bukan_wewenang"
    DICABUT = "dicabut"


class Action(StrEnum):
    VERIFY = "verify"
    REQUEST_INFO = "info"
    REJECT = "reject"
    NOT_AUTHORITY = "notauth"
    DISPATCH = "dispatch"
    START = "start"
    RESOLVE = "resolve"
    RESUME = "resume"
    REOPEN = "reopen"
    CLOSE = "close"
    RETURN = "return"
    WITHDRAW = "withdraw"
    REVIEW = "review"


class Role(StrEnum):
    DESK = "desk"
    AGENCY = "agency"
    CITIZEN = "citizen"
    SYSTEM = "system"


S, A, R = Status, Action, Role

# (from, action) -> (to, roles allowed). RESUME returns to the status held before
# TERTUNDA; the table names BARU only as a placeholder for that.
TRANSITIONS: dict[tuple[Status, Action], tuple[Status, frozenset[Role]]] = {
    (S.BARU, A.VERIFY): (S.TERVERIFIKASI, frozenset({R.DESK})),
    (S.BARU, A.DISPATCH): (S.DIDISPOSISIKAN, frozenset({R.DESK})),
    (S.BARU, A.REQUEST_INFO): (S.TERTUNDA, frozenset({R.DESK})),
    (S.BARU, A.REJECT): (S.DITOLAK, frozenset({R.DESK})),
    (S.BARU, A.NOT_AUTHORITY): (S.BUKAN_WEWENANG, frozenset({R.DESK})),
    (S.TERVERIFIKASI, A.DISPATCH): (S.DIDISPOSISIKAN, frozenset({R.DESK})),
    (S.TERVERIFIKASI, A.REQUEST_INFO): (S.TERTUNDA, frozenset({R.DESK})),
    (S.TERVERIFIKASI, A.REJECT): (S.DITOLAK, frozenset({R.DESK})),
    (S.TERVERIFIKASI, A.NOT_AUTHORITY): (S.BUKAN_WEWENANG, frozenset({R.DESK})),
    (S.DIDISPOSISIKAN, A.START): (S.DITINDAKLANJUTI, frozenset({R.AGENCY, R.DESK})),
    (S.DIDISPOSISIKAN, A.RESOLVE): (S.SELESAI, frozenset({R.AGENCY, R.DESK})),
    (S.DIDISPOSISIKAN, A.REQUEST_INFO): (S.TERTUNDA, frozenset({R.AGENCY, R.DESK})),
    (S.DIDISPOSISIKAN, A.DISPATCH): (S.DIDISPOSISIKAN, frozenset({R.DESK})),
    (S.DIDISPOSISIKAN, A.RETURN): (S.TERVERIFIKASI, frozenset({R.AGENCY, R.DESK})),
    (S.DITINDAKLANJUTI, A.RESOLVE): (S.SELESAI, frozenset({R.AGENCY, R.DESK})),
    (S.DITINDAKLANJUTI, A.REQUEST_INFO): (S.TERTUNDA, frozenset({R.AGENCY, R.DESK})),
    (S.TERTUNDA, A.RESUME): (S.BARU, frozenset({R.CITIZEN, R.DESK, R.AGENCY})),
    (S.TERTUNDA, A.REJECT): (S.DITOLAK, frozenset({R.DESK})),
    (S.SELESAI, A.CLOSE): (S.DITUTUP, frozenset({R.CITIZEN, R.SYSTEM, R.DESK})),
    (S.SELESAI, A.REOPEN): (S.DITINDAKLANJUTI, frozenset({R.CITIZEN, R.DESK})),
    (S.DITOLAK, A.REOPEN): (S.BARU, frozenset({R.DESK})),
    (S.BUKAN_WEWENANG, A.REOPEN): (S.BARU, frozenset({R.DESK})),
    # The citizen asks once (handling.request_review checks) for a second look.
    (S.DITOLAK, A.REVIEW): (S.BARU, frozenset({R.CITIZEN})),
}
OPEN_STATUSES = frozenset(
    {S.BARU, S.TERVERIFIKASI, S.DIDISPOSISIKAN, S.DITINDAKLANJUTI, S.TERTUNDA}
)
# The reporter may withdraw a complaint while it is open.
TRANSITIONS.update(
    {
        (status, A.WITHDRAW): (S.DICABUT, frozenset({R.CITIZEN}))
        for status in S
        if status in OPEN_STATUSES
    }
)

# Actions whose text the officer must give (the citizen reads it): a reason, a
# question, or what was done to resolve the complaint.
NEEDS_TEXT = frozenset({A.REJECT, A.NOT_AUTHORITY, A.REQUEST_INFO, A.RESOLVE})
FINAL_STATUSES = frozenset({S.DITUTUP, S.DITOLAK, S.BUKAN_WEWENANG, S.DICABUT})


@dataclass(frozen=True)
class Move:
    source: Status
    action: Action
    target: Status


class IllegalTransition(Exception):
    """The move is not in the table, or the role may not make it."""

    def __init__(self, status: Status, action: Action, reason: str):
        super().__init__(f"{action} not allowed from {status}: {reason}")
        self.status = status
        self.action = action
        self.reason = reason


def plan(status: Status, action: Action, role: Role, resume_to: Status | None = None) -> Move:
    entry = TRANSITIONS.get((status, action))
    if entry is None:
        raise IllegalTransition(status, action, "transition")
    target, roles = entry
    if role not in roles:
        raise IllegalTransition(status, action, "role")
    if action is A.RESUME:
        target = resume_to or S.BARU
    return Move(status, action, target)


def actions_from(status: Status, role: Role) -> list[Action]:
    return [a for (s, a), (_, roles) in TRANSITIONS.items() if s is status and role in roles]
