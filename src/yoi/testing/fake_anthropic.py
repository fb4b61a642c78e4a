"""A fake Anthropic Messages server speaking the real streamed wire format."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from itertools import count

from yoi.providers.script import Call, Cut, Fail, Stall, Step, Text, Think, Turn, Usage, Wait
from yoi.testing._fake_provider import (
    FakeProviderServer,
    RecordedRequest,
    Wire,
    split_text,
    status_of,
)

__all__ = ["FakeAnthropicServer"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    """The ``error.type`` Anthropic sends with ``status``."""
    return _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


class FakeAnthropicServer(FakeProviderServer):
    """Serves ``POST .../v1/messages`` from a script of turns, one turn per request.

    A turn streams as ``message_start``, a ``ping``, one content block per
    Text, Think or Call step (``text_delta``, ``thinking_delta`` then a
    ``signature_delta``, ``input_json_delta`` split over ``Call.pieces``),
    ``message_delta`` with the stop reason and output tokens, ``message_stop``.
    A ``Fail`` after the first step sends an ``error`` event and drops the
    connection, as the API does when it is overloaded mid-stream.
    """

    endpoint = "/messages"

    def __init__(self, turns: Iterable[Turn]) -> None:
        super().__init__(turns)
        self._call_ids = count(1)
        self._message_ids = count(1)

    def _error_body(self, status: int, message: str) -> dict[str, object]:
        error = {"type": error_type(status), "message": message}
        return {"type": "error", "error": error, "request_id": "req_fake"}

    def _render(self, turn: tuple[Step, ...], request: RecordedRequest) -> Wire:
        usage = next((step for step in turn if isinstance(step, Usage)), Usage(0, 1))
        yield _event("message_start", {"message": self._message(request, usage)})
        yield _event("ping", {})
        index, called = 0, False
        for step in turn:
            match step:
                case Text(chunks=chunks) if chunks:
                    deltas = [{"type": "text_delta", "text": text} for text in chunks]
                    yield from _block(index, {"type": "text", "text": ""}, deltas)
                case Think(chunks=chunks) if chunks:
                    yield from _block(index, _THINKING, _thinking_deltas(chunks))
                case Call():
                    yield from _block(index, self._tool_use(step), _json_deltas(step))
                    called = True
                case Fail(error=error):
                    body = self._error_body(status_of(error) or 500, error.message)
                    yield _event("error", {"error": body["error"]})
                    yield Cut()
                    return
                case Wait() | Stall() | Cut():
                    yield step
                    continue
                case _:
                    continue
            index += 1
        stop = {"stop_reason": "tool_use" if called else "end_turn", "stop_sequence": None}
        yield _event(
            "message_delta", {"delta": stop, "usage": {"output_tokens": usage.output_tokens}}
        )
        yield _event("message_stop", {})

    def _message(self, request: RecordedRequest, usage: Usage) -> dict[str, object]:
        return {
            "id": f"msg_fake{next(self._message_ids)}_{time.monotonic_ns()}",
            "type": "message",
            "role": "assistant",
            "model": str(request.body.get("model", "")),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": usage.input_tokens, "output_tokens": 1},
        }

    def _tool_use(self, step: Call) -> dict[str, object]:
        call_id = step.id or f"toolu_fake{next(self._call_ids)}"
        return {"type": "tool_use", "id": call_id, "name": step.name, "input": {}}


_THINKING = {"type": "thinking", "thinking": "", "signature": ""}


def _thinking_deltas(chunks: tuple[str, ...]) -> list[dict[str, object]]:
    deltas: list[dict[str, object]] = [{"type": "thinking_delta", "thinking": t} for t in chunks]
    return [*deltas, {"type": "signature_delta", "signature": "fake-signature"}]


def _json_deltas(step: Call) -> list[dict[str, object]]:
    pieces = split_text(step.arguments, step.pieces)
    return [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]


def _block(index: int, start: Mapping[str, object], deltas: Sequence[Mapping[str, object]]) -> Wire:
    yield _event("content_block_start", {"index": index, "content_block": start})
    for delta in deltas:
        yield _event("content_block_delta", {"index": index, "delta": delta})
    yield _event("content_block_stop", {"index": index})


def _event(name: str, payload: dict[str, object]) -> bytes:
    data = json.dumps({"type": name, **payload})
    return f"event: {name}\ndata: {data}\n\n".encode()
