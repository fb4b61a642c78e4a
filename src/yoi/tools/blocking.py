"""A tool whose work blocks (files, a ticket store): its body runs in a worker thread.

The body reads its arguments through :class:`~yoi.tools._arguments.Arguments` and returns
a result; a :class:`~yoi.errors.YoiError` or an ``OSError`` it raises becomes an error
result, so nothing but a bug escapes into the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from yoi.engine.model import ToolSpec
from yoi.engine.tool import ToolResult
from yoi.errors import YoiError
from yoi.tools._arguments import Arguments

__all__ = ["BlockingTool"]

Body = Callable[[Arguments], ToolResult]
Refusal = Callable[[str], ToolResult]


def _refused(text: str) -> ToolResult:
    return ToolResult(text, is_error=True)


class BlockingTool:
    """One tool: its spec, and a synchronous body run off the event loop.

    ``quote_names`` and ``null_is_absent`` are the :class:`Arguments` settings its body
    reads with; ``refusal`` shapes the error result of a failure's message."""

    def __init__(
        self,
        spec: ToolSpec,
        body: Body,
        *,
        quote_names: bool = True,
        null_is_absent: bool = True,
        refusal: Refusal = _refused,
    ) -> None:
        self._spec = spec
        self._body = body
        self._quote_names = quote_names
        self._null_is_absent = null_is_absent
        self._refusal = refusal

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def description(self) -> str:
        return self._spec.description

    @property
    def parameters(self) -> Mapping[str, object]:
        return self._spec.parameters

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        return await asyncio.to_thread(self.call_now, arguments)

    def call_now(self, arguments: Mapping[str, object]) -> ToolResult:
        """The call, in this thread: every failure becomes an error result."""
        read = Arguments(
            arguments, quote_names=self._quote_names, null_is_absent=self._null_is_absent
        )
        try:
            return self._body(read)
        except YoiError as error:
            return self._refusal(f"{self.name}: {error.message}")
        except OSError as error:  # what the body did not convert: a file it could not read
            return self._refusal(f"{self.name}: {error.strerror or type(error).__name__}")
