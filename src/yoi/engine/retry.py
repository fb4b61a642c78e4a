"""Retries of transient provider failures, as a model that wraps a model."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from yoi.engine.model import Model, ModelChunk, ModelRequest, RetryChunk
from yoi.errors import ProviderError, ProviderRateLimited

__all__ = ["RetryPolicy", "RetryingModel", "backoff_delay"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with jitter.

    ``max_attempts`` counts the first try. A ``Retry-After`` the provider sends
    is honoured up to ``max_retry_after`` seconds; a longer one is not waited for.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    jitter: float = 0.25
    max_retry_after: float = 60.0


def backoff_delay(
    policy: RetryPolicy, attempt: int, error: ProviderError, rand: float
) -> float | None:
    """Seconds to wait before retry number ``attempt`` (1-based), or None to give up.

    ``rand`` is a uniform number in [0, 1) so the function stays pure.
    """
    if not error.transient or attempt >= policy.max_attempts:
        return None
    if isinstance(error, ProviderRateLimited) and error.retry_after is not None:
        if error.retry_after > policy.max_retry_after:
            return None
        return max(0.0, float(error.retry_after))
    ceiling: float = min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))
    spread = ceiling * policy.jitter
    return max(0.0, ceiling - spread + 2 * spread * rand)


class RetryingModel:
    """Retries a request that failed transiently before it produced any output.

    Once a chunk has been passed on, a failure is final: replaying the request
    would repeat what the caller already saw.
    """

    def __init__(
        self,
        model: Model,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._model = model
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand

    @property
    def name(self) -> str:
        return self._model.name

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        attempt = 1
        while True:
            produced = False
            try:
                async for chunk in self._model.stream(request):
                    produced = True
                    yield chunk
                return
            except ProviderError as error:
                delay = None if produced else self._delay(attempt, error)
                if delay is None:
                    raise
                yield RetryChunk(attempt, delay, error.code, error.message)
                await self._sleep(delay)
                attempt += 1

    def _delay(self, attempt: int, error: ProviderError) -> float | None:
        return backoff_delay(self._policy, attempt, error, self._rand())
