"""How a worker's run ended, found whether it ended before, while or after the orchestrator
looked — in a Runtime and through a RuntimeClient."""

from __future__ import annotations

import asyncio

import pytest
from tests.client.test_runtime_client import remote

from yoi.errors import RuntimeUnavailable
from yoi.orchestrator.runs import await_run, finished_run
from yoi.providers.script import Stall, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import CreateWorkerRequest, Runtime
from yoi.runtime.events import RunFinished
from yoi.testing.observe import run_to_end

DEADLINE = 10.0


async def test_a_run_that_already_ended_is_found_in_the_log() -> None:
    async with Runtime(model=ScriptedModel([[Text("done")]])) as runtime:
        worker = await runtime.create_worker(CreateWorkerRequest())
        events = await run_to_end(runtime, worker.worker_id, "go")
        (run_id,) = {e.event.run_id for e in events if isinstance(e.event, RunFinished)}
        found = await finished_run(runtime, worker.worker_id, run_id)
        async with asyncio.timeout(DEADLINE):
            awaited = await await_run(runtime, worker.worker_id, run_id)
    assert found is not None
    assert (found.result, awaited.result) == ("completed", "completed")


async def test_a_run_in_flight_is_awaited_until_it_ends() -> None:
    async with Runtime(model=ScriptedModel([[Text("part"), Stall()]])) as runtime:
        worker = await runtime.create_worker(CreateWorkerRequest())
        ack = await runtime.send_input(worker.worker_id, "go")
        assert await finished_run(runtime, worker.worker_id, ack.run_id) is None
        waiting = asyncio.ensure_future(await_run(runtime, worker.worker_id, ack.run_id))
        await runtime.cancel_worker(worker.worker_id)
        async with asyncio.timeout(DEADLINE):
            ended = await waiting
    assert ended.result == "cancelled"


async def test_through_a_client_and_when_the_runtime_goes_away() -> None:
    async with Runtime(model=ScriptedModel([[Text("part"), Stall()]])) as runtime:
        async with remote(runtime) as client:
            worker = await client.create_worker(CreateWorkerRequest())
            ack = await client.send_input(worker.worker_id, "go")
            waiting = asyncio.ensure_future(await_run(client, worker.worker_id, ack.run_id))
            await client.cancel_worker(worker.worker_id)
            async with asyncio.timeout(DEADLINE):
                assert (await waiting).result == "cancelled"
        unknown = asyncio.ensure_future(await_run(runtime, worker.worker_id, "r-never"))
    with pytest.raises(RuntimeUnavailable):
        async with asyncio.timeout(DEADLINE):
            await unknown
