"""Any OpenAI-compatible Chat Completions endpoint as a yoi model.

OpenAI itself, vLLM, Ollama, llama.cpp server, LM Studio, DeepSeek, OpenRouter:
all stream the same ``chat.completion.chunk`` objects. Servers that reason send
``reasoning_content`` (or ``reasoning``) deltas, which become thinking chunks.
Every failure of the SDK or the transport is converted here into a
:class:`~yoi.errors.ProviderError`; nothing above this module sees an SDK type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import httpx2
import openai
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageParam,
)
from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCall

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
    ProviderRateLimited,
    ProviderServerError,
    ProviderStreamBroken,
    ProviderTimeout,
)
from yoi.providers._http_status import error_for_status, redact, retry_after_seconds

__all__ = ["OpenAIModel"]

_SDK_ERRORS = (openai.OpenAIError, httpx2.HTTPError, httpx2.StreamError)
_REASONING_FIELDS = ("reasoning_content", "reasoning")


class OpenAIModel:
    """A model served by an OpenAI-compatible Chat Completions endpoint, streamed.

    ``base_url`` None lets the SDK decide (``OPENAI_BASE_URL``, else OpenAI);
    ``api_key`` None reads ``OPENAI_API_KEY``. The SDK never retries: retrying
    is the job of a wrapper. ``read_timeout`` bounds the silence between two
    reads, so a stalled stream fails with ``provider_timeout``.
    Close it with :meth:`aclose` or use it as an async context manager.
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
    ) -> None:
        self._model = model
        timeout = httpx2.Timeout(read_timeout, connect=connect_timeout)
        try:
            self._client = openai.AsyncOpenAI(
                api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
            )
        except openai.OpenAIError as err:
            raise ModelUnavailable(
                "no OpenAI credentials: pass an API key or set OPENAI_API_KEY"
            ) from err

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

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
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=_messages(request),
                stream=True,
                stream_options={"include_usage": True},
                tools=[_tool(spec) for spec in request.tools] or openai.omit,
                max_completion_tokens=request.max_output_tokens or openai.omit,
            )
        except _SDK_ERRORS as err:
            raise self._convert(err, streaming=False) from err
        assembly = _Assembly()
        async with response:
            try:
                async for chunk in response:
                    for out in assembly.feed(chunk):
                        yield out
            except (*_SDK_ERRORS, ValueError) as err:
                raise self._convert(err, streaming=True) from err
        if not assembly.finished:
            raise ProviderStreamBroken("the OpenAI stream ended before the model finished")

    def _convert(self, err: Exception, *, streaming: bool) -> ProviderError:
        return _convert(err, streaming=streaming, secret=self._client.api_key)


def _messages(request: ModelRequest) -> list[ChatCompletionMessageParam]:
    system: list[ChatCompletionMessageParam] = []
    if request.system:
        system.append({"role": "system", "content": request.system})
    return system + [_message(message) for message in request.messages]


def _message(message: Message) -> ChatCompletionMessageParam:
    match message:
        case UserMessage(content=content):
            return {"role": "user", "content": content}
        case AssistantMessage():
            return _assistant(message)
        case ToolResultMessage(call_id=call_id, content=content, is_error=is_error):
            # Chat Completions has no error flag for a tool result: say it in the text.
            text = f"Error: {content}" if is_error else content
            return {"role": "tool", "tool_call_id": call_id, "content": text}


def _assistant(message: AssistantMessage) -> ChatCompletionAssistantMessageParam:
    param: ChatCompletionAssistantMessageParam = {
        "role": "assistant",
        "content": message.text or None,
    }
    if message.tool_calls:
        param["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    return param


def _tool(spec: ToolSpec) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": dict(spec.parameters),
        },
    }


@dataclass(slots=True)
class _PendingCall:
    id: str
    name: str
    parts: list[str] = field(default_factory=list)

    def complete(self) -> ToolCall:
        return ToolCall(self.id, self.name, "".join(self.parts) or "{}")


class _Assembly:
    """Turns streamed chunks into model chunks, gathering tool-call fragments by index."""

    def __init__(self) -> None:
        self._calls: dict[int, _PendingCall] = {}
        self.finished = False

    def feed(self, chunk: ChatCompletionChunk) -> Iterator[ModelChunk]:
        for choice in chunk.choices[:1]:
            yield from self._delta(choice.delta)
            if choice.finish_reason is not None:
                yield from self._flush()
                self.finished = True
        if chunk.usage is not None:
            yield UsageChunk(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)

    def _delta(self, delta: ChoiceDelta) -> Iterator[ModelChunk]:
        thinking = _reasoning(delta)
        if thinking:
            yield ThinkingChunk(thinking)
        if delta.content:
            yield TextChunk(delta.content)
        for fragment in delta.tool_calls or ():
            self._gather(fragment)

    def _gather(self, fragment: ChoiceDeltaToolCall) -> None:
        function = fragment.function
        pending = self._calls.get(fragment.index)
        if pending is None:
            call_id = fragment.id or f"call_{fragment.index}"
            pending = self._calls[fragment.index] = _PendingCall(call_id, "")
        if function is not None and function.name:
            pending.name = function.name
        if function is not None and function.arguments:
            pending.parts.append(function.arguments)

    def _flush(self) -> Iterator[ModelChunk]:
        for index in sorted(self._calls):
            yield ToolCallChunk(self._calls[index].complete())
        self._calls.clear()


def _reasoning(delta: ChoiceDelta) -> str:
    extra = delta.model_extra or {}
    for name in _REASONING_FIELDS:
        value = extra.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _convert(err: Exception, *, streaming: bool, secret: str | None) -> ProviderError:
    """The provider error for an SDK or transport failure, its message free of secrets."""
    kind = {"reason": type(err.__cause__ or err).__name__}
    if isinstance(err, openai.APIStatusError):
        return _status_error(err, secret)
    if isinstance(err, openai.APITimeoutError | httpx2.TimeoutException):
        where = "stalled mid-stream" if streaming else "did not answer in time"
        return ProviderTimeout(f"the OpenAI endpoint {where}", details=kind)
    if isinstance(err, openai.APIError) and err.body is not None:
        return _stream_error(err, secret)
    if streaming:
        return ProviderStreamBroken("the OpenAI stream broke off", details=kind)
    if isinstance(err, openai.APIConnectionError | httpx2.TransportError):
        return ProviderConnectionError("could not reach the OpenAI endpoint", details=kind)
    return ProviderError(redact(f"the OpenAI request failed: {err}", [secret]), details=kind)


def _stream_error(err: openai.APIError, secret: str | None) -> ProviderError:
    """An ``{"error": ...}`` payload inside a stream that had started fine."""
    message = _failure_text("the OpenAI stream failed", err.body, secret)
    details: dict[str, object] = {"type": err.type, "error_code": err.code, "in_stream": True}
    if "rate_limit" in f"{err.type} {err.code}":
        return ProviderRateLimited(message, status=None, details=details)
    return ProviderServerError(message, details=details)


def _status_error(err: openai.APIStatusError, secret: str | None) -> ProviderError:
    status = err.status_code
    message = _failure_text(f"OpenAI answered HTTP {status}", err.body, secret)
    details: dict[str, object] = {"type": err.type} if err.type else {}
    if err.code:
        details["error_code"] = err.code
    retry_after = retry_after_seconds(err.response.headers)
    return error_for_status(status, message, retry_after=retry_after, details=details)


def _failure_text(prefix: str, body: object, secret: str | None) -> str:
    said = body.get("message") if isinstance(body, dict) else None
    return redact(f"{prefix}: {said}" if isinstance(said, str) else prefix, [secret])
