"""Permission rules in a runtime: ``deny`` refuses, ``ask`` waits for a person, a timeout or the
end of its run, and the log and the worker's views say so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from tests.deploy_tool import Deploy

from yoi.engine import ToolResultMessage
from yoi.errors import ApprovalNotFound, InvalidRequest
from yoi.providers.script import Call, Stall, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import (
    CapabilityRequest,
    ConfigBundle,
    ConfigBundleRef,
    CreateWorkerRequest,
    FsStore,
    Input,
    OnBusy,
    Runtime,
    RuntimeLimits,
    Store,
    WorkerStatus,
)
from yoi.runtime.events import ApprovalRequested, ApprovalResolved, Event, Snapshot
from yoi.runtime.subscription import Subscription
from yoi.testing.observe import all_events, event_types, until

ARGUMENTS = {"target": "production"}


def guarded_bundle(*rules: str) -> ConfigBundle:
    profile = {"prompt": "You deploy.", "tools": ["deploy"], "permissions": list(rules)}
    return ConfigBundle.from_mapping({"revision": "t", "profiles": {"guarded": profile}})


@asynccontextmanager
async def guarded(
    model: ScriptedModel,
    *rules: str,
    wait: float = 300.0,
    store: Store | None = None,
) -> AsyncIterator[tuple[Runtime, str, Deploy]]:
    """A runtime with the ``deploy`` tool and a worker of a bundle profile with ``rules``."""
    tool, bundle = Deploy(), guarded_bundle(*rules)
    limits = RuntimeLimits(approval_timeout_seconds=wait)
    async with Runtime(model=model, tools=[tool], limits=limits, store=store) as runtime:
        await runtime.put_config_bundle(bundle.digest, bundle)
        request = CreateWorkerRequest(
            profile="named:guarded",
            config_bundle=ConfigBundleRef(bundle.digest),
            requested_capabilities=(CapabilityRequest("deploy"),),
        )
        worker = await runtime.create_worker(request)
        assert worker.tools == ("deploy",)
        yield runtime, worker.worker_id, tool


def deploy_then(*after: Text | Stall) -> ScriptedModel:
    return ScriptedModel([[Call("deploy", ARGUMENTS, id="c1")], [*after]])


async def requested(subscription: Subscription) -> tuple[list[Event], ApprovalRequested]:
    events = await until(subscription, "approval_requested")
    body = events[-1].event
    assert isinstance(body, ApprovalRequested)
    return events, body


async def test_an_ask_rule_holds_the_call_until_a_person_allows_it() -> None:
    model = deploy_then(Text("done"))
    async with guarded(model, 'deploy: "*production*" -> ask') as (runtime, worker_id, tool):
        async with await runtime.subscribe(worker_id) as subscription:
            ack = await runtime.send_input(worker_id, "ship it")
            _, asked = await requested(subscription)
            assert asked.to_dict() == {
                "type": "approval_requested",
                "run_id": ack.run_id,
                "approval_id": asked.approval_id,
                "call_id": "c1",
                "tool": "deploy",
                "arguments": '{"target": "production"}',
                "rule": 'deploy: "*production*" -> ask',
                "expires_at": asked.expires_at,
            }
            assert asked.approval_id.startswith("ap-")
            assert tool.calls == []
            waiting = await runtime.get_worker(worker_id)
            assert [a.approval_id for a in waiting.approvals] == [asked.approval_id]
            assert waiting.to_dict()["approvals"] == [
                {
                    "approval_id": asked.approval_id,
                    "run_id": ack.run_id,
                    "call_id": "c1",
                    "tool": "deploy",
                    "arguments": '{"target": "production"}',
                    "rule": 'deploy: "*production*" -> ask',
                    "expires_at": asked.expires_at,
                }
            ]

            answered = await runtime.answer_approval(worker_id, asked.approval_id, "allow")
            assert answered.to_dict() == {"approval_id": asked.approval_id, "decision": "allow"}
            events = await until(subscription, "run_finished")
        assert event_types(events)[:2] == ["approval_resolved", "tool_call_finished"]
        assert events[0].event == ApprovalResolved(ack.run_id, asked.approval_id, "allow", "person")
        assert tool.calls == [ARGUMENTS]
        assert events[-1].event.to_dict()["result"] == "completed"
        assert (await runtime.get_worker(worker_id)).approvals == ()
        with pytest.raises(ApprovalNotFound):
            await runtime.answer_approval(worker_id, asked.approval_id, "deny")


async def test_a_denied_call_never_runs_and_the_model_reads_who_denied_it() -> None:
    model = deploy_then(Text("ok, not deploying"))
    async with (
        guarded(model, "deploy -> ask") as (runtime, worker_id, tool),
        await runtime.subscribe(worker_id) as subscription,
    ):
        await runtime.send_input(worker_id, "ship it")
        _, asked = await requested(subscription)
        await runtime.answer_approval(worker_id, asked.approval_id, "deny")
        events = await until(subscription, "run_finished")
    assert tool.calls == []
    finished = next(e.event.to_dict() for e in events if e.event.type == "tool_call_finished")
    refusal = "deploy was not run: a person denied it (rule deploy -> ask)"
    assert (finished["summary"], finished["is_error"]) == (refusal, True)
    assert model.requests[1].messages[-1] == ToolResultMessage("c1", "deploy", refusal, True)


async def test_an_unanswered_approval_is_denied_when_its_timeout_passes() -> None:
    model = deploy_then(Text("gave up"))
    async with guarded(model, "deploy -> ask", wait=0.05) as (runtime, worker_id, tool):
        async with await runtime.subscribe(worker_id) as subscription:
            ack = await runtime.send_input(worker_id, "ship it")
            _, asked = await requested(subscription)
            events = await until(subscription, "run_finished")
        resolved = ApprovalResolved(ack.run_id, asked.approval_id, "deny", "timeout")
        assert events[0].event == resolved
        assert tool.calls == []
        reply = model.requests[1].messages[-1]
        assert isinstance(reply, ToolResultMessage)
        assert reply.is_error
        assert "no one answered within 0.05s" in reply.content
        with pytest.raises(ApprovalNotFound):
            await runtime.answer_approval(worker_id, asked.approval_id, "allow")


@pytest.mark.parametrize("end", ["cancel", "stop", "interrupt"])
async def test_ending_the_run_denies_its_waiting_approvals_first(end: str) -> None:
    model = ScriptedModel([[Call("deploy", ARGUMENTS, id="c1")], [Text("second run")]])
    async with guarded(model, "deploy -> ask") as (runtime, worker_id, tool):
        async with await runtime.subscribe(worker_id) as subscription:
            ack = await runtime.send_input(worker_id, "ship it")
            _, asked = await requested(subscription)
            match end:
                case "cancel":
                    await runtime.cancel_worker(worker_id)
                case "stop":
                    await runtime.stop_worker(worker_id)
                case _:
                    await runtime.send_input(worker_id, Input("never mind", OnBusy.INTERRUPT))
            events = await until(subscription, "run_finished")
        assert events[0].event == ApprovalResolved(
            ack.run_id, asked.approval_id, "deny", "cancelled"
        )
        assert events[-1].event.to_dict()["result"] == "cancelled"
        assert tool.calls == []
        with pytest.raises(ApprovalNotFound):
            await runtime.answer_approval(worker_id, asked.approval_id, "allow")


async def test_a_late_observer_sees_the_waiting_approval_in_its_snapshot() -> None:
    async with guarded(deploy_then(Text("done")), "deploy -> ask") as (runtime, worker_id, _):
        async with await runtime.subscribe(worker_id) as first:
            await runtime.send_input(worker_id, "ship it")
            _, asked = await requested(first)
        async with await runtime.subscribe(worker_id) as late:
            async with asyncio.timeout(5):
                snapshot = (await anext(late)).event
        assert isinstance(snapshot, Snapshot)
        assert snapshot.run is not None
        assert approval_ids(snapshot.run["approvals"]) == [asked.approval_id]
        assert approval_ids(snapshot.worker["approvals"]) == [asked.approval_id]


def approval_ids(approvals: object) -> list[object]:
    assert isinstance(approvals, list)
    return [item["approval_id"] for item in approvals]


async def test_answers_are_checked_before_anything_is_decided() -> None:
    async with guarded(deploy_then(Text("done")), "deploy -> ask") as (runtime, worker_id, tool):
        async with await runtime.subscribe(worker_id) as subscription:
            await runtime.send_input(worker_id, "ship it")
            _, asked = await requested(subscription)
            with pytest.raises(InvalidRequest) as bad:
                await runtime.answer_approval(worker_id, asked.approval_id, "maybe")
            assert bad.value.details == {"field": "decision"}
            with pytest.raises(InvalidRequest):
                await runtime.answer_approval(worker_id, "../ap", "allow")
            with pytest.raises(ApprovalNotFound) as unknown:
                await runtime.answer_approval(worker_id, "ap-unknown", "allow")
            assert unknown.value.details == {"approval_id": "ap-unknown"}
            assert tool.calls == []
            await runtime.answer_approval(worker_id, asked.approval_id, "allow")
            await until(subscription, "run_finished")
        assert tool.calls == [ARGUMENTS]


async def test_a_deny_rule_refuses_at_once_without_asking() -> None:
    model = deploy_then(Text("ok"))
    rules = ('deploy: "*staging*" -> allow', 'deploy: "*production*" -> deny', "deploy -> ask")
    async with (
        guarded(model, *rules) as (runtime, worker_id, tool),
        await runtime.subscribe(worker_id) as subscription,
    ):
        await runtime.send_input(worker_id, "ship it")
        events = await until(subscription, "run_finished")
    assert "approval_requested" not in event_types(events)
    finished = next(e.event.to_dict() for e in events if e.event.type == "tool_call_finished")
    assert finished["summary"] == 'deploy refused by the rule deploy: "*production*" -> deny'
    assert tool.calls == []


async def test_approval_events_are_kept_and_none_wait_after_a_restart(tmp_path: Path) -> None:
    model = ScriptedModel([[Call("deploy", ARGUMENTS, id="c1")], [Stall()]])
    async with guarded(model, "deploy -> ask", store=FsStore(tmp_path)) as (runtime, wid, _):
        async with await runtime.subscribe(wid) as subscription:
            await runtime.send_input(wid, "ship it")
            _, asked = await requested(subscription)
            await runtime.answer_approval(wid, asked.approval_id, "allow")
            await until(subscription, "tool_call_finished")
        kept = [e.event for e in await all_events(runtime, wid)]
    assert [e.type for e in kept if e.type.startswith("approval_")] == [
        "approval_requested",
        "approval_resolved",
    ]
    async with Runtime(store=FsStore(tmp_path), tools=[Deploy()]) as again:
        detail = await again.get_worker(wid)
        assert detail.status is WorkerStatus.IDLE
        assert detail.approvals == ()
        with pytest.raises(ApprovalNotFound):
            await again.answer_approval(wid, asked.approval_id, "allow")
