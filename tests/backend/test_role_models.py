"""``yoi serve`` with ``[roles.<role>] model``: each runtime runs a role's workers on its model."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.backend.test_orchestrator_api import (
    DEADLINE,
    Announced,
    configure,
    make_repository,
)
from tests.backend.test_process import EMBEDDED, Serving, converse, workspace_at
from tests.server.test_process import KEY, clean_env

from yoi.backend.orchestration import NO_MODEL
from yoi.backend.process import ServeOptions, serve_backend
from yoi.testing import FakeOpenAIServer, Text

CONFIG = """
[roles.orchestrator]
model = "openai:gpt-intake-test"

[roles.coder]
model = "openai:gpt-coder-test"
"""


async def make(http: httpx.AsyncClient, runtime_id: str, body: dict[str, object]) -> str:
    response = await http.post(f"/api/runtimes/{runtime_id}/workers", json=body)
    assert response.status_code == 201, response.text
    worker = response.json()["worker"]
    return f"{worker['worker_id']} {worker['model']}"


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[Serving]:
    async with Serving(tmp_path) as serving:
        yield serving


def role(name: str) -> dict[str, object]:
    return {"intent": {"kind": "role", "role": name}, "profile": "builtin:default"}


async def test_each_runtime_runs_a_roles_workers_on_the_roles_model(
    serving: Serving, tmp_path: Path
) -> None:
    workspace = workspace_at(tmp_path)
    (workspace / ".yoi").mkdir()
    (workspace / ".yoi" / "config.toml").write_text(CONFIG, encoding="utf-8")
    turns = [[Text("the intake answers")], [Text("the coder answers")]]
    async with FakeOpenAIServer(turns) as fake:
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url)
        served = await serving.serve(workspace, "--model", "scripted:offline", env=env)
        assert served.lines[-3:-1] == [
            "model for the orchestrator role: openai:gpt-intake-test\n",
            "model for the coder role: openai:gpt-coder-test\n",
        ]
        async with httpx.AsyncClient(base_url=served.url) as http:
            intake = await make(http, EMBEDDED, {"worker_id": "intake", **role("orchestrator")})
            assert intake == "intake openai:gpt-intake-test"
            assert await make(http, EMBEDDED, {"worker_id": "helper"}) == "helper scripted:offline"
            coder = await make(http, "local", {"worker_id": "coder", **role("coder")})
            assert coder == "coder openai:gpt-coder-test"
            reviewer = await make(http, "local", {"worker_id": "reviewer", **role("reviewer")})
            assert reviewer == "reviewer scripted:offline"
            path = "/api/runtimes/{}/workers/{}/input"
            for runtime_id, worker_id in ((EMBEDDED, "intake"), ("local", "coder")):
                sent = path.format(runtime_id, worker_id)
                frames = await converse(http, served.url, runtime_id, worker_id, sent, "hi")
                assert frames[-1]["event"]["result"] == "completed", frames[-1]
        assert [request.body["model"] for request in fake.requests] == [
            "gpt-intake-test",
            "gpt-coder-test",
        ]
        assert {request.headers["authorization"] for request in fake.requests} == {f"Bearer {KEY}"}
        fake.assert_consumed()
        done = await serving.stop(served, signal.SIGTERM)
    assert done.code == 0, done.err
    assert KEY not in done.out + done.err


ALL_ROLES = CONFIG + '\n[roles.reviewer]\nmodel = "anthropic:claude-reviewer-test"\n'


@pytest.mark.parametrize(
    ("config", "problems"),
    [(ALL_ROLES, []), (CONFIG, [{"code": "no_model", "message": NO_MODEL}])],
    ids=["every-role-has-a-model", "the-reviewer-would-answer-offline"],
)
async def test_the_orchestrator_waits_only_while_one_of_its_roles_would_answer_offline(
    tmp_path: Path, config: str, problems: list[dict[str, str]]
) -> None:
    workspace = configure(make_repository(tmp_path / "workspace"), config)
    out, stop = Announced(), asyncio.Event()
    options = ServeOptions(workspace, listen="127.0.0.1:0", model="scripted:offline")
    env = {"OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": KEY}
    served = asyncio.create_task(serve_backend(options, env, out, stop=stop))
    try:
        async with asyncio.timeout(DEADLINE):
            await out.ready.wait()
        async with httpx.AsyncClient(base_url=out.url) as http:
            response = await http.get("/api/orchestrator")
    finally:
        stop.set()
        await served
    assert response.status_code == 200, response.text
    found = response.json()["problems"]  # the local runtime is off here: a problem of its own
    assert [problem for problem in found if problem["code"] != "runtime_not_found"] == problems
    assert KEY not in out.getvalue()
