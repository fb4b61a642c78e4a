"""A worker created in a role, naming no profile, works with the profile of that role."""

from __future__ import annotations

import httpx
import pytest
from tests.backend.rig import BUILTIN_BUNDLE, plain_backend

from yoi.backend import create_backend_app
from yoi.backend.profiles import profile_for_role
from yoi.runtime import AssistantIntent, CreateWorkerRequest, RoleIntent, TaskIntent

CODER = RoleIntent("coder")


@pytest.mark.parametrize(
    ("request_", "profile"),
    [
        (CreateWorkerRequest(intent=RoleIntent("coder")), "named:coder"),
        (CreateWorkerRequest(intent=RoleIntent("reviewer", "tests")), "named:reviewer"),
        (CreateWorkerRequest(intent=RoleIntent("gardener")), "runtime_default"),
        (CreateWorkerRequest(intent=RoleIntent("coder"), profile="named:default"), "named:default"),
        (
            CreateWorkerRequest(intent=RoleIntent("coder"), profile="builtin:intake"),
            "builtin:intake",
        ),
        (CreateWorkerRequest(intent=TaskIntent("coder")), "runtime_default"),
        (CreateWorkerRequest(intent=AssistantIntent(purpose="coder")), "runtime_default"),
    ],
)
def test_only_a_role_without_a_profile_takes_the_roles_profile(
    request_: CreateWorkerRequest, profile: str
) -> None:
    assert profile_for_role(request_, BUILTIN_BUNDLE).profile == profile


async def test_the_api_gives_a_role_its_profile_and_leaves_a_named_one_alone() -> None:
    backend = plain_backend()
    transport = httpx.ASGITransport(app=create_backend_app(backend))
    async with backend, httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        runtime_id = backend.runtime.runtime_id
        path = f"/api/runtimes/{runtime_id}/workers"
        role = {"kind": "role", "role": "coder"}
        coder = await http.post(path, json={"intent": role})
        named = await http.post(path, json={"intent": role, "profile": "default"})
        plain = await http.post(path, json={})
    assert [r.status_code for r in (coder, named, plain)] == [201, 201, 201]
    assert [r.json()["worker"]["profile"] for r in (coder, named, plain)] == [
        "coder",
        "default",
        "default",
    ]
