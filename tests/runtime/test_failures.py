from collections.abc import AsyncIterator

from yoi.engine import ModelChunk, ModelRequest, RetryPolicy, TextChunk
from yoi.errors import ProviderAuthError, ProviderServerError
from yoi.providers.script import Fail, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import Runtime, WorkerStatus
from yoi.testing.observe import run_to_end


async def test_a_failed_run_reports_its_code_and_the_worker_stays_usable() -> None:
    model = ScriptedModel([[Fail(ProviderAuthError("key refused", status=401))], [Text("ok")]])
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker()
        failed = await run_to_end(runtime, worker.worker_id, "hi")
        assert failed[-1].event.to_dict()["result"] == "failed"
        assert failed[-1].event.to_dict()["error"] == {
            "code": "provider_auth",
            "message": "key refused",
        }
        again = await run_to_end(runtime, worker.worker_id, "hello?")
        assert again[-1].event.to_dict()["result"] == "completed"
        assert (await runtime.get_worker(worker.worker_id)).status is WorkerStatus.IDLE


async def test_transient_failures_are_retried_and_shown_as_error_events() -> None:
    model = ScriptedModel([[Fail(ProviderServerError("overloaded", status=529))], [Text("ok")]])
    async with Runtime(model=model, retry=RetryPolicy(base_delay=0.01)) as runtime:
        worker = await runtime.create_worker()
        events = await run_to_end(runtime, worker.worker_id, "hi")
    errors = [e.event.to_dict() for e in events if e.event.type == "error"]
    assert len(errors) == 1
    assert errors[0]["code"] == "provider_server_error"
    assert 0 < float(errors[0]["retry_in"]) <= 0.0125  # type: ignore[arg-type]
    assert events[-1].event.to_dict()["result"] == "completed"


async def test_an_overrun_script_fails_the_run_loudly() -> None:
    model = ScriptedModel([])
    async with Runtime(model=model) as runtime:
        worker = await runtime.create_worker()
        events = await run_to_end(runtime, worker.worker_id, "hi")
    error = events[-1].event.to_dict()["error"]
    assert isinstance(error, dict)
    assert error["code"] == "script_error"


class BrokenModel:
    """A model with a bug: it raises something no provider should."""

    name = "broken:model"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        yield TextChunk("partial")
        raise KeyError("oops")


async def test_an_unexpected_exception_ends_the_run_not_the_worker() -> None:
    async with Runtime(model=BrokenModel()) as runtime:
        worker = await runtime.create_worker()
        events = await run_to_end(runtime, worker.worker_id, "hi")
        assert events[-1].event.to_dict()["error"] == {
            "code": "internal",
            "message": "internal error (KeyError)",
        }
        detail = await runtime.get_worker(worker.worker_id)
        assert detail.status is WorkerStatus.IDLE
