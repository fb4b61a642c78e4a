"""Anthropic's Messages API as a yoi model, streamed event by event.

Text and thinking deltas pass straight through; a ``tool_use`` block is
gathered from its ``input_json_delta`` fragments and yielded whole at its
``content_block_stop``; usage is the input of ``message_start`` plus the
output of ``message_delta``. Every failure of the SDK or the transport, an
``error`` event in the stream included, is converted here into a
:class:`~yoi.errors.ProviderError`; nothing above this module sees an SDK type.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import anthropic
import httpx2
from anthropic.types import (
    InputJSONDelta,
    MessageParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    TextBlockParam,
    TextDelta,
    ThinkingDelta,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    ToolUseBlockParam,
)

from yoi.engine.messages import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage
from yoi.engine.model import (
    ModelChunk,
    ModelRequest,
    TextChunk,
    ThinkingChunk,
    ToolCallChunk,
    ToolSpec,
    UsageChunk,
)
from yoi.errors import (
    ModelUnavailable,
    ProviderConnectionError,
    ProviderError,
    ProviderStreamBroken,
    ProviderTimeout,
)
from yoi.providers._http_status import error_for_status, redact, retry_after_seconds

__all__ = ["DEFAULT_MAX_OUTPUT_TOKENS", "AnthropicModel"]

DEFAULT_MAX_OUTPUT_TOKENS = 4096
"""The API insists on ``max_tokens``; this is sent when a request names none."""

_NO_CREDENTIALS = "no Anthropic credentials: pass an API key or set ANTHROPIC_API_KEY"
_SDK_ERRORS = (anthropic.AnthropicError, httpx2.HTTPError, httpx2.StreamError)
_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicModel:
    """A model served by Anthropic's Messages API, streamed.

    ``base_url`` None lets the SDK decide (``ANTHROPIC_BASE_URL``, else
    Anthropic); ``api_key`` None reads ``ANTHROPIC_API_KEY``. The SDK never
    retries: retrying is the job of a wrapper. ``read_timeout`` bounds the
    silence between two reads, so a stalled stream fails with
    ``provider_timeout``. Close it with :meth:`aclose` or use it as an async
    context manager.
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
    ) -> None:
        self._model = model
        self._max_output_tokens = max_output_tokens
        timeout = httpx2.Timeout(read_timeout, connect=connect_timeout)
        try:
            self._client = anthropic.AsyncAnthropic(
                api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
            )
        except anthropic.AnthropicError as err:  # a profile or config file it could not use
            raise ModelUnavailable(_NO_CREDENTIALS) from err
        client = self._client
        if client.api_key is None and client.auth_token is None and client.credentials is None:
            raise ModelUnavailable(_NO_CREDENTIALS)

    @property
    def name(self) -> str:
        return f"anthropic:{self._model}"

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        try:
            response = await self._client.messages.create(
                model=self._model,
                max_tokens=request.max_output_tokens or self._max_output_tokens,
                system=request.system or anthropic.omit,
                messages=_messages(request.messages),
                tools=[_tool(spec) for spec in request.tools] or anthropic.omit,
                stream=True,
            )
        except _SDK_ERRORS as err:
            raise self._convert(err, streaming=False) from err
        assembly = _Assembly()
        async with response:
            try:
                async for event in response:
                    for out in assembly.feed(event):
                        yield out
            except (*_SDK_ERRORS, ValueError) as err:
                raise self._convert(err, streaming=True) from err
        if not assembly.finished:
            raise ProviderStreamBroken("the Anthropic stream ended before message_stop")

    def _convert(self, err: Exception, *, streaming: bool) -> ProviderError:
        secrets = [self._client.api_key, self._client.auth_token]
        return _convert(err, streaming=streaming, secrets=secrets)


def _messages(messages: Sequence[Message]) -> list[MessageParam]:
    """Our messages as API messages; consecutive tool results share one user message."""
    out: list[MessageParam] = []
    results: list[ToolResultBlockParam] = []
    for message in messages:
        if isinstance(message, ToolResultMessage):
            results.append(_tool_result(message))
            continue
        if results:
            out.append({"role": "user", "content": results})
            results = []
        converted = _message(message)
        if converted is not None:
            out.append(converted)
    if results:
        out.append({"role": "user", "content": results})
    return out


def _message(message: UserMessage | AssistantMessage) -> MessageParam | None:
    if isinstance(message, UserMessage):
        return {"role": "user", "content": message.content}
    # Thinking is not sent back: the API wants it signed, and we keep no signatures.
    blocks: list[TextBlockParam | ToolUseBlockParam] = []
    if message.text:
        blocks.append({"type": "text", "text": message.text})
    blocks += [_tool_use(call) for call in message.tool_calls]
    # The API refuses empty content; an assistant turn that said nothing is dropped.
    return {"role": "assistant", "content": blocks} if blocks else None


