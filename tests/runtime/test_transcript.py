from collections.abc import Mapping
from pathlib import Path

from yoi.engine import AssistantMessage, ToolCall, ToolResult, ToolResultMessage, UserMessage
from yoi.providers.script import Call, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import (
    CapabilityRequest,
    CreateWorkerRequest,
    FsStore,
    MemoryStore,
    Profile,
    ProfileCatalog,
    Role,
    Runtime,
)
from yoi.runtime.events import TextDoneEvent, ToolCallFinishedEvent, ToolCallStartedEvent
from yoi.runtime.transcript import History, ToolEntry, TranscriptEntry, to_messages
from yoi.testing.observe import run_to_end


class Upper:
    name = "upper"
    description = "upper-cases text"
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {"text": {"type": "string"}},
    }

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        text = str(arguments["text"])
        return ToolResult(f"upper-cased {len(text)} characters", text.upper())


def entry(seq: int, role: Role, content: str, tool: ToolEntry | None = None) -> TranscriptEntry:
    return TranscriptEntry(seq, role, content, 0.0, "r1", tool)


def test_tool_calls_join_the_assistant_message_before_them() -> None:
    messages = to_messages(
        [
            entry(1, Role.USER, "shout hi"),
            entry(2, Role.ASSISTANT, "let me"),
            entry(3, Role.TOOL, '{"text": "hi"}', ToolEntry("c1", "upper", result=False)),
            entry(4, Role.TOOL, "HI", ToolEntry("c1", "upper", result=True)),
            entry(5, Role.ASSISTANT, "HI it is"),
        ]
    )
    assert messages == [
        UserMessage("shout hi"),
        AssistantMessage("let me", (ToolCall("c1", "upper", '{"text": "hi"}'),)),
        ToolResultMessage("c1", "upper", "HI"),
        AssistantMessage("HI it is"),
    ]


def test_calls_left_without_results_are_closed_before_the_next_input() -> None:
    messages = to_messages(
        [
            entry(1, Role.USER, "go"),
            entry(2, Role.TOOL, "{}", ToolEntry("c1", "slow", result=False)),
            entry(3, Role.USER, "never mind"),
        ]
    )
    assert messages == [
        UserMessage("go"),
        AssistantMessage("", (ToolCall("c1", "slow", "{}"),)),
        ToolResultMessage("c1", "slow", "the call was interrupted", is_error=True),
        UserMessage("never mind"),
    ]


def test_history_stays_bounded_and_starts_at_a_user_message() -> None:
    history = History(max_messages=6)
    for n in range(10):
        history.add(entry(2 * n + 1, Role.USER, f"q{n}"))
        history.add(entry(2 * n + 2, Role.ASSISTANT, f"a{n}"))
    assert len(history.messages) <= 7
    assert isinstance(history.messages[0], UserMessage)
    assert history.messages[-2:] == [UserMessage("q9"), AssistantMessage("a9")]


async def test_tool_calls_and_results_become_transcript_entries() -> None:
    model = ScriptedModel([[Text("on it"), Call("upper", {"text": "hi"}, id="c1")], [Text("HI")]])
    profiles = ProfileCatalog([Profile("default", "default.md", frozenset({"upper"}))])
    async with Runtime(model=model, tools=[Upper()], profiles=profiles) as runtime:
        request = CreateWorkerRequest(requested_capabilities=(CapabilityRequest("upper"),))
        worker = await runtime.create_worker(request)
        events = await run_to_end(runtime, worker.worker_id, "shout hi")
        page = await runtime.transcript(worker.worker_id)
    finished = [e.event.to_dict() for e in events if e.event.type == "tool_call_finished"]
    assert finished[0]["summary"] == "upper-cased 2 characters"
    assert [(item.role, item.content) for item in page.items] == [
        ("user", "shout hi"),
        ("assistant", "on it"),
        ("tool", '{"text": "hi"}'),
        ("tool", "HI"),
        ("assistant", "HI"),
    ]
    assert page.items[3].to_dict()["tool"] == {
        "call_id": "c1",
        "name": "upper",
        "result": True,
        "is_error": False,
        "summary": "upper-cased 2 characters",
        "truncated": False,
    }


async def test_tools_are_offered_only_when_requested_and_granted() -> None:
    model = ScriptedModel([[Text("a")], [Text("b")]])
    ungranted = ProfileCatalog([Profile("default", "default.md")])
    async with Runtime(model=model, tools=[Upper()], profiles=ungranted) as runtime:
        asked = await runtime.create_worker(
            CreateWorkerRequest(requested_capabilities=(CapabilityRequest("upper", "why"),))
        )
        plain = await runtime.create_worker()
        await run_to_end(runtime, asked.worker_id, "hi")
        await run_to_end(runtime, plain.worker_id, "hi")
    assert asked.tools == plain.tools == ()
    assert [request.tools for request in model.requests] == [(), ()]


