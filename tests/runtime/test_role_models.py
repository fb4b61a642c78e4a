"""A model per role: a worker whose intent is a role with its own model runs on that model."""

from __future__ import annotations

from pathlib import Path

from yoi.providers.script import Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import CreateWorkerRequest, FsStore, RoleIntent, Runtime, TaskIntent
from yoi.runtime.events import Event, TextDoneEvent
from yoi.testing.observe import run_to_end


def said(events: list[Event]) -> list[str]:
    return [event.event.text for event in events if isinstance(event.event, TextDoneEvent)]


async def test_a_role_with_a_model_runs_on_it_and_every_other_worker_on_the_default() -> None:
    default = ScriptedModel([[Text("assistant")], [Text("reviewer")]], name="scripted:default")
    coder = ScriptedModel([[Text("coder")]], name="scripted:coder")
    async with Runtime(model=default, role_models={"coder": coder}) as runtime:
        coding = await runtime.create_worker(CreateWorkerRequest(intent=RoleIntent("coder")))
        helping = await runtime.create_worker()
        reviewing = await runtime.create_worker(CreateWorkerRequest(intent=RoleIntent("reviewer")))
        assert said(await run_to_end(runtime, helping.worker_id, "hi")) == ["assistant"]
        assert said(await run_to_end(runtime, coding.worker_id, "hi")) == ["coder"]
        assert said(await run_to_end(runtime, reviewing.worker_id, "hi")) == ["reviewer"]
        assert coding.model == "scripted:coder"
        assert (helping.model, reviewing.model) == ("scripted:default", "scripted:default")
        assert (await runtime.get_worker(coding.worker_id)).model == "scripted:coder"
        assert (await runtime.summary()).model == "scripted:default"
    coder.assert_consumed()
    default.assert_consumed()


async def test_only_a_role_intent_picks_a_role_model() -> None:
    default = ScriptedModel([[Text("default")]], name="scripted:default")
    coder = ScriptedModel([], name="scripted:coder")
    async with Runtime(model=default, role_models={"coder": coder}) as runtime:
        task = await runtime.create_worker(CreateWorkerRequest(intent=TaskIntent("coder")))
        assert said(await run_to_end(runtime, task.worker_id, "hi")) == ["default"]
        assert task.model == "scripted:default"
    default.assert_consumed()
    coder.assert_consumed()


async def test_a_restored_worker_runs_on_its_role_model(tmp_path: Path) -> None:
    async with Runtime(runtime_id="rt-a", store=FsStore(tmp_path)) as runtime:
        made = await runtime.create_worker(CreateWorkerRequest(intent=RoleIntent("coder")))
    default = ScriptedModel([], name="scripted:default")
    coder = ScriptedModel([[Text("coder again")]], name="scripted:coder")
    again = Runtime(
        runtime_id="rt-a", store=FsStore(tmp_path), model=default, role_models={"coder": coder}
    )
    async with again as runtime:
        assert (await runtime.get_worker(made.worker_id)).model == "scripted:coder"
        assert said(await run_to_end(runtime, made.worker_id, "hi")) == ["coder again"]
    coder.assert_consumed()
    default.assert_consumed()
