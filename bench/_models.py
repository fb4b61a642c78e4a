"""A bench-only model that streams many chunks cheaply, for runs too long to script."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from yoi.engine.model import ModelChunk, ModelRequest, TextChunk

__all__ = ["ChunkModel"]


class ChunkModel:
    """Streams ``chunks`` text chunks per request, like a provider reading a network stream.

    ``delay`` sleeps before each chunk. Without a delay the model still suspends
    (``sleep(0)``) before every ``suspend_every``-th chunk, as a provider does when
    it waits for the next network read; ``suspend_every=0`` never suspends, which
    no real provider does.
    """

    def __init__(
        self,
        chunks: int,
        *,
        text: str = "x",
        delay: float = 0.0,
        suspend_every: int = 1,
        name: str = "bench:chunks",
    ) -> None:
        self._chunks = chunks
        self._text = text
        self._delay = delay
        self._suspend_every = suspend_every
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        chunk = TextChunk(self._text)
        every = self._suspend_every
        for index in range(self._chunks):
            if self._delay:
                await asyncio.sleep(self._delay)
            elif every and index % every == 0:
                await asyncio.sleep(0)
            yield chunk
