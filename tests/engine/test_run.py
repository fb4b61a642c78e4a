import asyncio
from collections.abc import Mapping

import pytest

from yoi.engine import (
    AssistantMessage,
    AssistantReply,
    Engine,
    EngineEvent,
    EngineLimits,
    RunEnded,
    RunResult,
    TextDelta,
    TextDone,
    ThinkingDelta,
    ThinkingDone,
    ToolCallFinished,
    ToolCallStarted,
    ToolLimits,
    ToolResult,
    ToolResultMessage,
    UsageReport,
    UserMessage,
)
from yoi.errors import ProviderServerError
from yoi.providers.script import Call, Fail, Text, Think, Usage
from yoi.providers.scripted import ScriptedModel


class FuncTool:
    """A tool whose behaviour is an async function of its arguments."""

    def __init__(self, name: str, func: object) -> None:
        self.name = name
        self.description = f"the {name} tool"
        self.parameters: Mapping[str, object] = {"type": "object"}
        self._func = func

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        result = await self._func(arguments)  # type: ignore[operator]
        assert isinstance(result, ToolResult)
        return result


async def echo(arguments: Mapping[str, object]) -> ToolResult:
    return ToolResult(f"echoed {arguments.get('text')}", str(arguments.get("text")))


async def collect(engine: Engine, prompt: str = "hi") -> list[EngineEvent]:
    async with asyncio.timeout(5):
        return [event async for event in engine.run("system", [UserMessage(prompt)])]


async def test_streams_text_then_ends_completed() -> None:
    model = ScriptedModel([[Text("Hel", "lo"), Usage(4, 2)]])
    events = await collect(Engine(model))
    assert events == [
        TextDelta("Hel"),
        TextDelta("lo"),
        UsageReport(4, 2),
        TextDone("Hello"),
        AssistantReply(AssistantMessage("Hello")),
        RunEnded(RunResult.COMPLETED),
    ]
    model.assert_consumed()


async def test_thinking_is_done_before_text_starts() -> None:
    model = ScriptedModel([[Think("let me ", "see"), Text("ok")]])
    events = await collect(Engine(model))
    kinds = [type(event).__name__ for event in events]
    assert kinds[:4] == ["ThinkingDelta", "ThinkingDelta", "ThinkingDone", "TextDelta"]
    assert ThinkingDone("let me see") in events
    assert ThinkingDelta("see") in events


async def test_tool_results_go_back_to_the_model() -> None:
    model = ScriptedModel([[Call("echo", {"text": "ping"}, id="c1")], [Text("done")]])
    events = await collect(Engine(model, tools=[FuncTool("echo", echo)]))
    finished = [event for event in events if isinstance(event, ToolCallFinished)]
    assert [f.result.text for f in finished] == ["ping"]
    second = model.requests[1]
    assert second.messages[-1] == ToolResultMessage("c1", "echo", "ping", False)
    assert [spec.name for spec in second.tools] == ["echo"]
    assert events[-1] == RunEnded(RunResult.COMPLETED)


async def test_tool_calls_of_one_turn_run_in_parallel() -> None:
    barrier = asyncio.Barrier(2)

    async def meet(arguments: Mapping[str, object]) -> ToolResult:
        await barrier.wait()  # deadlocks unless both calls run at once
        return ToolResult("met")

    model = ScriptedModel([[Call("meet", id="a"), Call("meet", id="b")], [Text("ok")]])
    events = await collect(Engine(model, tools=[FuncTool("meet", meet)]))
    started = [e.call.id for e in events if isinstance(e, ToolCallStarted)]
    finished = [e.call.id for e in events if isinstance(e, ToolCallFinished)]
    assert started == ["a", "b"]
    assert sorted(finished) == ["a", "b"]


async def test_a_hanging_tool_times_out_as_an_error_result() -> None:
    async def hang(arguments: Mapping[str, object]) -> ToolResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    limits = EngineLimits(tools=ToolLimits(timeout=0.05))
    model = ScriptedModel([[Call("hang")], [Text("gave up")]])
    events = await collect(Engine(model, tools=[FuncTool("hang", hang)], limits=limits))
    (finished,) = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished.result.is_error
    assert "timed out" in finished.result.summary


async def test_tool_output_is_bounded_with_a_visible_marker() -> None:
    async def shout(arguments: Mapping[str, object]) -> ToolResult:
        return ToolResult("long", "x" * 100)

    limits = EngineLimits(tools=ToolLimits(max_output=10))
    model = ScriptedModel([[Call("shout", id="s")], [Text("ok")]])
    events = await collect(Engine(model, tools=[FuncTool("shout", shout)], limits=limits))
    (finished,) = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished.truncated
    assert finished.result.text.startswith("x" * 10)
    assert "truncated: 90 more characters" in finished.result.text
    assert "truncated" in str(model.requests[1].messages[-1])


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (Call("nope"), "unknown tool 'nope'"),
        (Call("echo", "{not json"), "arguments are not valid JSON"),
        (Call("echo", "[1, 2]"), "arguments must be a JSON object"),
    ],
)
async def test_bad_calls_become_error_results(call: Call, expected: str) -> None:
    model = ScriptedModel([[call], [Text("ok")]])
    events = await collect(Engine(model, tools=[FuncTool("echo", echo)]))
    (finished,) = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished.result.is_error
    assert expected in finished.result.summary


async def test_a_failing_tool_is_reported_to_the_model() -> None:
    async def broken(arguments: Mapping[str, object]) -> ToolResult:
        raise ValueError("disk on fire")

    model = ScriptedModel([[Call("broken")], [Text("sorry")]])
    events = await collect(Engine(model, tools=[FuncTool("broken", broken)]))
    (finished,) = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished.result.summary == "broken failed: ValueError: disk on fire"
    assert events[-1] == RunEnded(RunResult.COMPLETED)


async def test_turn_limit_ends_the_run() -> None:
    model = ScriptedModel([[Call("echo", {"text": n})] for n in range(3)])
    engine = Engine(model, tools=[FuncTool("echo", echo)], limits=EngineLimits(max_turns=3))
    events = await collect(engine)
    assert events[-1] == RunEnded(RunResult.LIMIT_REACHED)
    model.assert_consumed()


async def test_provider_failure_ends_the_run_failed_with_its_code() -> None:
    error = ProviderServerError("upstream exploded", status=500)
    model = ScriptedModel([[Text("par"), Fail(error)]])
    events = await collect(Engine(model))
    assert events[-1] == RunEnded(RunResult.FAILED, error)
    assert isinstance(events[-1], RunEnded)
    assert events[-1].error is not None
    assert events[-1].error.code == "provider_server_error"


async def test_worker_without_tools_offers_none() -> None:
    model = ScriptedModel([[Text("ok")]])
    await collect(Engine(model))
    assert model.requests[0].tools == ()
