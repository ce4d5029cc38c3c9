"""The transition table: every legal move and who may make it; everything else is refused."""

from __future__ import annotations

import itertools

import pytest

from conversations.core.lifecycle import (
    NEEDS_TEXT,
    OPEN_STATUSES,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Role,
    Status,
    actions_from,
    plan,
)

ALL_MOVES = list(itertools.product(Status, Action))
ILLEGAL = [(s, a) for s, a in ALL_MOVES if (s, a) not in TRANSITIONS]
LEGAL_BY_ROLE = [
    (s, a, role) for (s, a), (_, roles) in TRANSITIONS.items() for role in Role if role in roles
]
FORBIDDEN_ROLES = [
    (s, a, role) for (s, a), (_, roles) in TRANSITIONS.items() for role in Role if role not in roles
]


def test_the_main_path_runs_from_baru_to_ditutup() -> None:
    status = Status.BARU
    for action, role, expected in [
        (Action.VERIFY, Role.DESK, Status.TERVERIFIKASI),
        (Action.DISPATCH, Role.DESK, Status.DIDISPOSISIKAN),
        (Action.START, Role.AGENCY, Status.DITINDAKLANJUTI),
        (Action.RESOLVE, Role.AGENCY, Status.SELESAI),
        (Action.CLOSE, Role.SYSTEM, Status.DITUTUP),
    ]:
        status = plan(status, action, role).target
        assert status is expected


@pytest.mark.parametrize(("status", "action"), ILLEGAL, ids=lambda v: str(v))
def test_every_move_outside_the_table_is_refused_for_every_role(
    status: Status, action: Action
) -> None:
    for role in Role:
        with pytest.raises(IllegalTransition) as refused:
            plan(status, action, role)
        assert refused.value.reason == "transition"
        assert refused.value.status is status and refused.value.action is action


@pytest.mark.parametrize(("status", "action", "role"), FORBIDDEN_ROLES, ids=lambda v: str(v))
def test_a_role_not_named_in_the_table_may_not_make_the_move(
    status: Status, action: Action, role: Role
) -> None:
    with pytest.raises(IllegalTransition) as refused:
        plan(status, action, role)
    assert refused.value.reason == "role"


@pytest.mark.parametrize(("status", "action", "role"), LEGAL_BY_ROLE, ids=lambda v: str(v))
def test_every_move_in_the_table_is_allowed_to_its_roles(
    status: Status, action: Action, role: Role
) -> None:
    move = plan(status, action, role, resume_to=Status.DIDISPOSISIKAN)
    expected = TRANSITIONS[(status, action)][0]
    if action is Action.RESUME:
        expected = Status.DIDISPOSISIKAN
    assert (move.source, move.action, move.target) == (status, action, expected)


def test_resume_returns_to_the_status_held_before_tertunda() -> None:
    for before in (Status.BARU, Status.TERVERIFIKASI, Status.DIDISPOSISIKAN):
        assert plan(Status.TERTUNDA, Action.RESUME, Role.CITIZEN, before).target is before


def test_final_statuses_allow_nothing_but_reopening_or_a_review() -> None:
    for status in (Status.DITUTUP, Status.DICABUT):
        assert all(actions_from(status, role) == [] for role in Role)
    for status in (Status.DITOLAK, Status.BUKAN_WEWENANG):
        assert actions_from(status, Role.DESK) == [Action.REOPEN]
        assert actions_from(status, Role.AGENCY) == []
    assert actions_from(Status.DITOLAK, Role.CITIZEN) == [Action.REVIEW]
    assert actions_from(Status.BUKAN_WEWENANG, Role.CITIZEN) == []


def test_agencies_cannot_verify_reject_or_dispatch() -> None:
    for status in Status:
        allowed = set(actions_from(status, Role.AGENCY))
        assert not allowed & {Action.VERIFY, Action.REJECT, Action.NOT_AUTHORITY, Action.DISPATCH}


def test_the_citizen_can_only_resume_close_reopen_withdraw_or_ask_for_review() -> None:
    citizen_moves = {a for s in Status for a in actions_from(s, Role.CITIZEN)}
    assert citizen_moves == {
        Action.RESUME, Action.CLOSE, Action.REOPEN, Action.WITHDRAW, Action.REVIEW,
    }  # fmt: skip


def test_a_complaint_may_be_withdrawn_only_while_it_is_open() -> None:
    withdrawable = {s for s in Status if Action.WITHDRAW in actions_from(s, Role.CITIZEN)}
    assert withdrawable == OPEN_STATUSES


def test_resolving_needs_what_was_done() -> None:
    assert Action.RESOLVE in NEEDS_TEXT
