"""Answering approvals through the backend, for a runtime embedded and one behind a remote source.

The profile comes from the workspace (``.yoi/profiles/guarded.md``), so its
``permissions`` travel through the workspace bundle to whichever runtime runs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
from tests.backend.rig import Stack, open_stack
from tests.deploy_tool import Deploy
from tests.server.asgi import error_of

from yoi.testing import Call, Text

GUARDED = """+++
tools = ["deploy"]
permissions = ['deploy: "*production*" -> ask']
+++
You deploy when asked.
"""


@pytest.fixture(params=["embedded", "remote"])
async def guarded(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Stack, Deploy]]:
    kind: Literal["embedded", "remote"] = request.param
    tool = Deploy()
    turns = ([Call("deploy", {"target": "production"}, id="c1")], [Text("done")])
    async with open_stack(
        kind, turns, tmp_path, tools=[tool], profiles={"guarded": GUARDED}
    ) as stack:
        yield stack, tool


async def held(stack: Stack, worker_id: str) -> dict[str, Any]:
    """Create a guarded worker, ask it to deploy, and return its approval_requested event."""
    await stack.create(
        worker_id=worker_id,
        profile="guarded",
        requested_capabilities=[{"name": "deploy"}],
    )
    async with stack.observe(worker_id) as watch:
        await watch.frame()
        assert (await stack.send(worker_id, "ship it")).status_code == 202
        event: dict[str, Any] = (await watch.until("approval_requested"))[-1]["event"]
    return event


async def test_an_approval_is_answered_through_the_backend(
    guarded: tuple[Stack, Deploy],
) -> None:
    stack, tool = guarded
    asked = await held(stack, "ops")
    assert (asked["tool"], asked["call_id"], asked["rule"]) == (
        "deploy",
        "c1",
        'deploy: "*production*" -> ask',
    )
    worker = (await stack.http.get(stack.path("ops"))).json()["worker"]
    assert [a["approval_id"] for a in worker["approvals"]] == [asked["approval_id"]]
    assert tool.calls == []

    path = stack.path("ops", "approvals", asked["approval_id"])
    async with stack.observe("ops") as watch:
        await watch.frame()
        answer = await stack.http.post(path, json={"decision": "allow"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ack": {"approval_id": asked["approval_id"], "decision": "allow"}}
        frames = await watch.until("run_finished")
    resolved = [f["event"] for f in frames if f["event"]["type"] == "approval_resolved"]
    assert resolved == [
        {
            "type": "approval_resolved",
            "run_id": asked["run_id"],
            "approval_id": asked["approval_id"],
            "decision": "allow",
            "by": "person",
        }
    ]
    assert tool.calls == [{"target": "production"}]
    again = await stack.http.post(path, json={"decision": "deny"})
    assert error_of(again, 404)["code"] == "approval_not_found"


async def test_bad_answers_are_refused_with_typed_errors(guarded: tuple[Stack, Deploy]) -> None:
    stack, tool = guarded
    asked = await held(stack, "ops")
    path = stack.path("ops", "approvals", asked["approval_id"])
    for body in ({"decision": "maybe"}, {}, {"decision": "allow", "extra": 1}, {"decision": 1}):
        response = await stack.http.post(path, json=body)
        assert error_of(response, 400)["code"] == "invalid_request", body
    unknown = await stack.http.post(
        stack.path("ops", "approvals", "ap-none"), json={"decision": "allow"}
    )
    assert error_of(unknown, 404)["code"] == "approval_not_found"
    malformed = await stack.http.post(
        stack.path("ops", "approvals", "Bad.Id"), json={"decision": "allow"}
    )
    assert error_of(malformed, 400)["code"] == "invalid_request"
    nobody = await stack.http.post(
        stack.path("nobody", "approvals", "ap-x"), json={"decision": "allow"}
    )
    assert error_of(nobody, 404)["code"] == "worker_not_found"
    plain = await stack.http.post(path, content=b'{"decision": "allow"}')
    assert error_of(plain, 415)["code"] == "unsupported_media_type"
    assert tool.calls == []
    done = await stack.http.post(path, json={"decision": "allow"})
    assert done.status_code == 200
