"""Replies as safe HTML: ``GET .../transcript?render=html`` renders what a model said, only that.

A reply is Markdown written by a model, which may have been steered by
anything it read: it gets the tickets' safe renderer. What a person or a tool
said stays text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.backend.rig import BUILTIN_BUNDLE, OFFLINE

from yoi.backend import Backend, create_backend_app
from yoi.backend.markdown import render_markdown, render_replies
from yoi.providers.script import Turn
from yoi.runtime import CreateWorkerRequest, Runtime
from yoi.testing import ScriptedModel, Text
from yoi.testing.observe import run_to_end

EMBEDDED = "backend-internal"
REPLY = (
    "Here is **the plan**:\n\n- one\n- two\n\n<script>alert(1)</script> [x](javascript:alert(2))"
)
TURNS: list[Turn] = [[Text(REPLY)]]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(runtime_id=EMBEDDED, model=ScriptedModel(TURNS))
    async with Backend(runtime=runtime, bundle=BUILTIN_BUNDLE, model=OFFLINE) as backend:
        worker = await runtime.create_worker(CreateWorkerRequest(worker_id="scout"))
        await run_to_end(runtime, worker.worker_id, "Say **it** <b>now</b>")
        transcript = httpx.ASGITransport(app=create_backend_app(backend))
        async with httpx.AsyncClient(transport=transcript, base_url="http://127.0.0.1") as client:
            yield client


async def test_a_reply_comes_rendered_safely_and_the_input_stays_text(
    http: httpx.AsyncClient,
) -> None:
    path = f"/api/runtimes/{EMBEDDED}/workers/scout/transcript"
    plain = (await http.get(path)).json()["transcript"]["items"]
    rendered = (await http.get(path, params={"render": "html"})).json()["transcript"]["items"]
    assert [item["role"] for item in rendered] == ["user", "assistant"]
    user, reply = rendered
    assert "html" not in user
    assert reply["content"] == REPLY
    html = reply["html"]
    assert "<strong>the plan</strong>" in html
    assert "<li>one</li>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert [{k: v for k, v in item.items() if k != "html"} for item in rendered] == plain
    refused = await http.get(path, params={"render": "pdf"})
    assert refused.status_code == 400


roles = st.sampled_from(["user", "assistant", "tool", "system"])
entries = st.lists(
    st.fixed_dictionaries({"sequence": st.integers(1, 10**6), "role": roles, "content": st.text()}),
    max_size=6,
)


@given(entries)
def test_only_replies_gain_html_and_nothing_else_changes(items: list[dict[str, object]]) -> None:
    page: dict[str, object] = {"items": [dict(item) for item in items], "total": len(items)}
    out = render_replies(page)
    assert out["total"] == len(items)
    shown = out["items"]
    assert isinstance(shown, list)
    for before, after in zip(items, shown, strict=True):
        if before["role"] == "assistant":
            assert after == {**before, "html": render_markdown(str(before["content"]))}
        else:
            assert after == before
