"""A worker's answer is the last report its tool accepted, read back from the transcript of a
real runtime (and of a runtime process, through its client)."""

from __future__ import annotations

from tests.client.test_runtime_client import remote

from yoi.orchestrator.submissions import last_submission, read_submission
from yoi.providers.script import Call, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import CreateWorkerRequest, Role, Runtime
from yoi.runtime.events import RunFinished
from yoi.runtime.transcript import ToolEntry, TranscriptEntry
from yoi.testing.observe import run_to_end
from yoi.tools import ImplementationReport, parse_report

REPORT = frozenset({"submit_report"})


def report(summary: str, **more: object) -> dict[str, object]:
    return {"summary": summary, "files": ["app.py"], "commands": [], **more}


async def test_the_last_accepted_report_of_a_run_is_the_answer() -> None:
    model = ScriptedModel(
        [
            [Call("submit_report", {"summary": "missing fields"})],
            [Call("submit_report", report("first"))],
            [Call("submit_report", report("second"))],
            [Text("done")],
            [Call("submit_report", report("a later run"))],
            [Text("again")],
        ]
    )
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker(CreateWorkerRequest(profile="builtin:coder"))
        first = await run_to_end(runtime, worker.worker_id, "do it")
        (run_id,) = {e.event.run_id for e in first if isinstance(e.event, RunFinished)}
        await run_to_end(runtime, worker.worker_id, "and again")
        of_run = await read_submission(runtime, worker.worker_id, REPORT, run_id=run_id)
        latest = await read_submission(runtime, worker.worker_id, REPORT)
    assert of_run is not None
    assert latest is not None
    parsed = parse_report(of_run.call)
    assert isinstance(parsed, ImplementationReport)
    assert parsed.summary == "second"
    assert of_run.run_id == run_id
    later = parse_report(latest.call)
    assert isinstance(later, ImplementationReport)
    assert later.summary == "a later run"


async def test_a_run_that_never_submitted_has_no_answer() -> None:
    model = ScriptedModel([[Call("submit_report", {"summary": 7})], [Text("I am done, trust me")]])
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker(CreateWorkerRequest(profile="builtin:coder"))
        await run_to_end(runtime, worker.worker_id, "do it")
        assert await read_submission(runtime, worker.worker_id, REPORT) is None


def entry(sequence: int, call_id: str, *, result: bool, error: bool = False) -> TranscriptEntry:
    tool = ToolEntry(call_id, "submit_report", result, error)
    content = '{"summary": "s", "files": [], "commands": []}' if not result else "ok"
    return TranscriptEntry(sequence, Role.TOOL, content, 0.0, "r1", tool)


def test_a_result_without_its_call_or_a_call_without_result_is_no_answer() -> None:
    assert last_submission([entry(1, "c1", result=True)], REPORT) is None
    assert last_submission([entry(1, "c1", result=False)], REPORT) is None
    accepted = last_submission([entry(1, "c1", result=False), entry(2, "c1", result=True)], REPORT)
    assert accepted is not None
    assert accepted.sequence == 1
    refused = [entry(1, "c1", result=False), entry(2, "c1", result=True, error=True)]
    assert last_submission(refused, REPORT) is None
    assert last_submission(refused, frozenset({"submit_review"})) is None


async def test_a_runtime_process_answers_the_same_through_its_client() -> None:
    model = ScriptedModel([[Call("submit_report", report("remote"))], [Text("done")]])
    async with Runtime(model=model) as runtime, remote(runtime) as client:
        worker = await client.create_worker(CreateWorkerRequest(profile="builtin:coder"))
        await run_to_end(runtime, worker.worker_id, "do it")
        found = await read_submission(client, worker.worker_id, REPORT)
    assert found is not None
    parsed = parse_report(found.call)
    assert isinstance(parsed, ImplementationReport)
    assert parsed.summary == "remote"
