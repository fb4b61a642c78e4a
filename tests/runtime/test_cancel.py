import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import pytest

from yoi.engine import AssistantMessage, ToolResult, UserMessage
from yoi.providers.script import Call, Stall, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import (
    CapabilityRequest,
    CreateWorkerRequest,
    FsStore,
    Input,
    OnBusy,
    Profile,
    ProfileCatalog,
    Role,
    Runtime,
    WorkerStatus,
)
from yoi.runtime.events import RunFinished, TextDoneEvent
from yoi.testing.observe import run_to_end, until


class StubbornTool:
    """A tool that hangs and ignores being cancelled once."""

    name = "stubborn"
    description = "hangs"
    parameters: Mapping[str, object] = {"type": "object"}

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.Event().wait()
        raise AssertionError("unreachable")


def tool_runtime(model: ScriptedModel, tool: StubbornTool) -> Runtime:
    profiles = ProfileCatalog([Profile("default", "default.md", frozenset({"stubborn"}))])
    return Runtime(model=model, tools=[tool], profiles=profiles)


async def test_cancel_with_a_stalled_provider_returns_to_idle_within_a_second() -> None:
    async with Runtime(model=ScriptedModel([[Text("thinking…"), Stall()]])) as runtime:
        worker = await runtime.create_worker()
        async with await runtime.subscribe(worker.worker_id) as subscription:
            ack = await runtime.send_input(worker.worker_id, "hi")
            await until(subscription, "text_delta")
            async with asyncio.timeout(1.0):
                cancelled = await runtime.cancel_worker(worker.worker_id)
            events = await until(subscription, "status")
        assert cancelled.cancelled
        finished = [e.event.to_dict() for e in events if e.event.type == "run_finished"]
        assert finished == [
            {"type": "run_finished", "run_id": ack.run_id, "result": "cancelled", "error": None}
        ]
        assert (await runtime.get_worker(worker.worker_id)).status is WorkerStatus.IDLE


async def test_cancel_with_a_tool_that_ignores_cancellation_still_returns_in_time() -> None:
    tool = StubbornTool()
    model = ScriptedModel([[Call("stubborn")], [Text("after")]])
    async with tool_runtime(model, tool) as runtime:
        request = CreateWorkerRequest(requested_capabilities=(CapabilityRequest("stubborn"),))
        worker = await runtime.create_worker(request)
        assert worker.tools == ("stubborn",)
        await runtime.send_input(worker.worker_id, "go")
        async with asyncio.timeout(1.0):
            await tool.entered.wait()
        async with asyncio.timeout(1.5):
            assert (await runtime.cancel_worker(worker.worker_id)).cancelled
        detail = await runtime.get_worker(worker.worker_id)
        assert detail.status is WorkerStatus.IDLE
        assert detail.run is None
        async with await runtime.subscribe(worker.worker_id) as subscription:
            await runtime.send_input(worker.worker_id, "again")
            events = await until(subscription, "run_finished")
        assert events[-1].event.to_dict()["result"] == "completed"


async def test_cancel_with_nothing_running_says_so() -> None:
    async with Runtime() as runtime:
        worker = await runtime.create_worker()
        assert not (await runtime.cancel_worker(worker.worker_id)).cancelled


async def test_cancel_drops_queued_inputs_with_an_event_each() -> None:
    async with Runtime(model=ScriptedModel([[Stall()]])) as runtime:
        worker = await runtime.create_worker()
        await runtime.send_input(worker.worker_id, "1")
        queued = await runtime.send_input(worker.worker_id, Input("2", OnBusy.ENQUEUE))
        async with await runtime.subscribe(worker.worker_id) as subscription:
            await runtime.cancel_worker(worker.worker_id)
            events = await until(subscription, "status")
        dropped = [e.event.to_dict() for e in events if e.event.type == "run_finished"]
        assert dropped[0]["run_id"] == queued.run_id
        assert dropped[0]["result"] == "cancelled"
        assert (await runtime.get_worker(worker.worker_id)).queued_inputs == 0


