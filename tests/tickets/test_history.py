"""The state history a thread tells, and the doctor's findings where an event contradicts it."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.tickets.rig import SAMPLE, SAMPLE_IDS, bring, make, new_store

from yoi.tickets import State, ThreadEvent
from yoi.tickets.doctor import diagnose
from yoi.tickets.frontmatter import parse_item
from yoi.tickets.history import Contradiction, History, replay
from yoi.tickets.thread import parse_thread

AT = "2026-01-01T00:00:00Z"


def move(source: str, target: str, *, field: str = "state", at: str = AT) -> ThreadEvent:
    attrs = (("from", source), ("to", target), ("reason", "r"), ("field", field))
    return ThreadEvent("state_changed", "a", at, attrs, None, "")


def event(kind: str) -> ThreadEvent:
    return ThreadEvent(kind, "a", AT, (), None, "")


def forge(store_root: Path, ticket: str, header: str) -> None:
    """What a forger (or a careless hand) leaves: an event block appended outside the store."""
    with open(store_root / ticket / "thread.md", "a", encoding="utf-8") as file:
        file.write(f"\n{header}\n\n## State changed\n\nForged.\n\n---\n")


# replaying events


def test_a_history_the_store_writes_has_no_contradiction() -> None:
    events = [
        event("create"),
        move("planning", "ready"),
        move("ready", "queued"),
        move("queued", "planning"),
        move("planning", "ready"),
        move("ready", "closed"),
        event("close"),
    ]
    assert replay(events) == History("closed", ())


def test_no_state_change_leaves_no_state() -> None:
    assert replay([event("create"), event("comment")]) == History(None, ())


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (
            [move("planning", "ready"), move("inprogress", "done", at="2026-01-02T00:00:00Z")],
            "moves from inprogress, but the events before it left the ticket ready",
        ),
        ([move("planning", "done")], "moves planning → done, which is not a move of the lifecycle"),
        ([move("planning", "finished")], "moves planning → finished, which is not a move"),
        ([event("close"), move("done", "planning")], "moves from done, but the events before"),
    ],
)
def test_an_event_out_of_place_is_a_contradiction(events: list[ThreadEvent], message: str) -> None:
    found = replay(events).contradictions
    assert len(found) == 1
    assert found[0].message.startswith(message)


def test_the_upstream_race_and_legacy_workflow_moves_are_tolerated() -> None:
    """Two writers of the lockless original both moved ready → planning; legacy ``intake``."""
    events = [
        move("planning", "ready"),
        move("ready", "planning"),
        move("ready", "planning"),
        move("intake", "done", field="workflow_state"),
    ]
    assert replay(events) == History("done", ())


def test_only_an_exact_repeat_is_tolerated() -> None:
    events = [move("planning", "ready"), move("ready", "planning"), move("ready", "queued")]
    found = replay(events).contradictions
    assert found == (
        Contradiction(AT, "moves from ready, but the events before it left the ticket planning"),
    )


@pytest.mark.parametrize("ticket", SAMPLE_IDS)
def test_every_sample_thread_replays_to_its_front_matter_state(ticket: str) -> None:
    folder = SAMPLE / "tickets" / ticket
    history = replay(parse_thread((folder / "thread.md").read_text()).events)
    state = parse_item((folder / "item.md").read_text()).meta.state
    assert history == History(state.value, ())


# the doctor


def test_a_forged_move_out_of_place_is_an_error(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store, State.READY)
    forge(
        store.root,
        ticket,
        f"<!-- event: state_changed author: m at: {AT} from: inprogress to: done "
        "reason: done field: state -->",
    )

    findings = diagnose(store.root).findings

    assert [(f.severity, f.code, f.path) for f in findings] == [
        ("error", "history_conflict", f"{ticket}/thread.md"),
        ("warning", "state_mismatch", f"{ticket}/item.md"),
    ]
    assert findings[0].message == (
        f"the state_changed event at {AT} moves from inprogress, "
        "but the events before it left the ticket ready"
    )
    assert findings[1].message == "item.md says ready, but the thread's state changes end at done"


def test_a_forged_move_is_found_even_after_the_next_real_move(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store, State.READY)
    forge(
        store.root,
        ticket,
        f"<!-- event: state_changed author: m at: {AT} from: ready to: done "
        "reason: done field: state -->",
    )
    bring(store, ticket, State.CLOSED)

    codes = [(f.code, f.message) for f in diagnose(store.root).findings]

    assert codes == [
        (
            "history_conflict",
            f"the state_changed event at {AT} moves ready → done, "
            "which is not a move of the lifecycle",
        ),
    ]


def test_a_front_matter_edited_by_hand_is_a_warning(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store, State.QUEUED)
    item = store.root / ticket / "item.md"
    item.write_text(item.read_text().replace("state: 'queued'", "state: 'planning'"))

    finding = diagnose(store.root).findings

    assert [(f.severity, f.code) for f in finding] == [("warning", "state_mismatch")]
    assert store.get(ticket).meta.state is State.PLANNING
