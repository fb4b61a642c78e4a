import asyncio

import pytest

from yoi.engine import (
    ModelChunk,
    ModelRequest,
    RetryChunk,
    RetryingModel,
    RetryPolicy,
    TextChunk,
    UserMessage,
    backoff_delay,
)
from yoi.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimited,
    ProviderServerError,
    ProviderStreamBroken,
)
from yoi.providers.script import Cut, Fail, Text
from yoi.providers.scripted import ScriptedModel
from yoi.testing import RecordedSleep

REQUEST = ModelRequest("system", (UserMessage("hi"),))
POLICY = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=5.0, jitter=0.25)


async def drain(model: RetryingModel) -> list[ModelChunk]:
    async with asyncio.timeout(5):
        return [chunk async for chunk in model.stream(REQUEST)]


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    error = ProviderServerError("boom", status=500)
    delays = [backoff_delay(POLICY, n, error, 0.5) for n in (1, 2, 3)]
    assert delays == [1.0, 2.0, 4.0]
    capped = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=5.0)
    assert backoff_delay(capped, 8, error, 0.5) == 5.0


@pytest.mark.parametrize("rand", [0.0, 0.999])
def test_jitter_stays_within_its_spread(rand: float) -> None:
    delay = backoff_delay(POLICY, 2, ProviderConnectionError("reset"), rand)
    assert delay is not None
    assert 1.5 <= delay <= 2.5
    assert delay != 2.0


def test_retry_after_is_honoured_and_a_too_long_one_is_not_waited_for() -> None:
    assert backoff_delay(POLICY, 1, ProviderRateLimited("slow", retry_after=7.0), 0.5) == 7.0
    long_wait = ProviderRateLimited("slow", retry_after=POLICY.max_retry_after + 1)
    assert backoff_delay(POLICY, 1, long_wait, 0.5) is None


def test_permanent_errors_and_the_last_attempt_are_not_retried() -> None:
    assert backoff_delay(POLICY, 1, ProviderAuthError("no", status=401), 0.5) is None
    assert backoff_delay(POLICY, 4, ProviderServerError("boom"), 0.5) is None


async def test_a_rate_limited_request_is_retried_after_retry_after() -> None:
    sleep = RecordedSleep()
    inner = ScriptedModel([[Fail(ProviderRateLimited("slow down", retry_after=2.0))], [Text("ok")]])
    chunks = await drain(RetryingModel(inner, POLICY, sleep=sleep, rand=lambda: 0.5))
    assert chunks == [RetryChunk(1, 2.0, "provider_rate_limited", "slow down"), TextChunk("ok")]
    assert sleep.delays == [2.0]
    inner.assert_consumed()


async def test_gives_up_after_max_attempts() -> None:
    sleep = RecordedSleep()
    turns = [[Fail(ProviderServerError("boom", status=503))] for _ in range(4)]
    inner = ScriptedModel(turns)
    with pytest.raises(ProviderServerError):
        await drain(RetryingModel(inner, POLICY, sleep=sleep, rand=lambda: 0.5))
    assert sleep.delays == [1.0, 2.0, 4.0]
    inner.assert_consumed()


async def test_a_failure_after_output_is_not_retried() -> None:
    inner = ScriptedModel([[Text("half"), Cut()]])
    model = RetryingModel(inner, POLICY, sleep=RecordedSleep())
    seen: list[ModelChunk] = []

    async def consume() -> None:
        async for chunk in model.stream(REQUEST):
            seen.append(chunk)

    with pytest.raises(ProviderStreamBroken):
        await consume()
    assert seen == [TextChunk("half")]
    assert len(inner.requests) == 1


async def test_waiting_to_retry_can_be_cancelled() -> None:
    inner = ScriptedModel([[Fail(ProviderRateLimited("slow", retry_after=50.0))], [Text("x")]])
    model = RetryingModel(inner, POLICY)
    first_retry = asyncio.Event()

    async def consume() -> None:
        async for chunk in model.stream(REQUEST):
            if isinstance(chunk, RetryChunk):
                first_retry.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(2):
        await first_retry.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(inner.requests) == 1