async def test_stop_cancels_then_stops_and_is_idempotent() -> None:
    async with Runtime(model=ScriptedModel([[Stall()]])) as runtime:
        worker = await runtime.create_worker()
        await runtime.send_input(worker.worker_id, "hi")
        async with await runtime.subscribe(worker.worker_id) as subscription:
            async with asyncio.timeout(1.0):
                first = await runtime.stop_worker(worker.worker_id, reason="done for today")
            events = await until(subscription, "worker_stopped")
        again = await runtime.stop_worker(worker.worker_id)
        assert (first.stopped, again.stopped) == (True, False)
        tail = [e.event.to_dict() for e in events[-3:]]
        assert [t["type"] for t in tail] == ["run_finished", "status", "worker_stopped"]
        assert tail[1]["status"] == "stopped"
        assert tail[2]["reason"] == "done for today"
        assert (await runtime.get_worker(worker.worker_id)).status is WorkerStatus.STOPPED


async def test_closing_the_runtime_ends_runs_and_subscriptions() -> None:
    runtime = Runtime(model=ScriptedModel([[Stall()]]))
    await runtime.open()
    worker = await runtime.create_worker()
    subscription = await runtime.subscribe(worker.worker_id)
    await runtime.send_input(worker.worker_id, "hi")
    async with asyncio.timeout(2):
        await runtime.close()
        remaining = [event async for event in subscription]
    assert remaining[0].event.type == "snapshot"


async def by_cancel(runtime: Runtime, worker_id: str) -> None:
    await runtime.cancel_worker(worker_id)
    await runtime.send_input(worker_id, "go on")


async def by_interrupt(runtime: Runtime, worker_id: str) -> None:
    await runtime.send_input(worker_id, Input("go on", OnBusy.INTERRUPT))


async def by_stop(runtime: Runtime, worker_id: str) -> None:
    await runtime.stop_worker(worker_id)
    await runtime.reopen_worker(worker_id)
    await runtime.send_input(worker_id, "go on")


@pytest.mark.parametrize("cut_short_then_go_on", [by_cancel, by_interrupt, by_stop])
async def test_a_reply_cut_short_keeps_what_it_said_marked_and_the_next_runs_see_it(
    tmp_path: Path, cut_short_then_go_on: Callable[[Runtime, str], Awaitable[None]]
) -> None:
    model = ScriptedModel([[Text("Once upon", " a time"), Stall()], [Text("The end")]])
    async with Runtime(model=model, store=FsStore(tmp_path)) as runtime:
        worker_id = (await runtime.create_worker()).worker_id
        async with await runtime.subscribe(worker_id) as subscription:
            first = await runtime.send_input(worker_id, "tell me")
            await until(subscription, "text_delta", count=2)
            await cut_short_then_go_on(runtime, worker_id)
            events = [e.event for e in await until(subscription, "run_finished", count=2)]
        page = await runtime.transcript(worker_id)
    partial = TextDoneEvent(first.run_id, "Once upon a time", 2, cut="cancelled")
    assert events.index(partial) < events.index(RunFinished(first.run_id, "cancelled"))
    assert [(item.role, item.content, item.cut) for item in page.items] == [
        (Role.USER, "tell me", None),
        (Role.ASSISTANT, "Once upon a time", "cancelled"),
        (Role.USER, "go on", None),
        (Role.ASSISTANT, "The end", None),
    ]
    told = (UserMessage("tell me"), AssistantMessage("Once upon a time"), UserMessage("go on"))
    assert model.requests[-1].messages == told

    again = ScriptedModel([[Text("Again?")]])
    async with Runtime(model=again, store=FsStore(tmp_path)) as runtime:  # after a restart
        assert (await runtime.transcript(worker_id)).items == page.items
        await run_to_end(runtime, worker_id, "once more")
    assert again.requests[0].messages[:3] == told


@pytest.mark.parametrize("said", [(), (" \n",)])
async def test_a_cancelled_run_that_said_nothing_visible_records_no_reply(
    said: tuple[str, ...],
) -> None:
    model = ScriptedModel([[Text(*said), Stall()], [Text("hello")]])
    async with Runtime(model=model) as runtime:
        worker_id = (await runtime.create_worker()).worker_id
        async with await runtime.subscribe(worker_id) as subscription:
            await runtime.send_input(worker_id, "hi")
            await until(subscription, "text_delta" if said else "run_started")
            await runtime.cancel_worker(worker_id)
            events = await until(subscription, "status")
        assert "text_done" not in [e.event.type for e in events]
        assert (await runtime.transcript(worker_id)).total == 1
        await run_to_end(runtime, worker_id, "again")
    assert model.requests[-1].messages == (UserMessage("hi"), UserMessage("again"))
