"""AnthropicModel through the real SDK against a fake Messages server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.providers.rig import HELLO, Rig

from yoi.engine.messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from yoi.engine.model import (
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
from yoi.providers.anthropic import AnthropicModel
from yoi.testing import (
    Call,
    Cut,
    Fail,
    FakeAnthropicServer,
    Stall,
    Text,
    Think,
    Usage,
)
from yoi.testing._fake_http import FakeHttpServer, HttpRequest, HttpResponse

KEY = "sk-ant-test-secret-4242"


def model_for(server: FakeAnthropicServer) -> AnthropicModel:
    return AnthropicModel("claude-test", api_key=KEY, base_url=server.base_url, read_timeout=0.5)


RIG = Rig(FakeAnthropicServer, model_for, KEY)
exchange, play, fail = RIG.exchange, RIG.play, RIG.fail


async def test_name_is_the_provider_reference() -> None:
    async with AnthropicModel("claude-test", api_key=KEY) as model:
        assert model.name == "anthropic:claude-test"


@pytest.mark.parametrize("config_dir_set", [False, True])
def test_no_credentials_is_model_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config_dir_set: bool
) -> None:
    for name in ("API_KEY", "AUTH_TOKEN", "PROFILE", "IDENTITY_TOKEN", "IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(f"ANTHROPIC_{name}", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    if config_dir_set:
        monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))
    else:
        monkeypatch.delenv("ANTHROPIC_CONFIG_DIR", raising=False)
    with pytest.raises(ModelUnavailable):
        AnthropicModel("claude-test")


async def test_streams_text_and_one_usage_chunk() -> None:
    chunks = await play([Text("Hel", "lo"), Usage(20, 4)])
    assert chunks == [TextChunk("Hel"), TextChunk("lo"), UsageChunk(20, 4)]


async def test_thinking_deltas_become_thinking() -> None:
    chunks = await play([Think("Let me ", "see."), Text("Done.")])
    assert chunks[:3] == [ThinkingChunk("Let me "), ThinkingChunk("see."), TextChunk("Done.")]


async def test_assembles_a_tool_use_split_across_json_deltas() -> None:
    arguments = '{"path": "src/yoi", "depth": 2}'
    chunks = await play([Text("Looking."), Call("list_dir", arguments, id="toolu_a", pieces=6)])
    assert chunks[:2] == [
        TextChunk("Looking."),
        ToolCallChunk(ToolCall("toolu_a", "list_dir", arguments)),
    ]


async def test_parallel_tool_uses_come_out_in_order() -> None:
    chunks = await play([Call("read", {"f": "a"}, pieces=3), Call("read", {"f": "b"}, pieces=2)])
    calls = [chunk.call for chunk in chunks if isinstance(chunk, ToolCallChunk)]
    assert [(call.name, call.arguments) for call in calls] == [
        ("read", '{"f": "a"}'),
        ("read", '{"f": "b"}'),
    ]
    assert calls[0].id != calls[1].id


async def test_request_body_carries_the_conversation_and_tools() -> None:
    schema = {"type": "object", "properties": {"f": {"type": "string"}}}
    calls = (ToolCall("toolu_1", "read", '{"f": "a"}'), ToolCall("toolu_2", "read", "{oops"))
    request = ModelRequest(
        system="You are yoi.",
        messages=(
            UserMessage("read a and b"),
            AssistantMessage("Reading.", tool_calls=calls, thinking="hidden"),
            ToolResultMessage("toolu_1", "read", "contents of a"),
            ToolResultMessage("toolu_2", "read", "bad arguments", is_error=True),
            AssistantMessage(""),
            UserMessage("thanks"),
        ),
        tools=(ToolSpec("read", "Read a file.", schema),),
    )
    _chunks, sent = await exchange([Text("ok")], request)
    assert sent.path == "/v1/messages"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "claude-test"
    assert sent.body["stream"] is True
    assert sent.body["max_tokens"] == 4096
    assert sent.body["system"] == "You are yoi."
    assert sent.body["messages"] == [
        {"role": "user", "content": "read a and b"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"f": "a"}},
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "read",
                    "input": {"invalid_json": "{oops"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "contents of a",
                    "is_error": False,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": "bad arguments",
                    "is_error": True,
                },
            ],
        },
        {"role": "user", "content": "thanks"},
    ]
    assert sent.body["tools"] == [
        {"name": "read", "description": "Read a file.", "input_schema": schema}
    ]


async def test_max_output_tokens_and_no_tools() -> None:
    request = ModelRequest(system="", messages=(UserMessage("hi"),), max_output_tokens=99)
    _chunks, sent = await exchange([Text("ok")], request)
    assert sent.body["max_tokens"] == 99
    assert "tools" not in sent.body
    assert "system" not in sent.body


async def test_429_is_rate_limited_with_retry_after() -> None:
    error = await fail([Fail(ProviderRateLimited("Number of requests too high.", retry_after=3))])
    assert isinstance(error, ProviderRateLimited)
    assert error.retry_after == 3.0
    assert error.status == 429
    assert "Number of requests too high." in error.message


async def test_500_is_a_server_error() -> None:
    error = await fail([Fail(ProviderServerError("Internal server error"))])
    assert isinstance(error, ProviderServerError)
    assert error.status == 500


async def test_529_overloaded_is_a_server_error() -> None:
    error = await fail([Fail(ProviderServerError("Overloaded", status=529))])
    assert isinstance(error, ProviderServerError)
    assert error.status == 529
    assert error.details["type"] == "overloaded_error"


async def test_401_is_an_auth_error_and_the_echoed_key_is_redacted() -> None:
    error = await fail([Fail(ProviderAuthError(f"invalid x-api-key {KEY}"))])
    assert isinstance(error, ProviderAuthError)
    assert error.status == 401
    assert "invalid x-api-key [redacted]" in error.message


async def test_400_is_a_rejected_request() -> None:
    error = await fail([Fail(ProviderRequestRejected("max_tokens: too large"))])
    assert isinstance(error, ProviderRequestRejected)
    assert error.status == 400


async def test_an_overloaded_error_event_mid_stream_is_a_server_error() -> None:
    error = await fail([Text("partial"), Fail(ProviderServerError("Overloaded", status=529))])
    assert isinstance(error, ProviderServerError)
    assert error.details["type"] == "overloaded_error"
    assert "Overloaded" in error.message


async def test_a_rate_limit_error_event_mid_stream_is_rate_limited() -> None:
    error = await fail([Text("partial"), Fail(ProviderRateLimited("slow down"))])
    assert isinstance(error, ProviderRateLimited)


async def test_a_stream_cut_midway_is_broken() -> None:
    error = await fail([Text("partial"), Cut()])
    assert isinstance(error, ProviderStreamBroken)


async def test_a_stalled_stream_times_out() -> None:
    error = await fail([Text("partial"), Stall()])
    assert isinstance(error, ProviderTimeout)


async def test_nobody_listening_is_a_connection_error() -> None:
    async with FakeAnthropicServer([]) as server:
        pass
    async with model_for(server) as model:
        with pytest.raises(ProviderConnectionError) as caught:
            _ = [chunk async for chunk in model.stream(HELLO)]
    assert KEY not in str(caught.value)


async def test_a_stream_that_ends_without_message_stop_is_broken() -> None:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": []}
    usage = {"input_tokens": 1, "output_tokens": 1}
    start = {"type": "message_start", "message": {**message, "usage": usage}}
    events = [
        f"event: message_start\ndata: {json.dumps(start)}\n\n",
        'event: content_block_start\ndata: {"type": "content_block_start", "index": 0, '
        '"content_block": {"type": "text", "text": ""}}\n\n',
    ]

    async def unfinished(request: HttpRequest, response: HttpResponse) -> None:
        await response.start_stream(content_type="text/event-stream")
        for event in events:
            await response.write(event.encode())
        await response.end_stream()

    async with FakeHttpServer(unfinished) as server:
        model = AnthropicModel("claude-test", api_key=KEY, base_url=server.base_url)
        async with model:
            with pytest.raises(ProviderStreamBroken):
                _ = [chunk async for chunk in model.stream(HELLO)]
