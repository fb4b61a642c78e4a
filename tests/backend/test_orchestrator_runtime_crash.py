"""A process test: the local runtime (the ``yoi runtime serve`` child of ``yoi serve``) is
killed with SIGKILL while a ticket's coder is mid-run. The backend starts the runtime again,
the orchestrator asks the coder again from the step it had recorded, and the ticket is done
with nothing done twice; once ``yoi serve`` stops, no runtime process of it is left.

The coder's model is a fake OpenAI server holding the coder's second model request (after
its first tool call, a file written) until the runtime dies, so the kill lands mid-run; the
intake and the reviewer answer on the demo playbook model.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from tests.backend.test_orchestrator_failpoints import ARGS, assert_once_each, listening, queued
from tests.backend.test_orchestrator_process import (
    Status,
    all_done,
    configured_repository,
    status_until,
)
from tests.backend.test_process import Served, Serving
from tests.git_repo import git
from tests.server.test_process import KEY, clean_env

from yoi.orchestrator.asks import INTERRUPTED
from yoi.orchestrator.operations import OperationStatus
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.providers.script import Call, Stall, Text, Turn
from yoi.testing import FakeOpenAIServer

DEADLINE = 60.0
CONFIG = """\
[orchestrator]
max_parallel = 1
pass_interval = 1
validation = ["true"]

[roles.{role}]
model = "openai:gpt-{role}-held"
"""
Worker = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Held:
    """A role whose worker the fake model holds mid-run: its model requests in order (the
    second one never answered: the runtime dies there), its step, and a file the merge has."""

    role: str
    turns: Callable[[str], list[Turn]]
    step: str
    merged: Callable[[str], tuple[str, str]]


def coder_turns(ticket: str) -> list[Turn]:
    """A file written, then held; asked again after the restart, the coder commits what it
    wrote before and reports."""
    report = {"summary": "Wrote greeting.txt; committed.", "files": ["greeting.txt"]}
    return [
        [Call("write_file", {"path": "greeting.txt", "content": "hello\n"})],
        [Stall()],
        [Call("git_commit", {"message": f"{ticket}: Add a greeting", "all": True})],
        [Call("submit_report", {**report, "commands": []})],
        [Text("Committed and reported.")],
    ]


def reviewer_turns(ticket: str) -> list[Turn]:
    """A file read, then held; asked again after the restart, the reviewer approves."""
    approved = {"verdict": "approve", "summary": f"{ticket} is fine.", "findings": []}
    return [
        [Call("read_file", {"path": "app.py"})],
        [Stall()],
        [Call("submit_review", approved)],
        [Text("Approved.")],
    ]


HELD = [
    Held("coder", coder_turns, "code", lambda _: ("greeting.txt", "hello\n")),
    Held("reviewer", reviewer_turns, "review", lambda t: (f"notes/{t}.md", "# Add a greeting\n")),
]


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[Serving]:
    async with Serving(tmp_path) as started:
        yield started


@pytest.mark.parametrize("held", HELD, ids=[h.role for h in HELD])
async def test_the_local_runtime_killed_mid_run_comes_back_and_the_run_goes_on_once(
    serving: Serving, tmp_path: Path, held: Held
) -> None:
    root = configured_repository(tmp_path, CONFIG.format(role=held.role))
    [ticket] = queued(root, ("Add a greeting",))
    async with FakeOpenAIServer(held.turns(ticket)) as fake:
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url)
        served = await listening(serving, await serving.start(root, *ARGS, env=env))
        assert isinstance(served, Served), served
        waiting = await status_until(served, lambda _: len(fake.requests) >= 2)
        worker_id = worker_of(waiting, ticket, held.role)
        killed = runtime_child(served)
        async with httpx.AsyncClient(base_url=served.loopback, timeout=DEADLINE) as http:
            assert (await worker(http, worker_id))["status"] == "running"
            os.kill(killed, signal.SIGKILL)
            successor = await until(lambda: _successor(served, killed))
            await until(lambda: _available(http))
            final = await status_until(served, all_done([ticket]))
            listed = await http.get("/api/workers", params={"runtime_id": "local", "limit": 200})
            assert listed.status_code == 200, listed.text
            workers: list[Worker] = listed.json()["workers"]
            inputs = await inputs_of(http, worker_id)
        await serving.stop(served, signal.SIGTERM)
        fake.assert_consumed()
    assert not alive(killed)
    assert not alive(successor), "the restarted runtime outlived yoi serve"
    assert_once_each(root, [ticket], final, [w["worker_id"] for w in workers])
    ours = [w for w in workers if w["worker_id"].startswith("yoi-")]
    assert {w["status"] for w in ours} <= {"idle", "stopped"}, ours
    path, text = held.merged(ticket)
    assert git(root, "show", f"orchestration:{path}") == text
    with OrchestratorState.open(state_path(root)) as state:
        failed = [s for s in state.steps(ticket) if s.status is OperationStatus.FAILED]
    assert failed, "the kill failed no step"
    assert {(s.key.kind, s.error) for s in failed} == {(held.step, INTERRUPTED)}, failed
    op = f"op={ticket}/1/{held.step}/0"  # sent, and once more as the try after the failed ones
    assert [line.rsplit(" ", 1)[-1] for line in inputs] == [f"{op}]", f"{op}#{len(failed) + 1}]"]


def worker_of(status: Status, ticket: str, role: str) -> str:
    [run] = [run for run in status["runs"] if run["ticket_id"] == ticket]
    assert run[role] is not None, run
    found: str = run[role]["worker_id"]
    return found


async def worker(http: httpx.AsyncClient, worker_id: str) -> Worker:
    response = await http.get(f"/api/runtimes/local/workers/{worker_id}")
    assert response.status_code == 200, response.text
    found: Worker = response.json()["worker"]
    return found


async def inputs_of(http: httpx.AsyncClient, worker_id: str) -> list[str]:
    """The first line of each input the worker was sent."""
    response = await http.get(f"/api/runtimes/local/workers/{worker_id}/transcript")
    assert response.status_code == 200, response.text
    items = response.json()["transcript"]["items"]
    return [i["content"].split("\n", 1)[0] for i in items if i["role"] == "user"]


async def until(found: Callable[[], Awaitable[T | None]]) -> T:
    """What ``found()`` gives once it is not ``None``, asked every 20 ms."""
    async with asyncio.timeout(DEADLINE):
        while True:
            value = await found()
            if value is not None:
                return value
            await asyncio.sleep(0.02)


async def _available(http: httpx.AsyncClient) -> bool | None:
    response = await http.get("/api/runtimes/local")
    assert response.status_code == 200, response.text
    return True if response.json()["runtime"]["status"] == "available" else None


def runtime_child(served: Served) -> int:
    """The pid of the ``yoi runtime serve`` child ``yoi serve`` runs now."""
    found = runtime_children(served.process.pid)
    assert len(found) == 1, found
    return found[0]


async def _successor(served: Served, killed: int) -> int | None:
    found = [pid for pid in runtime_children(served.process.pid) if pid != killed]
    return found[0] if found else None


def runtime_children(parent: int) -> list[int]:
    """The live children of ``parent`` whose command is ``yoi runtime serve``."""
    children: list[int] = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    return [pid for pid in children if alive(pid) and _is_runtime(pid)]


def _is_runtime(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    return b"runtime" in argv and b"serve" in argv


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
