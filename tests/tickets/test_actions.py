"""What a person may do to a ticket now: every lifecycle move offered, blockers saying why not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.tickets import Blocker, State
from yoi.tickets.lifecycle import Action, actions_for

P, R, Q, IP, D, C = (
    State.PLANNING,
    State.READY,
    State.QUEUED,
    State.INPROGRESS,
    State.DONE,
    State.CLOSED,
)
MOVES = {P: {R, C}, R: {Q, P, C}, Q: {IP, P, C}, IP: {D, C}, D: {C}, C: set()}
"""The issue's lifecycle, written out independently of the library's table."""
WAITING = {Q, IP}
VERB_TARGETS = {"ready": R, "queue": Q, "close": C}

blockers = st.lists(
    st.builds(
        Blocker,
        ticket_id=st.from_regex(r"[0-9A-Z]{13}", fullmatch=True),
        state=st.sampled_from([P, R, Q, IP]),
        via=st.sampled_from(["depends_on", "blocks"]),
    ),
    max_size=4,
    unique_by=lambda blocker: blocker.ticket_id,
)


def target(action: Action) -> State | None:
    """The state an action moves to, read off its route and body; None for thread writes."""
    if action.verb == "transitions":
        return State(action.body["to"])
    return VERB_TARGETS.get(action.verb)


@pytest.mark.parametrize("state", list(State))
def test_every_allowed_move_is_offered_and_no_other(state: State) -> None:
    offered = actions_for(state, ())
    moves = [action for action in offered if target(action) is not None]
    assert {target(action) for action in moves} == MOVES[state]
    assert all(action.body["from"] == state.value for action in moves)
    assert not any(action.blocked for action in offered)
    assert offered[-1].name == "comment"
    assert offered[-1].asks is not None
    assert offered[-1].asks.field == "body"


@pytest.mark.parametrize("state", [IP, D])
def test_work_in_progress_or_done_can_be_reviewed_either_way(state: State) -> None:
    reviews = [a for a in actions_for(state, ()) if a.verb == "review"]
    assert sorted(a.body["status"] for a in reviews) == ["approve", "request_changes"]
    assert all(action.asks is not None for action in reviews)
    assert not [a for a in actions_for(R, ()) if a.verb == "review"]


@pytest.mark.parametrize("state", list(State))
def test_closing_and_marking_ready_ask_for_their_text(state: State) -> None:
    asked = {a.name: a.asks.field for a in actions_for(state, ()) if a.asks is not None}
    if C in MOVES[state]:
        assert asked["close"] == "resolution"
    if R in MOVES[state]:
        assert asked["ready"] == "summary"


@given(blockers)
def test_queueing_is_held_only_by_blockers_that_are_not_waiting_themselves(
    found: list[Blocker],
) -> None:
    (queue,) = [a for a in actions_for(R, found) if a.name == "queue"]
    stopping = [b for b in found if b.state not in WAITING]
    assert queue.blocked == bool(stopping)
    if stopping:
        assert list(queue.blockers) == stopping
        assert queue.lead == "Blocked by"
    elif found:
        assert list(queue.blockers) == found
        assert queue.lead == "Will wait for"
    else:
        assert queue.reason is None
        assert queue.blockers == ()
    for blocker in queue.blockers:
        assert f"{blocker.ticket_id} ({blocker.state})" in (queue.reason or "")


@given(blockers)
def test_starting_is_held_by_any_blocker_and_nothing_else_is(found: list[Blocker]) -> None:
    offered = actions_for(Q, found)
    (start,) = [a for a in offered if a.name == "start"]
    assert start.blocked == bool(found)
    assert list(start.blockers) == found
    assert not any(a.blocked for a in offered if a.name != "start")
