"""The vocabulary of scripted model turns.

A turn is a sequence of steps. The :class:`~yoi.providers.scripted.ScriptedModel`
plays turns in process; the fake provider servers in :mod:`yoi.testing` render
the same turns into the OpenAI and Anthropic wire formats.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from yoi.errors import ProviderError

__all__ = ["Call", "Cut", "Fail", "Stall", "Step", "Text", "Think", "Turn", "Usage", "Wait"]


@dataclass(frozen=True, slots=True, init=False)
class Text:
    """Stream these text chunks, one delta each."""

    chunks: tuple[str, ...]

    def __init__(self, *chunks: str) -> None:
        object.__setattr__(self, "chunks", chunks)


@dataclass(frozen=True, slots=True, init=False)
class Think:
    """Stream these thinking (reasoning) chunks."""

    chunks: tuple[str, ...]

    def __init__(self, *chunks: str) -> None:
        object.__setattr__(self, "chunks", chunks)


@dataclass(frozen=True, slots=True, init=False)
class Call:
    """Ask for a tool call. ``arguments`` may be a mapping or raw (possibly invalid) JSON text.

    ``pieces`` splits the argument text across that many wire chunks.
    """

    name: str
    arguments: str
    id: str | None
    pieces: int

    def __init__(
        self,
        name: str,
        arguments: Mapping[str, object] | str | None = None,
        *,
        id: str | None = None,
        pieces: int = 1,
    ) -> None:
        raw = arguments if isinstance(arguments, str) else json.dumps(dict(arguments or {}))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "arguments", raw)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "pieces", max(1, pieces))


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Wait:
    """Pause this long before the next step."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Stall:
    """Never send anything more: the stream hangs until cancelled or timed out."""


@dataclass(frozen=True, slots=True)
class Cut:
    """The connection drops here; the scripted model raises ``provider_stream_broken``."""


@dataclass(frozen=True, slots=True)
class Fail:
    """Fail the request with this provider error.

    As a turn's first step a fake server answers with the matching HTTP status
    (429 with ``Retry-After``, 500, 401, 400); later, it cuts the stream.
    """

    error: ProviderError


Step = Text | Think | Call | Usage | Wait | Stall | Cut | Fail
Turn = Sequence[Step]
