"""A fake OpenAI-compatible Chat Completions server speaking the real streamed wire format."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from itertools import count

from yoi.providers.script import Call, Cut, Fail, Stall, Step, Text, Think, Turn, Usage, Wait
from yoi.testing._fake_provider import (
    FakeProviderServer,
    RecordedRequest,
    Wire,
    split_text,
    status_of,
)

__all__ = ["FakeOpenAIServer"]

_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


class FakeOpenAIServer(FakeProviderServer):
    """Serves ``POST .../chat/completions`` from a script of turns, one turn per request.

    Text streams as ``delta.content``, thinking as ``delta.reasoning_content``
    (as vLLM and DeepSeek send it), a call as ``delta.tool_calls`` with its
    arguments split over ``Call.pieces`` chunks; a usage chunk follows the
    finish chunk when the request asked for it, then ``data: [DONE]``.
    """

    endpoint = "/chat/completions"

    def __init__(self, turns: Iterable[Turn]) -> None:
        super().__init__(turns)
        self._call_ids = count(1)

    def _error_body(self, status: int, message: str) -> dict[str, object]:
        kind, code = _ERROR_KINDS.get(status, ("server_error", None))
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def _render(self, turn: tuple[Step, ...], request: RecordedRequest) -> Wire:
        options = request.body.get("stream_options") or {}
        frame = _Framer(str(request.body.get("model", "")), bool(options.get("include_usage")))
        yield frame.delta({"role": "assistant", "content": ""})
        calls = 0
        for step in turn:
            match step:
                case Text(chunks=chunks):
                    yield from (frame.delta({"content": text}) for text in chunks)
                case Think(chunks=chunks):
                    yield from (frame.delta({"reasoning_content": text}) for text in chunks)
                case Call():
                    yield from self._call(frame, step, calls)
                    calls += 1
                case Usage():
                    frame.usage = step
                case Fail(error=error):
                    status = status_of(error) or 500
                    yield _data(self._error_body(status, error.message))
                    yield Cut()
                    return
                case Wait() | Stall() | Cut():
                    yield step
        yield from frame.finish("tool_calls" if calls else "stop")

    def _call(self, frame: _Framer, step: Call, index: int) -> Wire:
        call_id = step.id or f"call_{next(self._call_ids)}"
        head = {"name": step.name, "arguments": ""}
        first = {"index": index, "id": call_id, "type": "function", "function": head}
        yield frame.delta({"tool_calls": [first]})
        for piece in split_text(step.arguments, step.pieces):
            fragment = {"index": index, "function": {"arguments": piece}}
            yield frame.delta({"tool_calls": [fragment]})


class _Framer:
    """Wraps deltas into ``chat.completion.chunk`` objects of one completion."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self._base = {
            "id": f"chatcmpl-fake{time.monotonic_ns()}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
        }
        self._include_usage = include_usage
        self.usage: Usage | None = None

    def delta(self, delta: dict[str, object], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return _data({**self._base, "choices": [choice], **self._usage_field(None)})

    def finish(self, reason: str) -> Wire:
        yield self.delta({}, finish_reason=reason)
        if self._include_usage and self.usage is not None:
            yield _data({**self._base, "choices": [], **self._usage_field(self.usage)})
        yield b"data: [DONE]\n\n"

    def _usage_field(self, usage: Usage | None) -> dict[str, object]:
        if not self._include_usage:
            return {}
        if usage is None:
            return {"usage": None}
        total = usage.input_tokens + usage.output_tokens
        counts = {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens}
        return {"usage": {**counts, "total_tokens": total}}


def _data(payload: dict[str, object]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"
