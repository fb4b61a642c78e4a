"""Time for tests: waits that are recorded instead of waited."""

from __future__ import annotations

import asyncio

__all__ = ["RecordedSleep"]


class RecordedSleep:
    """Stands in for ``asyncio.sleep``: remembers each wait and returns at once.

    Pass it where yoi takes a ``sleep`` (for example ``RetryingModel(sleep=...)``)
    to check backoff delays without spending them.
    """

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)
