"""The public fakes: their front door, their wire format and how loudly they fail."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import pytest

import yoi.testing
from yoi.engine.messages import UserMessage
from yoi.engine.model import ModelRequest
from yoi.errors import ProviderRateLimited, ProviderServerError, ScriptError
from yoi.providers.openai import OpenAIModel
from yoi.providers.script import Step
from yoi.testing import Call, FakeAnthropicServer, FakeOpenAIServer, Text, Usage, Wait

HELLO = ModelRequest(system="", messages=(UserMessage("hello"),))


async def raw_post(base_url: str, path: str, body: object) -> tuple[int, bytes]:
    """POST ``body`` as JSON with a bare socket; the status and the de-chunked body."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    payload = json.dumps(body).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload)}\r\n\r\n"
    writer.write(head.encode() + payload)
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    head_bytes, _, rest = raw.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ")[1])
    return status, _dechunk(rest) if b"chunked" in head_bytes else rest


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        out, data = out + data[:size], data[size + 2 :]
    return out


async def test_openai_fake_speaks_sse_chunks_then_done() -> None:
    turn: list[Step] = [Text("Hi"), Wait(0.01), Call("ls", {"p": "."}, pieces=2), Usage(3, 4)]
    async with FakeOpenAIServer([turn]) as server:
        body = {"model": "m", "stream_options": {"include_usage": True}}
        status, raw = await raw_post(server.base_url, "/v1/chat/completions", body)
    events = [line.removeprefix(b"data: ") for line in raw.split(b"\n\n") if line]
    assert status == 200
    assert events[-1] == b"[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[1]["choices"][0]["delta"] == {"content": "Hi"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["total_tokens"] == 7
    server.assert_consumed()


async def test_anthropic_fake_speaks_named_events() -> None:
    async with FakeAnthropicServer([[Text("Hi"), Usage(3, 4)]]) as server:
        status, raw = await raw_post(server.base_url, "/v1/messages", {"model": "m"})
    names = [block.split(b"\n")[0] for block in raw.split(b"\n\n") if block]
    assert status == 200
    assert names == [
        b"event: message_start",
        b"event: ping",
        b"event: content_block_start",
        b"event: content_block_delta",
        b"event: content_block_stop",
        b"event: message_delta",
        b"event: message_stop",
    ]


async def test_a_failing_first_step_answers_with_its_status_and_retry_after() -> None:
    turn = [yoi.testing.Fail(ProviderRateLimited("slow down", retry_after=2))]
    async with FakeAnthropicServer([turn]) as server:
        status, raw = await raw_post(server.base_url, "/v1/messages", {})
    assert status == 429
    assert json.loads(raw)["error"] == {"type": "rate_limit_error", "message": "slow down"}


async def test_a_request_past_the_script_is_a_500_and_an_overrun() -> None:
    server = FakeOpenAIServer([[Text("only turn")]])
    async with server, OpenAIModel("gpt-test", api_key="sk", base_url=server.base_url) as model:
        _ = [chunk async for chunk in model.stream(HELLO)]
        with pytest.raises(ProviderServerError, match="script has 1"):
            _ = [chunk async for chunk in model.stream(HELLO)]
    assert len(server.requests) == 2
    with pytest.raises(ScriptError, match="asked for 2"):
        server.assert_consumed()


async def test_unplayed_turns_fail_assert_consumed() -> None:
    async with FakeAnthropicServer([[Text("never asked")]]) as server:
        pass
    with pytest.raises(ScriptError, match="never requested"):
        server.assert_consumed()


async def test_a_request_to_another_path_is_a_404_and_fails_assert_consumed() -> None:
    async with FakeOpenAIServer([]) as server:
        status, _raw = await raw_post(server.base_url, "/v1/embeddings", {})
    assert status == 404
    with pytest.raises(ScriptError, match="/v1/embeddings"):
        server.assert_consumed()