def _tool_use(call: ToolCall) -> ToolUseBlockParam:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call.arguments)}


def _input(arguments: str) -> dict[str, object]:
    """The call's arguments as the JSON object the API requires.

    Arguments that are not a JSON object are kept, not lost, under
    ``invalid_json``, so the model can see what it wrote.
    """
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {"invalid_json": arguments}
    return parsed if isinstance(parsed, dict) else {"invalid_json": arguments}


def _tool_result(message: ToolResultMessage) -> ToolResultBlockParam:
    return {
        "type": "tool_result",
        "tool_use_id": message.call_id,
        "content": message.content,
        "is_error": message.is_error,
    }


def _tool(spec: ToolSpec) -> ToolParam:
    return {
        "name": spec.name,
        "description": spec.description,
        "input_schema": dict(spec.parameters),
    }


@dataclass(slots=True)
class _PendingCall:
    id: str
    name: str
    parts: list[str] = field(default_factory=list)


class _Assembly:
    """Turns stream events into model chunks."""

    def __init__(self) -> None:
        self._calls: dict[int, _PendingCall] = {}
        self._input_tokens: int | None = None
        self._output_tokens = 0
        self.finished = False

    def feed(self, event: RawMessageStreamEvent) -> Iterator[ModelChunk]:
        match event:
            case RawMessageStartEvent(message=message):
                usage = message.usage
                cached = (usage.cache_creation_input_tokens or 0) + (
                    usage.cache_read_input_tokens or 0
                )
                self._input_tokens = usage.input_tokens + cached
                self._output_tokens = usage.output_tokens
            case RawContentBlockStartEvent(index=index, content_block=ToolUseBlock() as block):
                self._calls[index] = _PendingCall(block.id, block.name)
            case RawContentBlockDeltaEvent():
                yield from self._delta(event)
            case RawContentBlockStopEvent(index=index) if index in self._calls:
                pending = self._calls.pop(index)
                arguments = "".join(pending.parts) or "{}"
                yield ToolCallChunk(ToolCall(pending.id, pending.name, arguments))
            case RawMessageDeltaEvent(usage=usage):
                self._output_tokens = usage.output_tokens
            case RawMessageStopEvent():
                self.finished = True
                if self._input_tokens is not None:
                    yield UsageChunk(self._input_tokens, self._output_tokens)

    def _delta(self, event: RawContentBlockDeltaEvent) -> Iterator[ModelChunk]:
        match event.delta:
            case TextDelta(text=text) if text:
                yield TextChunk(text)
            case ThinkingDelta(thinking=thinking) if thinking:
                yield ThinkingChunk(thinking)
            case InputJSONDelta(partial_json=fragment) if event.index in self._calls:
                self._calls[event.index].parts.append(fragment)


def _convert(err: Exception, *, streaming: bool, secrets: list[str | None]) -> ProviderError:
    """The provider error for an SDK or transport failure, its message free of secrets."""
    kind = {"reason": type(err.__cause__ or err).__name__}
    if isinstance(err, anthropic.APIStatusError):
        return _status_error(err, secrets)
    if isinstance(err, anthropic.APITimeoutError | httpx2.TimeoutException):
        where = "stalled mid-stream" if streaming else "did not answer in time"
        return ProviderTimeout(f"the Anthropic endpoint {where}", details=kind)
    if streaming:
        return ProviderStreamBroken("the Anthropic stream broke off", details=kind)
    if isinstance(err, anthropic.APIConnectionError | httpx2.TransportError):
        return ProviderConnectionError("could not reach the Anthropic endpoint", details=kind)
    return ProviderError(redact(f"the Anthropic request failed: {err}", secrets), details=kind)


def _status_error(err: anthropic.APIStatusError, secrets: list[str | None]) -> ProviderError:
    # An `error` event inside a 200 stream arrives as a status error with status 200:
    # its body's error type then says what went wrong.
    status = err.status_code
    details: dict[str, object] = {"type": err.type} if err.type else {}
    if status < 400:
        status = _STATUS_OF_TYPE.get(err.type or "", 500)
        details["in_stream"] = True
    said = f": {err.api_message}" if err.api_message else ""
    message = redact(f"Anthropic answered {err.type or f'HTTP {status}'}{said}", secrets)
    retry_after = retry_after_seconds(err.response.headers)
    return error_for_status(status, message, retry_after=retry_after, details=details)
