"""The workspace tools handed to a runtime: the Companion's workers get them, others do not."""

from __future__ import annotations

from pathlib import Path

from tests.tickets.rig import Clock, new_store

from yoi.backend.workspace_tools import (
    COMPANION_AUTHOR,
    READING,
    reading_tools,
    workspace_tools,
)
from yoi.orchestrator.submissions import read_submission
from yoi.providers.script import Call, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import CreateWorkerRequest, Event, Runtime
from yoi.runtime.events import ToolCallFinishedEvent
from yoi.testing.observe import run_to_end
from yoi.tickets import State
from yoi.tickets.ids import encode_id
from yoi.tools import IntakeReport, parse_report

NAMES = {
    "list_tickets",
    "show_ticket",
    "search_tickets",
    "ready_tickets",
    "create_ticket",
    "comment_ticket",
}


def finished(events: list[Event]) -> list[tuple[str, str, bool]]:
    """Each tool call's name, summary and error flag, in the order they finished."""
    bodies = [event.event for event in events]
    return [
        (body.name, body.summary, body.is_error)
        for body in bodies
        if isinstance(body, ToolCallFinishedEvent)
    ]


async def test_a_companion_worker_creates_a_ticket_and_comments_on_it(tmp_path: Path) -> None:
    clock = Clock()
    store = new_store(tmp_path, clock)
    ticket = encode_id(clock.now)  # the id the store gives its first ticket at this moment
    model = ScriptedModel(
        [
            [Call("create_ticket", {"title": "Dark mode", "body": "For the console."})],
            [Call("comment_ticket", {"id": ticket, "body": "Asked for in the chat."})],
            [Text("It is in planning: mark it ready and queue it when you agree.")],
        ]
    )
    tools = workspace_tools(store)
    async with Runtime(model=model, workspace_tools=tools) as runtime:
        worker = await runtime.create_worker(
            CreateWorkerRequest(worker_id="companion", profile="builtin:companion")
        )
        assert set(worker.tools) >= NAMES
        events = await run_to_end(runtime, worker.worker_id, "a ticket for dark mode, please")
    model.assert_consumed()

    assert {spec.name for spec in model.requests[0].tools} >= NAMES
    assert [(name, error) for name, _, error in finished(events)] == [
        ("create_ticket", False),
        ("comment_ticket", False),
    ]
    detail = store.get(ticket)
    assert detail.meta.title == "Dark mode"
    assert detail.meta.state is State.PLANNING
    thread = (store.root / ticket / "thread.md").read_text(encoding="utf-8")
    assert f"<!-- event: create author: {COMPANION_AUTHOR} " in thread
    assert f"<!-- event: comment author: {COMPANION_AUTHOR} " in thread
    assert "Asked for in the chat." in thread


async def test_a_default_worker_is_not_given_the_workspace_tools(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    model = ScriptedModel([[Call("create_ticket", {"title": "Sneaky"})], [Text("done")]])
    async with Runtime(model=model, workspace_tools=workspace_tools(store)) as runtime:
        worker = await runtime.create_worker(CreateWorkerRequest(worker_id="plain"))
        assert not NAMES & set(worker.tools)
        events = await run_to_end(runtime, worker.worker_id, "make a ticket")
    model.assert_consumed()

    assert not {spec.name for spec in model.requests[0].tools} & NAMES
    assert finished(events) == [("create_ticket", "unknown tool 'create_ticket'", True)]
    assert store.listing().total == 0


async def test_an_intake_worker_reads_tickets_and_answers_with_its_intent(
    tmp_path: Path,
) -> None:
    clock = Clock()
    store = new_store(tmp_path, clock)
    made = store.create("Dark mode", "The console follows the system theme.", author="ann")
    intent = {
        "implementation_ready": True,
        "intent": ["The console follows the system's light or dark theme."],
        "binding_decisions": [],
        "requirements": ["A dark palette applies when the system prefers dark."],
        "implementation_latitude": ["The palette's exact colours."],
        "escalate_if": [],
        "validation": ["The console's browser tests pass."],
        "reviewer_focus": ["Contrast of the dark palette."],
    }
    model = ScriptedModel(
        [
            [
                Call("show_ticket", {"id": made.id}),
                Call("comment_ticket", {"id": made.id, "body": "sneaking a note"}),
            ],
            [Call("submit_intent", intent)],
            [Text("Accepted.")],
        ]
    )
    tools = workspace_tools(store)
    async with Runtime(
        model=model, workspace_tools=tools, workspace_reading=reading_tools(tools)
    ) as runtime:
        intake = await runtime.create_worker(CreateWorkerRequest(profile="builtin:orchestrator"))
        assert set(intake.tools) == READING | {"submit_intent"}
        events = await run_to_end(runtime, intake.worker_id, f"accept ticket {made.id}")
        answer = await read_submission(runtime, intake.worker_id, frozenset({"submit_intent"}))
    model.assert_consumed()
    results = {name: error for name, _, error in finished(events)}
    assert results == {"show_ticket": False, "comment_ticket": True, "submit_intent": False}
    assert answer is not None
    report = parse_report(answer.call)
    assert isinstance(report, IntakeReport)
    assert report.implementation_ready
    assert [str(event.kind) for event in store.get(made.id).events] == ["create"]
