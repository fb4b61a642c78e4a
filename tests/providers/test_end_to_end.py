"""A runtime worker on a real SDK client, through retries, against the fake servers."""

from yoi.engine import RetryPolicy
from yoi.errors import ProviderRateLimited, ProviderServerError
from yoi.providers.anthropic import AnthropicModel
from yoi.providers.openai import OpenAIModel
from yoi.providers.script import Turn
from yoi.runtime import Runtime
from yoi.testing import Fail, FakeAnthropicServer, FakeOpenAIServer, Text, event_types, run_to_end

FAST_RETRIES = RetryPolicy(base_delay=0.01, max_delay=0.05)


async def test_an_openai_worker_waits_out_a_rate_limit_and_answers() -> None:
    turns: list[Turn] = [
        [Fail(ProviderRateLimited("slow down", retry_after=0.05))],
        [Text("Hel", "lo")],
    ]
    async with FakeOpenAIServer(turns) as server:
        model = OpenAIModel("gpt-test", api_key="sk-e2e", base_url=server.base_url)
        async with model, Runtime(model=model, retry=FAST_RETRIES) as runtime:
            worker = await runtime.create_worker()
            events = await run_to_end(runtime, worker.worker_id, "hi")
            page = await runtime.transcript(worker.worker_id)
    server.assert_consumed()
    error = next(e.event.to_dict() for e in events if e.event.type == "error")
    assert (error["code"], error["retry_in"]) == ("provider_rate_limited", 0.05)
    assert event_types(events).count("text_delta") == 2
    assert page.items[-1].content == "Hello"
    assert len(server.requests) == 2


async def test_an_anthropic_worker_fails_cleanly_when_retries_run_out() -> None:
    overloaded = [[Fail(ProviderServerError("overloaded", status=500))] for _ in range(2)]
    async with FakeAnthropicServer([*overloaded, [Text("back")]]) as server:
        model = AnthropicModel("claude-test", api_key="sk-ant-e2e", base_url=server.base_url)
        policy = RetryPolicy(max_attempts=2, base_delay=0.01)
        async with model, Runtime(model=model, retry=policy) as runtime:
            worker = await runtime.create_worker()
            failed = await run_to_end(runtime, worker.worker_id, "hi")
            recovered = await run_to_end(runtime, worker.worker_id, "again")
    server.assert_consumed()
    finished = failed[-1].event.to_dict()
    assert finished["result"] == "failed"
    assert isinstance(finished["error"], dict)
    assert finished["error"]["code"] == "provider_server_error"
    assert "sk-ant-e2e" not in str(finished)
    assert recovered[-1].event.to_dict()["result"] == "completed"
