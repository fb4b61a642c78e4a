"""The transitions log: every phase change and gate move once, in the order it happened, each
with a cursor that resumes exactly after it; cursors of other states, from the future, or
malformed are refused with a typed error, and pruned ones expire."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.orchestrator.stack import make_repository

from yoi.errors import CursorExpired, InvalidCursor
from yoi.orchestrator.hosts import StaticHosts
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.orchestrator.transitions import decode_cursor, encode_cursor
from yoi.tickets import TicketStore

TICKET = "00001KSKBP8Z8"
OTHER = "00001KSKBP8Z9"
EPOCHS = st.text("0123456789abcdef", min_size=16, max_size=16)


@given(EPOCHS, st.integers(min_value=0, max_value=2**62))
def test_a_cursor_names_its_sequence_number_in_its_own_state(epoch: str, seq: int) -> None:
    assert decode_cursor(encode_cursor(epoch, seq), epoch) == seq


@given(EPOCHS, EPOCHS, st.integers(min_value=0, max_value=2**62))
def test_a_cursor_of_another_state_is_refused(mine: str, theirs: str, seq: int) -> None:
    if mine != theirs:
        with pytest.raises(InvalidCursor):
            decode_cursor(encode_cursor(theirs, seq), mine)


@given(EPOCHS, st.text(max_size=60))
def test_any_other_text_is_an_invalid_cursor_or_the_cursor_it_spells(epoch: str, text: str) -> None:
    try:
        seq = decode_cursor(text, epoch)
    except InvalidCursor:
        return
    assert encode_cursor(epoch, seq) == text


def a_run(**changes: object) -> Run:
    run = Run(TICKET, 1, Phase.ACCEPTING, 10.0, 10.0)
    return dataclasses.replace(run, **changes)  # type: ignore[arg-type]


def test_each_change_of_phase_or_gate_is_logged_once_with_its_save(tmp_path: Path) -> None:
    with OrchestratorState.open(state_path(tmp_path)) as state:
        run = a_run()
        state.save(run)
        state.save(run)  # nothing moved: nothing logged
        implementing = run.advance(Phase.IMPLEMENTING, at=11.0)
        state.save(implementing)
        state.save(dataclasses.replace(implementing, coder_worker_id="coder"))
        state.save(dataclasses.replace(implementing, gate="plan"))
        state.save(implementing)
        stopped = implementing.advance(Phase.STOPPED, at=12.0, stop_reason="stopped_by_person")
        state.save(stopped)
        again = Run(TICKET, 2, Phase.IMPLEMENTING, 13.0, 13.0)
        state.save(again)
        state.save(Run(OTHER, 1, Phase.ACCEPTING, 14.0, 14.0))
        logged = state.transitions()
    assert [
        (t.ticket_id[-1], t.attempt, t.kind.value, t.from_phase, t.to, t.reason) for t in logged
    ] == [
        ("8", 1, "phase", None, "accepting", None),
        ("8", 1, "phase", "accepting", "implementing", None),
        ("8", 1, "gate", None, "open", None),
        ("8", 1, "gate", None, "approved", None),
        ("8", 1, "phase", "implementing", "stopped", "stopped_by_person"),
        ("8", 2, "phase", "stopped", "implementing", None),
        ("9", 1, "phase", None, "accepting", None),
    ]
    assert [t.seq for t in logged] == list(range(1, 8))
    assert [t.gate for t in logged[2:4]] == ["plan", "plan"]


def test_a_cursor_resumes_exactly_after_its_transition(tmp_path: Path) -> None:
    with OrchestratorState.open(state_path(tmp_path)) as state:
        run = a_run()
        for phase in (Phase.IMPLEMENTING, Phase.REVIEWING, Phase.MERGING):
            state.save(run)
            run = run.advance(phase, at=run.updated_at + 1)
        state.save(run)
        every = state.transitions()
        epoch = state.epoch()
        for index, transition in enumerate(every):
            after = decode_cursor(transition.cursor, epoch)
            assert state.transitions(after) == every[index + 1 :]
        assert state.transitions(0, limit=2) == every[:2]
        assert state.transition_bounds() == (0, 4)


async def test_the_log_keeps_the_newest_and_an_older_cursor_expires(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    with OrchestratorState.open(state_path(root)) as state:
        state.save(a_run())
        first = state.transitions()[0]
        with state._database.writing("prune as a long life would") as connection:
            connection.execute("DELETE FROM transitions WHERE seq <= ?", (first.seq,))
            connection.execute(
                "INSERT INTO transitions (ticket_id, attempt, kind, to_value, at) "
                "VALUES (?, 1, 'phase', 'implementing', 11.0)",
                (TICKET,),
            )
        assert state.transition_bounds() == (1, 2)
    tickets = TicketStore(root / ".yoi" / "tickets")
    async with Orchestrator(
        root=root, tickets=tickets, hosts=StaticHosts({}), model_problem="none"
    ) as orchestrator:
        with pytest.raises(CursorExpired):
            orchestrator.transitions(encode_cursor(first.epoch, 0))
        assert [t.seq for t in orchestrator.transitions(first.cursor)] == [2]
        assert [t.seq for t in orchestrator.transitions()] == [2]
        with pytest.raises(InvalidCursor):
            orchestrator.transitions(encode_cursor(first.epoch, 3))  # from the future
        with pytest.raises(InvalidCursor):
            orchestrator.transitions(encode_cursor("0" * 16, 1))  # another state's
        assert orchestrator.cursor() == encode_cursor(first.epoch, 2)
