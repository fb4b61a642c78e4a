"""OpenAIModel through the real SDK against a fake Chat Completions server on loopback."""

from __future__ import annotations

import json

import pytest
from tests.providers.rig import HELLO, Rig

from yoi.engine.messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
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
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderServerError,
    ProviderStreamBroken,
    ProviderTimeout,
)
from yoi.providers.openai import OpenAIModel
from yoi.testing import (
    Call,
    Cut,
    Fail,
    FakeOpenAIServer,
    Stall,
    Text,
    Think,
    Usage,
)
from yoi.testing._fake_http import FakeHttpServer, HttpRequest, HttpResponse

KEY = "sk-test-secret-4242"


def model_for(server: FakeOpenAIServer) -> OpenAIModel:
    return OpenAIModel("gpt-test", api_key=KEY, base_url=server.base_url, read_timeout=0.5)


RIG = Rig(FakeOpenAIServer, model_for, KEY)
exchange, play, fail = RIG.exchange, RIG.play, RIG.fail


async def consume_into(received: list[ModelChunk], model: OpenAIModel) -> None:
    async for chunk in model.stream(HELLO):
        received.append(chunk)


async def test_name_is_the_provider_reference() -> None:
    async with OpenAIModel("gpt-test", api_key=KEY) as model:
        assert model.name == "openai:gpt-test"


def test_no_credentials_is_model_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    with pytest.raises(ModelUnavailable):
        OpenAIModel("gpt-test")


