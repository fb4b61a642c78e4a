"""Workers at work through ``yoi serve``: a coder and a reviewer on the local runtime process,
each in its own workdir of the workspace, driven by a model that speaks the real OpenAI wire
format (a fake server on 127.0.0.1), observed and answered through the backend's API only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.backend.test_local_runtime import local_view, status_is
from tests.backend.test_local_runtime import served as served_by
from tests.backend.test_process import finished, frame_of, frames_until, stream_url
from tests.git_repo import git, tagged_repo
from tests.isolation import isolated_env
from websockets.asyncio.client import connect

from yoi.providers.script import Call, Text, Turn
from yoi.testing import FakeOpenAIServer
from yoi.workspace import Workspace

DEADLINE = 60.0
LOCAL = "local"
Frame = dict[str, Any]


@asynccontextmanager
async def served(
    workspace: Workspace, turns: list[Turn]
) -> AsyncIterator[tuple[httpx.AsyncClient, str, FakeOpenAIServer]]:
    """``yoi serve`` of ``workspace`` in this process, its model a fake OpenAI server; the
    block starts once the local runtime is available."""
    async with FakeOpenAIServer(turns) as fake:
        env = isolated_env(OPENAI_API_KEY="sk-test-local", OPENAI_BASE_URL=fake.base_url)
        async with (
            served_by(workspace, model="openai:gpt-test", env=env) as out,
            httpx.AsyncClient(base_url=out.url, timeout=DEADLINE) as http,
        ):
            await local_view(http, status_is("available"))
            yield http, out.url, fake
        fake.assert_consumed()


async def create(http: httpx.AsyncClient, body: dict[str, object]) -> Frame:
    made = await http.post(f"/api/runtimes/{LOCAL}/workers", json=body)
    assert made.status_code == 201, made.text
    worker: Frame = made.json()["worker"]
    return worker


async def run(
    http: httpx.AsyncClient,
    base: str,
    worker_id: str,
    content: str,
    on: Callable[[Frame], Any] | None = None,
) -> list[Frame]:
    """Send ``content`` and collect the worker's frames until its run ends; ``on`` sees each
    frame as it comes (and may answer it through the API)."""
    path = f"/api/runtimes/{LOCAL}/workers/{worker_id}/input"
    async with connect(stream_url(base, LOCAL, worker_id), open_timeout=DEADLINE) as stream:
        assert (await frame_of(stream))["event"]["type"] == "snapshot"
        sent = await http.post(path, json={"content": content})
        assert sent.status_code == 202, sent.text
        done = finished(sent.json()["ack"]["run_id"])
        seen: list[Frame] = []
        async with asyncio.timeout(DEADLINE):
            while not seen or not done(seen[-1]):
                seen += await frames_until(stream, lambda frame: True)
                if on is not None:
                    await on(seen[-1])
        return seen


def tool_results(frames: list[Frame]) -> list[tuple[str, bool, str]]:
    return [
        (f["event"]["name"], f["event"]["is_error"], f["event"]["summary"])
        for f in frames
        if f["event"]["type"] == "tool_call_finished"
    ]


def worktree(workspace: Workspace, workdir_id: str) -> Path:
    return workspace.worktrees / workdir_id


async def test_a_coder_on_the_local_runtime_reads_edits_tests_and_commits_on_its_branch(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tagged_repo(tmp_path / "project"))
    turns: list[Turn] = [
        [Call("read_file", {"path": "app.py"})],
        [Call("edit_file", {"path": "app.py", "old_string": "one", "new_string": "two"})],
        [Call("bash", {"command": "python3 app.py | grep -qx two && echo tests pass"})],
        [Call("git_commit", {"message": "Say two", "paths": ["app.py"]})],
        [Call("submit_report", {"summary": "says two", "files": ["app.py"], "commands": []})],
        [Text("Done: app.py says two, committed on coder/two.")],
    ]
    async with served(workspace, turns) as (http, base, _):
        coder = await create(http, {"profile": "coder", "workdir": {"branch": "coder/two"}})
        assert coder["workdir"] is not None
        assert {"bash", "edit_file", "git_commit", "submit_report"} <= set(coder["tools"])
        frames = await run(http, base, coder["worker_id"], "make app.py say two")
    results = tool_results(frames)
    assert [(name, error) for name, error, _ in results] == [
        ("read_file", False),
        ("edit_file", False),
        ("bash", False),
        ("git_commit", False),
        ("submit_report", False),
    ], results
    assert git(workspace.root, "show", "coder/two:app.py") == "print('two')\n"
    assert git(workspace.root, "log", "-1", "--format=%s", "coder/two").strip() == "Say two"
    assert (workspace.root / "app.py").read_text() == "print('one')\n"
    assert frames[-1]["event"]["result"] == "completed"


async def test_a_reviewer_on_the_local_runtime_cannot_change_its_workdir(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tagged_repo(tmp_path / "project"))
    turns: list[Turn] = [
        [
            Call("read_file", {"path": "app.py"}),
            Call("write_file", {"path": "app.py", "content": "print('mine')\n"}),
            Call("bash", {"command": "echo mine > app.py"}),
        ],
        [Call("submit_review", {"verdict": "approve", "summary": "fine", "findings": []})],
        [Text("Approved.")],
    ]
    async with served(workspace, turns) as (http, base, _):
        reviewer = await create(http, {"profile": "reviewer", "workdir": {}})
        assert "write_file" not in reviewer["tools"]
        assert reviewer["grant"]["capabilities"] == ["glob", "grep", "read"]
        frames = await run(http, base, reviewer["worker_id"], "review the change")
        files = worktree(workspace, reviewer["workdir"])
        assert (files / "app.py").read_text() == "print('one')\n"
    results = {name: (error, summary) for name, error, summary in tool_results(frames)}
    assert results["read_file"][0] is False
    assert results["write_file"] == (True, "unknown tool 'write_file'")
    assert results["bash"] == (True, "unknown tool 'bash'")
    assert results["submit_review"][0] is False


async def test_an_ask_rule_holds_a_command_until_a_person_allows_it_through_the_backend(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tagged_repo(tmp_path / "project"))
    workspace.profiles.mkdir(parents=True)
    (workspace.profiles / "careful.md").write_text(
        "+++\n"
        'grant = ["read", "command"]\n'
        "permissions = ['bash: \"echo*\" -> ask']\n"
        "+++\n"
        "You run what you are asked to, once allowed.\n",
        encoding="utf-8",
    )
    turns: list[Turn] = [[Call("bash", {"command": "echo allowed"})], [Text("ran it")]]
    answers: list[int] = []

    async with served(workspace, turns) as (http, base, _):
        worker = await create(http, {"profile": "careful", "workdir": {}})

        async def allow(frame: Frame) -> None:
            event = frame["event"]
            if event["type"] != "approval_requested":
                return
            assert event["tool"] == "bash"
            assert "echo" in event["rule"]
            answer = await http.post(
                f"/api/runtimes/{LOCAL}/workers/{worker['worker_id']}"
                f"/approvals/{event['approval_id']}",
                json={"decision": "allow"},
            )
            answers.append(answer.status_code)

        frames = await run(http, base, worker["worker_id"], "say allowed", on=allow)
    assert answers == [200]
    kinds = [f["event"]["type"] for f in frames]
    assert kinds.index("approval_requested") < kinds.index("approval_resolved")
    resolved = next(f["event"] for f in frames if f["event"]["type"] == "approval_resolved")
    assert (resolved["decision"], resolved["by"]) == ("allow", "person")
    ((name, error, summary),) = tool_results(frames)
    assert (name, error) == ("bash", False), summary


async def test_the_companion_holds_ticket_tools_and_the_embedded_runtime_no_file_tools(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tagged_repo(tmp_path / "project"))
    async with served(workspace, []) as (http, _, _):
        companion = (await http.get("/api/runtimes/backend-internal/workers/companion")).json()
        runtimes = {
            r["runtime_id"]: r for r in (await http.get("/api/runtimes")).json()["runtimes"]
        }
    tools = set(companion["worker"]["tools"])
    assert {"list_tickets", "create_ticket", "comment_ticket", "ready_tickets"} <= tools
    assert not tools & {"read_file", "write_file", "bash", "git_commit"}
    embedded = set(runtimes["backend-internal"]["tools"])
    assert not embedded & {"read_file", "write_file", "bash", "git_commit", "grep"}
    assert {"read_file", "bash", "git_commit"} <= set(runtimes[LOCAL]["tools"])
