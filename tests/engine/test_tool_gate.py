"""The engine's tool gate: it sees each call before the tool runs, may refuse it, may wait."""

import asyncio
from collections.abc import Mapping

from yoi.engine import (
    Engine,
    EngineEvent,
    EngineLimits,
    RunEnded,
    RunResult,
    ToolCall,
    ToolCallFinished,
    ToolLimits,
    ToolResult,
    ToolResultMessage,
    UserMessage,
)
from yoi.providers.script import Call, Text
from yoi.providers.scripted import ScriptedModel


class CountingTool:
    name = "act"
    description = "acts"
    parameters: Mapping[str, object] = {"type": "object"}

    def __init__(self) -> None:
        self.calls: list[Mapping[str, object]] = []

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        self.calls.append(arguments)
        return ToolResult(f"acted {arguments.get('n')}")


class HeldGate:
    """Refuses calls whose ``n`` is in ``refuse``; holds each call until its id is released."""

    def __init__(self, *, refuse: frozenset[object] = frozenset(), hold: bool = False) -> None:
        self.refuse = refuse
        self.hold = hold
        self.seen: list[tuple[str, Mapping[str, object]]] = []
        self.released: dict[str, asyncio.Event] = {}
        self.waiting = asyncio.Queue[str]()

    async def admit(self, call: ToolCall, arguments: Mapping[str, object]) -> ToolResult | None:
        self.seen.append((call.id, arguments))
        if self.hold:
            gate = self.released.setdefault(call.id, asyncio.Event())
            self.waiting.put_nowait(call.id)
            await gate.wait()
        if arguments.get("n") in self.refuse:
            return ToolResult(f"{call.name} refused by the gate", is_error=True)
        return None

    def release(self, call_id: str) -> None:
        self.released.setdefault(call_id, asyncio.Event()).set()


async def collect(engine: Engine) -> list[EngineEvent]:
    async with asyncio.timeout(5):
        return [event async for event in engine.run("system", [UserMessage("go")])]


async def test_a_refused_call_never_reaches_the_tool_and_the_model_reads_why() -> None:
    tool, gate = CountingTool(), HeldGate(refuse=frozenset({2}))
    model = ScriptedModel(
        [[Call("act", {"n": 1}, id="c1"), Call("act", {"n": 2}, id="c2")], [Text("ok")]]
    )
    events = await collect(Engine(model, tools=[tool], gate=gate))
    assert tool.calls == [{"n": 1}]
    assert sorted(gate.seen, key=lambda seen: seen[0]) == [("c1", {"n": 1}), ("c2", {"n": 2})]
    finished = {e.call.id: e.result for e in events if isinstance(e, ToolCallFinished)}
    assert finished["c2"] == ToolResult("act refused by the gate", is_error=True)
    assert not finished["c1"].is_error
    assert model.requests[1].messages[-1] == ToolResultMessage(
        "c2", "act", "act refused by the gate", True
    )
    assert events[-1] == RunEnded(RunResult.COMPLETED)


async def test_calls_the_gate_cannot_judge_are_refused_before_it_sees_them() -> None:
    gate = HeldGate()
    model = ScriptedModel([[Call("nope", id="a"), Call("act", "{bad", id="b")], [Text("ok")]])
    await collect(Engine(model, tools=[CountingTool()], gate=gate))
    assert gate.seen == []


async def test_each_parallel_call_waits_for_its_own_answer() -> None:
    tool, gate = CountingTool(), HeldGate(hold=True)
    model = ScriptedModel(
        [[Call("act", {"n": 1}, id="c1"), Call("act", {"n": 2}, id="c2")], [Text("ok")]]
    )
    engine = Engine(model, tools=[tool], gate=gate)
    finished = asyncio.Queue[str]()

    async def consume() -> None:
        async for event in engine.run("system", [UserMessage("go")]):
            if isinstance(event, ToolCallFinished):
                finished.put_nowait(event.call.id)

    async with asyncio.timeout(5), asyncio.TaskGroup() as group:
        group.create_task(consume())
        assert {await gate.waiting.get(), await gate.waiting.get()} == {"c1", "c2"}
        gate.release("c2")
        assert await finished.get() == "c2"
        assert tool.calls == [{"n": 2}]
        gate.release("c1")
        assert await finished.get() == "c1"


async def test_the_gates_wait_does_not_count_against_the_tools_timeout() -> None:
    tool, gate = CountingTool(), HeldGate(hold=True)
    limits = EngineLimits(tools=ToolLimits(timeout=0.05))
    model = ScriptedModel([[Call("act", {"n": 1}, id="c1")], [Text("ok")]])
    # A person takes five times the tool's timeout to answer: the time under test.
    asyncio.get_running_loop().call_later(0.25, gate.release, "c1")
    events = await collect(Engine(model, tools=[tool], limits=limits, gate=gate))
    (finished,) = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished.result == ToolResult("acted 1")
    assert tool.calls == [{"n": 1}]