async def test_base_url_defaults_to_openai_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeOpenAIServer([[Text("from env")]]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        async with OpenAIModel("gpt-test", api_key=KEY) as model:
            chunks = [chunk async for chunk in model.stream(HELLO)]
    assert chunks == [TextChunk("from env")]


async def test_streams_text_and_usage() -> None:
    chunks = await play([Text("Hel", "lo"), Usage(12, 3)])
    assert chunks == [TextChunk("Hel"), TextChunk("lo"), UsageChunk(12, 3)]


async def test_reasoning_content_becomes_thinking() -> None:
    chunks = await play([Think("Let me ", "see."), Text("Done.")])
    assert chunks == [ThinkingChunk("Let me "), ThinkingChunk("see."), TextChunk("Done.")]


async def test_assembles_a_tool_call_split_across_chunks() -> None:
    arguments = '{"path": "src/yoi", "depth": 2}'
    chunks = await play([Text("Looking."), Call("list_dir", arguments, id="call_a", pieces=5)])
    assert chunks == [
        TextChunk("Looking."),
        ToolCallChunk(ToolCall("call_a", "list_dir", arguments)),
    ]


async def test_parallel_tool_calls_come_out_in_order() -> None:
    chunks = await play([Call("read", {"f": "a"}, pieces=3), Call("read", {"f": "b"}, pieces=2)])
    calls = [chunk.call for chunk in chunks if isinstance(chunk, ToolCallChunk)]
    assert [(call.name, call.arguments) for call in calls] == [
        ("read", '{"f": "a"}'),
        ("read", '{"f": "b"}'),
    ]
    assert calls[0].id != calls[1].id


async def test_request_body_carries_the_conversation_and_tools() -> None:
    call = ToolCall("call_1", "read", '{"f": "a"}')
    schema = {"type": "object", "properties": {"f": {"type": "string"}}}
    request = ModelRequest(
        system="You are yoi.",
        messages=(
            UserMessage("read a"),
            AssistantMessage("Reading.", tool_calls=(call,)),
            ToolResultMessage("call_1", "read", "contents of a"),
            ToolResultMessage("call_9", "read", "no such file", is_error=True),
        ),
        tools=(ToolSpec("read", "Read a file.", schema),),
        max_output_tokens=256,
    )
    _chunks, sent = await exchange([Text("ok")], request)
    assert sent.path.endswith("/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-test"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["max_completion_tokens"] == 256
    assert sent.body["messages"] == [
        {"role": "system", "content": "You are yoi."},
        {"role": "user", "content": "read a"},
        {
            "role": "assistant",
            "content": "Reading.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "read", "arguments": '{"f": "a"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "contents of a"},
        {"role": "tool", "tool_call_id": "call_9", "content": "Error: no such file"},
    ]
    assert sent.body["tools"] == [
        {
            "type": "function",
            "function": {"name": "read", "description": "Read a file.", "parameters": schema},
        }
    ]


async def test_no_tools_means_no_tools_field() -> None:
    _chunks, sent = await exchange([Text("ok")])
    assert "tools" not in sent.body
    assert "max_completion_tokens" not in sent.body


async def test_429_is_rate_limited_with_retry_after() -> None:
    error = await fail([Fail(ProviderRateLimited("Rate limit reached.", retry_after=7))])
    assert isinstance(error, ProviderRateLimited)
    assert error.retry_after == 7.0
    assert error.status == 429
    assert "Rate limit reached." in error.message


async def test_500_is_a_server_error() -> None:
    error = await fail([Fail(ProviderServerError("The server had an error."))])
    assert isinstance(error, ProviderServerError)
    assert error.status == 500
    assert error.transient


async def test_401_is_an_auth_error_and_the_echoed_key_is_redacted() -> None:
    error = await fail([Fail(ProviderAuthError(f"Incorrect API key provided: {KEY}."))])
    assert isinstance(error, ProviderAuthError)
    assert error.status == 401
    assert "Incorrect API key provided: [redacted]" in error.message


async def test_403_is_an_auth_error() -> None:
    error = await fail([Fail(ProviderAuthError("Not allowed.", status=403))])
    assert isinstance(error, ProviderAuthError)
    assert error.status == 403


async def test_400_is_a_rejected_request() -> None:
    error = await fail([Fail(ProviderRequestRejected("Unknown parameter."))])
    assert isinstance(error, ProviderRequestRejected)
    assert error.status == 400
    assert not error.transient


async def test_a_stream_cut_midway_is_broken() -> None:
    error = await fail([Text("partial"), Cut()])
    assert isinstance(error, ProviderStreamBroken)


async def test_an_error_payload_mid_stream_is_a_server_error() -> None:
    error = await fail([Text("partial"), Fail(ProviderServerError("upstream overloaded"))])
    assert isinstance(error, ProviderServerError)
    assert "upstream overloaded" in error.message


async def test_a_rate_limit_payload_mid_stream_is_rate_limited() -> None:
    error = await fail([Text("partial"), Fail(ProviderRateLimited("too many tokens"))])
    assert isinstance(error, ProviderRateLimited)
    assert error.details["in_stream"] is True


async def test_a_stalled_stream_times_out() -> None:
    error = await fail([Text("partial"), Stall()])
    assert isinstance(error, ProviderTimeout)


async def test_output_before_a_cut_is_still_delivered() -> None:
    received: list[ModelChunk] = []
    async with FakeOpenAIServer([[Text("partial"), Cut()]]) as server, model_for(server) as model:
        with pytest.raises(ProviderStreamBroken):
            await consume_into(received, model)
    assert received == [TextChunk("partial")]


async def test_nobody_listening_is_a_connection_error() -> None:
    async with FakeOpenAIServer([]) as server:
        pass
    async with model_for(server) as model:
        with pytest.raises(ProviderConnectionError) as caught:
            _ = [chunk async for chunk in model.stream(HELLO)]
    assert KEY not in str(caught.value)


async def test_a_stream_that_ends_without_a_finish_is_broken() -> None:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    choice = {"index": 0, "delta": {"content": "hi"}, "finish_reason": None}
    line = b"data: " + json.dumps({**chunk, "choices": [choice]}).encode() + b"\n\n"

    async def unfinished(request: HttpRequest, response: HttpResponse) -> None:
        await response.start_stream(content_type="text/event-stream")
        await response.write(line)
        await response.end_stream()

    async with FakeHttpServer(unfinished) as server:
        model = OpenAIModel("gpt-test", api_key=KEY, base_url=server.base_url)
        async with model:
            with pytest.raises(ProviderStreamBroken):
                _ = [chunk async for chunk in model.stream(HELLO)]
