"""One request through a provider model against its fake server, for the vendor tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import pytest

from yoi.engine.messages import UserMessage
from yoi.engine.model import ModelChunk, ModelRequest
from yoi.errors import ProviderError
from yoi.providers.anthropic import AnthropicModel
from yoi.providers.openai import OpenAIModel
from yoi.providers.script import Step
from yoi.testing import RecordedRequest
from yoi.testing._fake_provider import FakeProviderServer

HELLO = ModelRequest(system="Be brief.", messages=(UserMessage("hello"),))

S = TypeVar("S", bound=FakeProviderServer)


@dataclass(frozen=True)
class Rig(Generic[S]):
    """A fake server class, how to point a model at it, and the key the model holds."""

    server: Callable[[list[Sequence[Step]]], S]
    model_for: Callable[[S], OpenAIModel | AnthropicModel]
    key: str

    async def exchange(
        self, turn: Sequence[Step], request: ModelRequest = HELLO
    ) -> tuple[list[ModelChunk], RecordedRequest]:
        """One request against a one-turn script: what came back and what was sent."""
        async with self.server([turn]) as server, self.model_for(server) as model:
            chunks = [chunk async for chunk in model.stream(request)]
        server.assert_consumed()
        return chunks, server.requests[0]

    async def play(self, turn: Sequence[Step]) -> list[ModelChunk]:
        chunks, _sent = await self.exchange(turn)
        return chunks

    async def fail(self, turn: Sequence[Step]) -> ProviderError:
        """Run one request that must fail; return the error after checking it holds no secret."""
        async with self.server([turn]) as server, self.model_for(server) as model:
            with pytest.raises(ProviderError) as caught:
                _ = [chunk async for chunk in model.stream(HELLO)]
        error = caught.value
        assert self.key not in str(error)
        assert self.key not in repr(error.details)
        assert server.base_url not in str(error)
        return error
