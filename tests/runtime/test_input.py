import asyncio

import pytest

from yoi.errors import InvalidRequest, PayloadTooLarge, WorkerBusy, WorkerStopped
from yoi.providers.script import Stall, Text, Wait
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import Input, OnBusy, Runtime, RuntimeLimits, WorkerStatus
from yoi.testing.observe import event_types, run_to_end, until


async def test_input_is_acknowledged_and_run_to_completion() -> None:
    async with Runtime(model=ScriptedModel([[Text("Hel", "lo")]])) as runtime:
        worker = await runtime.create_worker()
        async with await runtime.subscribe(worker.worker_id) as subscription:
            ack = await runtime.send_input(worker.worker_id, "hi")
            events = await until(subscription, "run_finished")
        assert (ack.transcript_sequence, ack.queued) == (1, False)
        assert ack.event_seq == events[1].seq
        assert event_types(events) == [
            "snapshot",
            "input_accepted",
            "status",
            "run_started",
            "text_delta",
            "text_delta",
            "text_done",
            "run_finished",
        ]
        assert {event.event.to_dict().get("run_id") for event in events[3:]} == {ack.run_id}
        detail = await runtime.get_worker(worker.worker_id)
        assert (detail.runs, detail.transcript_total) == (1, 2)


async def test_the_conversation_carries_over_between_runs() -> None:
    model = ScriptedModel([[Text("one")], [Text("two")]])
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker()
        await run_to_end(runtime, worker.worker_id, "first")
        await run_to_end(runtime, worker.worker_id, "second")
    contents = [str(message) for message in model.requests[1].messages]
    assert len(contents) == 3
    assert ["first" in contents[0], "one" in contents[1], "second" in contents[2]] == [True] * 3


@pytest.mark.parametrize(
    ("content", "error"),
    [("", InvalidRequest), ("  \n\t", InvalidRequest), ("é" * 65, PayloadTooLarge)],
)
async def test_bad_content_is_refused_and_records_nothing(
    content: str, error: type[Exception]
) -> None:
    async with Runtime(limits=RuntimeLimits(max_content_bytes=128)) as runtime:
        worker = await runtime.create_worker()
        with pytest.raises(error):
            await runtime.send_input(worker.worker_id, content)
        after = await runtime.get_worker(worker.worker_id)
        assert (after.last_seq, after.transcript_total) == (worker.last_seq, 0)


async def test_input_to_a_stopped_worker_is_refused() -> None:
    async with Runtime() as runtime:
        worker = await runtime.create_worker()
        await runtime.stop_worker(worker.worker_id)
        seq = (await runtime.get_worker(worker.worker_id)).last_seq
        with pytest.raises(WorkerStopped):
            await runtime.send_input(worker.worker_id, "anyone there?")
        assert (await runtime.get_worker(worker.worker_id)).last_seq == seq


async def test_a_busy_worker_rejects_by_default_and_records_nothing() -> None:
    async with Runtime(model=ScriptedModel([[Stall()]])) as runtime:
        worker = await runtime.create_worker()
        await runtime.send_input(worker.worker_id, "think hard")
        busy = await runtime.get_worker(worker.worker_id)
        with pytest.raises(WorkerBusy):
            await runtime.send_input(worker.worker_id, "hurry up")
        after = await runtime.get_worker(worker.worker_id)
        assert (after.last_seq, after.transcript_total) == (busy.last_seq, busy.transcript_total)
        assert (await runtime.summary()).busy_count == 1


async def test_enqueued_inputs_run_after_the_current_one_in_order() -> None:
    model = ScriptedModel([[Wait(0.02), Text("a")], [Text("b")], [Text("c")]])
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker()
        async with await runtime.subscribe(worker.worker_id) as subscription:
            await runtime.send_input(worker.worker_id, "1")
            acks = [
                await runtime.send_input(worker.worker_id, Input(text, OnBusy.ENQUEUE))
                for text in ("2", "3")
            ]
            assert [(ack.queued, ack.transcript_sequence) for ack in acks] == [
                (True, None),
                (True, None),
            ]
            assert (await runtime.get_worker(worker.worker_id)).queued_inputs == 2
            await until(subscription, "run_finished", count=3)
            await until(subscription, "status")
        page = await runtime.transcript(worker.worker_id)
        assert [item.content for item in page.items] == ["1", "a", "2", "b", "3", "c"]
        assert (await runtime.get_worker(worker.worker_id)).status is WorkerStatus.IDLE
    model.assert_consumed()


async def test_the_queue_is_bounded() -> None:
    limits = RuntimeLimits(max_queued_inputs=1)
    async with Runtime(model=ScriptedModel([[Stall()], [Text("x")]]), limits=limits) as runtime:
        worker = await runtime.create_worker()
        await runtime.send_input(worker.worker_id, "1")
        await runtime.send_input(worker.worker_id, Input("2", OnBusy.ENQUEUE))
        with pytest.raises(WorkerBusy) as raised:
            await runtime.send_input(worker.worker_id, Input("3", OnBusy.ENQUEUE))
        assert raised.value.details == {"queued": 1}


async def test_interrupt_cancels_the_current_run_and_runs_the_new_input() -> None:
    model = ScriptedModel([[Text("start"), Stall()], [Text("new answer")]])
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker()
        async with await runtime.subscribe(worker.worker_id) as subscription:
            first = await runtime.send_input(worker.worker_id, "slow question")
            await until(subscription, "text_delta")
            second = await runtime.send_input(
                worker.worker_id, Input("new question", OnBusy.INTERRUPT)
            )
            events = await until(subscription, "run_finished", count=2)
        finished = [e.event.to_dict() for e in events if e.event.type == "run_finished"]
        assert [(f["run_id"], f["result"]) for f in finished] == [
            (first.run_id, "cancelled"),
            (second.run_id, "completed"),
        ]
        page = await runtime.transcript(worker.worker_id)
        assert [(item.content, item.cut) for item in page.items] == [
            ("slow question", None),
            ("start", "cancelled"),  # what the interrupted reply had said
            ("new question", None),
            ("new answer", None),
        ]


async def test_concurrent_inputs_start_exactly_one_run() -> None:
    async with Runtime(model=ScriptedModel([[Stall()]])) as runtime:
        worker = await runtime.create_worker()
        results = await asyncio.gather(
            *(runtime.send_input(worker.worker_id, f"#{n}") for n in range(5)),
            return_exceptions=True,
        )
        accepted = [r for r in results if not isinstance(r, BaseException)]
        assert len(accepted) == 1
        assert all(isinstance(r, WorkerBusy) for r in results if r not in accepted)