async def test_transcript_pages_are_bounded_and_chain() -> None:
    model = ScriptedModel([[Text(f"answer {n}")] for n in range(3)])
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker()
        for n in range(3):
            await run_to_end(runtime, worker.worker_id, f"question {n}")
        first = await runtime.transcript(worker.worker_id, start=1, limit=4)
        second = await runtime.transcript(worker.worker_id, start=first.next_start or 0, limit=4)
    assert (first.total, first.next_start, second.next_start) == (6, 5, None)
    assert [item.sequence for item in (*first.items, *second.items)] == [1, 2, 3, 4, 5, 6]


async def test_memory_store_keeps_only_the_newest_transcript_entries() -> None:
    model = ScriptedModel([[Text(f"answer {n}")] for n in range(5)])
    async with Runtime(model=model, store=MemoryStore(max_transcript=4)) as runtime:
        worker = await runtime.create_worker()
        for n in range(5):
            await run_to_end(runtime, worker.worker_id, f"question {n}")
        page = await runtime.transcript(worker.worker_id, start=1)
    assert page.total == 10
    assert [item.sequence for item in page.items] == [7, 8, 9, 10]
    assert page.start == 7


async def test_text_done_and_tool_events_name_the_transcript_entry_they_became(
    tmp_path: Path,
) -> None:
    model = ScriptedModel(
        [
            [Text("ready")],
            [Text("on it"), Call("upper", {"text": "hi"}, id="c1"), Call("upper", {"text": "yo"})],
            [Text("HI ", "YO")],
        ]
    )
    profiles = ProfileCatalog([Profile("default", "default.md", frozenset({"upper"}))])
    store = FsStore(tmp_path)
    async with Runtime(model=model, tools=[Upper()], profiles=profiles, store=store) as runtime:
        request = CreateWorkerRequest(requested_capabilities=(CapabilityRequest("upper"),))
        worker_id = (await runtime.create_worker(request)).worker_id
        await run_to_end(runtime, worker_id, "warm up")  # later sequences do not start at 1
        events = await run_to_end(runtime, worker_id, "shout")
        page = await runtime.transcript(worker_id)
    entries = {item.sequence: item for item in page.items}
    named = [
        event.event
        for event in events
        if isinstance(event.event, TextDoneEvent | ToolCallStartedEvent | ToolCallFinishedEvent)
    ]
    assert len(named) == 6
    for body in named:
        assert isinstance(body.transcript_sequence, int), body
        entry = entries[body.transcript_sequence]
        assert entry.run_id == body.run_id
        match body:
            case TextDoneEvent(text=text):
                assert (entry.role, entry.content) == (Role.ASSISTANT, text)
            case ToolCallStartedEvent(call_id=call_id, arguments=arguments):
                assert (entry.role, entry.content) == (Role.TOOL, arguments)
                assert entry.tool is not None
                assert (entry.tool.call_id, entry.tool.result) == (call_id, False)
            case ToolCallFinishedEvent(call_id=call_id, summary=summary):
                assert entry.role is Role.TOOL
                assert entry.tool is not None
                assert (entry.tool.call_id, entry.tool.result, entry.tool.summary) == (
                    call_id,
                    True,
                    summary,
                )
    sequences = [body.transcript_sequence for body in named]
    assert len(set(sequences)) == len(sequences)
    reopened = Runtime(store=FsStore(tmp_path), tools=[Upper()], profiles=profiles)
    async with reopened as runtime:  # and the same after a restart
        logged = (await runtime.events(worker_id, limit=500)).events
    assert [e.event for e in logged if e.event in named] == named


async def test_a_result_cut_to_the_output_bound_is_marked_so_after_a_restart_too(
    tmp_path: Path,
) -> None:
    model = ScriptedModel([[Call("upper", {"text": "x" * 40_000}, id="c1")], [Text("done")]])
    profiles = ProfileCatalog([Profile("default", "default.md", frozenset({"upper"}))])
    request = CreateWorkerRequest(requested_capabilities=(CapabilityRequest("upper"),))
    async with Runtime(
        model=model, tools=[Upper()], profiles=profiles, store=FsStore(tmp_path)
    ) as runtime:
        worker = await runtime.create_worker(request)
        await run_to_end(runtime, worker.worker_id, "shout")
    async with Runtime(tools=[Upper()], profiles=profiles, store=FsStore(tmp_path)) as runtime:
        page = await runtime.transcript(worker.worker_id)
    call, result = (item.tool for item in page.items if item.tool is not None)
    assert call is not None
    assert result is not None
    assert (call.truncated, result.truncated) == (False, True)
    assert page.items[2].content.endswith("more characters]")
