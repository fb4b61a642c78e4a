"""What a person creating a worker is offered: described profiles, and only the tools that exist.

The backend's embedded runtime here offers one tool; the runtime view lists
it, a create request may ask for it, and a name the runtime does not offer is
refused naming what it does offer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx
import pytest
from tests.backend.rig import BUILTIN_BUNDLE, OFFLINE
from tests.server.asgi import error_of

from yoi.backend import Backend, create_backend_app
from yoi.backend.views import profile_name
from yoi.engine import ToolResult
from yoi.runtime import Runtime

EMBEDDED = "backend-internal"


class EchoTool:
    name = "echo"
    description = "Says back what it is given."
    parameters: Mapping[str, object] = {"type": "object", "properties": {}}

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        return ToolResult("echoed", str(dict(arguments)))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(runtime_id=EMBEDDED, tools=[EchoTool()])
    async with Backend(runtime=runtime, bundle=BUILTIN_BUNDLE, model=OFFLINE) as backend:
        transport = httpx.ASGITransport(app=create_backend_app(backend))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


async def test_the_runtime_view_lists_the_tools_a_worker_may_ask_for(
    http: httpx.AsyncClient,
) -> None:
    (view,) = (await http.get("/api/runtimes")).json()["runtimes"]
    assert view["tools"] == ["echo", "submit_intent", "submit_report", "submit_review"]
    assert view["requestable_tools"] == ["echo"]
    created = await http.post(
        f"/api/runtimes/{EMBEDDED}/workers",
        json={"display_name": "Echoer", "requested_capabilities": [{"name": "echo"}]},
    )
    assert created.status_code == 201, created.text
    refused = await http.post(
        f"/api/runtimes/{EMBEDDED}/workers",
        json={"display_name": "Reader", "requested_capabilities": [{"name": "read_file"}]},
    )
    error = error_of(refused, 501)
    assert error["code"] == "unsupported_operation"
    assert error["details"]["offered"] == view["requestable_tools"]


async def test_workers_name_their_profile_as_a_create_request_does(
    http: httpx.AsyncClient,
) -> None:
    made = await http.post(f"/api/runtimes/{EMBEDDED}/workers", json={"profile": "coder"})
    assert made.json()["worker"]["profile"] == "coder"
    builtin = await http.post(
        f"/api/runtimes/{EMBEDDED}/workers", json={"profile": "builtin:reviewer"}
    )
    assert builtin.json()["worker"]["profile"] == "reviewer"
    listed = (await http.get("/api/workers")).json()["workers"]
    assert {worker["profile"] for worker in listed} == {"companion", "coder", "reviewer"}
    workspace = (await http.get("/api/workspace")).json()["workspace"]
    offered = {profile["name"] for profile in workspace["profiles"]}
    assert {worker["profile"] for worker in listed} <= offered


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("named:coder", "coder"),
        ("builtin:companion", "companion"),
        ("coder", "coder"),
        ("runtime_default", "runtime_default"),
        ("named:", "named:"),
        ("other:thing", "other:thing"),
    ],
)
def test_a_profile_reference_reads_as_its_name(reference: str, name: str) -> None:
    assert profile_name(reference) == name
