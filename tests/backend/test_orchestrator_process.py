"""A process test: ``yoi serve`` runs the orchestrator over the seed epic (the sample store's ten
worker-runtime tickets with their dependencies, queued at once) on the demo playbook model and
is killed with SIGKILL twice — once while a coder works, once while a merge is being
validated — and each time started again. Every ticket reaches ``done`` and nothing happened
twice: one acceptance, one coder, one merge per ticket."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.backend.test_process import Served, Serving
from tests.git_repo import git
from tests.orchestrator.epic import seed_epic
from tests.server.test_process import clean_env

from yoi.tickets import State, TicketStore
from yoi.tickets.model import EventKind

DEADLINE = 120.0
CONFIG = """\
[orchestrator]
max_parallel = 2
pass_interval = 1
validation = ["sleep 1"]
"""
Status = dict[str, Any]


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[Serving]:
    async with Serving(tmp_path) as started:
        yield started


def configured_repository(tmp_path: Path, config: str) -> Path:
    """A git repository with one commit and ``config`` as its ``.yoi/config.toml``."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('one')\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "First")
    (root / ".yoi").mkdir()
    (root / ".yoi" / "config.toml").write_text(config)
    return root


def workspace(tmp_path: Path) -> tuple[Path, list[str]]:
    root = configured_repository(tmp_path, CONFIG)
    store = TicketStore(root / ".yoi" / "tickets")
    made = list(seed_epic(store).values())
    store.close()
    return root, made


async def status_until(served: Served, check: Callable[[Status], bool]) -> Status:
    """The orchestrator's status, once ``check`` holds for it (asked every 20 ms)."""
    last: Status | None = None
    try:
        async with (
            httpx.AsyncClient(base_url=served.loopback, timeout=DEADLINE) as http,
            asyncio.timeout(DEADLINE),
        ):
            while True:
                response = await http.get("/api/orchestrator")
                assert response.status_code == 200, response.text
                last = response.json()
                if check(last):
                    return last
                await asyncio.sleep(0.02)
    except TimeoutError:
        runs = [] if last is None else last["runs"]
        seen = [(r["ticket_id"], r["phase"], r["reason"], r["stop_reason"]) for r in runs]
        raise AssertionError(f"no status passed the check within {DEADLINE} s: {seen}") from None


def in_phase(phase: str) -> Callable[[Status], bool]:
    return lambda status: any(run["phase"] == phase for run in status["runs"])


def all_done(tickets: list[str]) -> Callable[[Status], bool]:
    def check(status: Status) -> bool:
        phases = {run["ticket_id"]: run["phase"] for run in status["runs"]}
        return all(phases.get(ticket) == "done" for ticket in tickets)

    return check


async def kill(serving: Serving, served: Served) -> None:
    served.process.send_signal(signal.SIGKILL)
    done = await serving.finish(served.process)
    assert done.code == -signal.SIGKILL


async def test_serve_killed_mid_implementation_and_mid_merge_finishes_without_repeats(
    serving: Serving, tmp_path: Path
) -> None:
    root, tickets = workspace(tmp_path)
    args = ("--model", "demo:playbook")
    first = await serving.serve(root, *args, env=clean_env())
    assert any(line.startswith("model: demo:playbook (a demo: ") for line in first.lines)
    await status_until(first, in_phase("implementing"))
    await kill(serving, first)
    second = await serving.serve(root, *args, env=clean_env())
    await status_until(second, in_phase("validating"))
    await kill(serving, second)
    third = await serving.serve(root, *args, env=clean_env())
    final = await status_until(third, all_done(tickets))
    async with httpx.AsyncClient(base_url=third.loopback, timeout=DEADLINE) as http:
        listed = await http.get("/api/workers", params={"runtime_id": "local", "limit": 200})
    assert listed.status_code == 200, listed.text
    workers = [w["worker_id"] for w in listed.json()["workers"]]
    await serving.stop(third, signal.SIGTERM)

    assert {run["attempt"] for run in final["runs"]} == {1}
    merges = git(root, "log", "--merges", "--format=%s", "orchestration").splitlines()
    for ticket in tickets:
        assert sum(1 for m in merges if m.startswith(f"merge: {ticket} ")) == 1, merges
        coders = [w for w in workers if w.startswith(f"yoi-coder-{ticket.lower()}")]
        assert len(coders) == 1, workers
    store = TicketStore(root / ".yoi" / "tickets")
    try:
        for ticket in tickets:
            detail = store.get(ticket)
            assert detail.meta.state is State.DONE
            accepted = [
                e
                for e in detail.events
                if e.kind == EventKind.DECISION and "implementation_ready" in e.body
            ]
            assert len(accepted) == 1
            moves = [e for e in detail.events if "to `inprogress`" in e.body]
            assert len(moves) == 1
    finally:
        store.close()
    assert git(root, "branch", "--list", "work/*").strip() == ""
