"""One run of the local runtime's child, with small stand-in programs: its address, its stderr,
how it ended, how it is stopped, and that it does not outlive the backend. Also what it is started
with (:class:`LocalLaunch`) and when it is started again (:class:`Restarts`)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from tests.git_repo import tagged_repo
from tests.pids import exited as pid_exited

from yoi.backend.config import LocalRuntimeSettings
from yoi.backend.local_runtime import LocalLaunch, Restarts
from yoi.backend.local_runtime_process import RuntimeProcess
from yoi.errors import RuntimeUnavailable
from yoi.providers.selection import ModelChoice
from yoi.workspace import Workspace

DEADLINE = 10.0
LISTENING = "print('listening on http://127.0.0.1:7', flush=True)\n"
BLOCK_TERM = "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\n"
AWAIT_TERM = f"{BLOCK_TERM}signal.sigwait({{signal.SIGTERM}})\n"
"""A program that ends (status 0) when a SIGTERM comes."""


def program(text: str) -> list[str]:
    return [sys.executable, "-c", text]


async def exited(pid: int) -> None:
    async with asyncio.timeout(DEADLINE):
        await pid_exited(pid)


async def test_a_child_that_floods_stderr_still_gets_to_say_where_it_listens() -> None:
    flood = "import sys\nfor _ in range(20000): sys.stderr.write('x' * 99 + '\\n')\n"
    then = "signal.sigwait({signal.SIGTERM})\nsys.exit(2)\n"
    text = f"{BLOCK_TERM}{flood}sys.stderr.write('last words\\n')\n{LISTENING}{then}"
    process = await RuntimeProcess.spawn(program(text), dict(os.environ))
    async with asyncio.timeout(DEADLINE):  # a child blocked on a full pipe would hang here
        try:
            assert await process.ready(DEADLINE / 2) == "http://127.0.0.1:7"
            assert process.ending() == "is still running"
        finally:
            await process.stop(seconds=1.0)
    assert process.ending() == "exited with status 2: last words"


async def test_a_child_that_ends_before_listening_is_refused_with_its_last_line() -> None:
    text = "import sys; sys.stderr.write('first\\n\\nyoi: store_locked: in use'); sys.exit(3)"
    process = await RuntimeProcess.spawn(program(text), dict(os.environ))
    with pytest.raises(RuntimeUnavailable) as refused:
        await process.ready(DEADLINE)
    assert refused.value.message == (
        "the local runtime process did not start: exited with status 3: yoi: store_locked: in use"
    )


async def test_a_silent_child_is_stopped_once_its_time_to_listen_is_over() -> None:
    process = await RuntimeProcess.spawn(program(AWAIT_TERM), dict(os.environ))
    with pytest.raises(RuntimeUnavailable, match=r"did not start listening within 0\.5 s"):
        await process.ready(0.5)
    assert process.returncode is not None


async def test_a_child_that_ignores_sigterm_is_killed_after_the_wait() -> None:
    text = (
        "import signal\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"{LISTENING}"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\n"
        "signal.sigwait({signal.SIGUSR1})\n"
    )
    process = await RuntimeProcess.spawn(program(text), dict(os.environ))
    await process.ready(DEADLINE)
    async with asyncio.timeout(DEADLINE):
        await process.stop(seconds=0.3)
    assert process.ending() == "was killed by SIGKILL"


async def test_a_child_does_not_outlive_the_process_that_started_it(tmp_path: Path) -> None:
    parent = (
        "import asyncio, sys\n"
        "from yoi.backend.local_runtime_process import RuntimeProcess\n"
        "async def main():\n"
        f"    child = await RuntimeProcess.spawn([sys.executable, '-c', {AWAIT_TERM!r}], {{}})\n"
        "    print(child.pid, flush=True)\n"
        "    await asyncio.Event().wait()\n"
        "asyncio.run(main())\n"
    )
    started = await asyncio.create_subprocess_exec(
        *program(parent), stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL
    )
    assert started.stdout is not None
    try:
        async with asyncio.timeout(DEADLINE):
            grandchild = int(await started.stdout.readline())
    finally:
        started.kill()
        await started.wait()
    await exited(grandchild)


# -- what is started ------------------------------------------------------------------------


def options(argv: tuple[str, ...]) -> dict[str, str]:
    """``--flag value`` pairs of ``argv`` (after ``runtime serve``)."""
    rest = argv[argv.index("serve") + 1 :]
    return dict(zip(rest[::2], rest[1::2], strict=True))


def test_a_launch_names_the_workspace_store_its_repository_and_the_backends_model(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tagged_repo(tmp_path / "project"))
    choice = ModelChoice("openai", "gpt-x", "config", "http://127.0.0.1:9/v1", "MY_OPENAI_KEY")
    env = {"PATH": "/usr/bin", "MY_OPENAI_KEY": "sk-mine", "YOI_BACKEND_TOKEN": "b", "FAR": "f"}
    launch = LocalLaunch.for_workspace(
        workspace,
        LocalRuntimeSettings(sandbox="none"),
        choice,
        env,
        withheld=("YOI_BACKEND_TOKEN", "FAR"),
        spares=8,  # yoi serve: one per ticket its orchestrator runs at once
    )
    assert launch.argv[:5] == (sys.executable, "-m", "yoi", "runtime", "serve")
    assert options(launch.argv) == {
        "--runtime-id": "local",
        "--display-name": "project (local)",
        "--store": "fs",
        "--store-root": str(workspace.state / "runtimes" / "local"),
        "--bind": "127.0.0.1:0",
        "--token-env": "YOI_LOCAL_RUNTIME_TOKEN",
        "--model": "openai:gpt-x",
        "--repository": str(workspace.root),
        "--worktrees": str(workspace.worktrees),
        "--spare-worktrees": "8",
        "--sandbox": "none",
    }
    assert launch.env == {
        "PATH": "/usr/bin",
        "MY_OPENAI_KEY": "sk-mine",
        "OPENAI_API_KEY": "sk-mine",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "YOI_LOCAL_RUNTIME_TOKEN": launch.token,
    }
    assert len(launch.token) >= 32
    assert launch.cwd == workspace.root


def test_outside_git_no_repository_is_allowed_and_each_launch_has_its_own_token(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tmp_path)
    choice = ModelChoice("scripted", "offline", "fallback")
    first = LocalLaunch.for_workspace(workspace, LocalRuntimeSettings(), choice, {})
    second = LocalLaunch.for_workspace(workspace, LocalRuntimeSettings(), choice, {})
    assert "--repository" not in first.argv
    assert "--sandbox" not in first.argv
    assert options(first.argv)["--model"] == "scripted:offline"
    assert first.env == {"YOI_LOCAL_RUNTIME_TOKEN": first.token}
    assert first.token != second.token


def test_a_launch_gives_each_configured_role_its_model_and_the_variables_that_reach_it(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tmp_path)
    choice = ModelChoice("scripted", "offline", "fallback")
    roles = {
        "coder": ModelChoice("openai", "gpt-4o", "config", "http://127.0.0.1:9/v1", "ROUTER_KEY"),
        "reviewer": ModelChoice(
            "anthropic", "claude-opus-4-1", "config", None, "ANTHROPIC_API_KEY"
        ),
    }
    env = {"ROUTER_KEY": "sk-router", "ANTHROPIC_API_KEY": "sk-ant", "YOI_BACKEND_TOKEN": "b"}
    launch = LocalLaunch.for_workspace(
        workspace, LocalRuntimeSettings(), choice, env, withheld=("YOI_BACKEND_TOKEN",), roles=roles
    )
    rest = launch.argv[launch.argv.index("serve") + 1 :]
    pairs = list(zip(rest[::2], rest[1::2], strict=True))
    assert [value for flag, value in pairs if flag == "--role-model"] == [
        "coder=openai:gpt-4o",
        "reviewer=anthropic:claude-opus-4-1",
    ]
    assert ("--model", "scripted:offline") in pairs
    assert launch.env == {
        "ROUTER_KEY": "sk-router",
        "ANTHROPIC_API_KEY": "sk-ant",
        "OPENAI_API_KEY": "sk-router",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "YOI_LOCAL_RUNTIME_TOKEN": launch.token,
    }


# -- when it is started again ----------------------------------------------------------------


def test_restarts_wait_longer_each_time_up_to_a_cap_and_start_over_after_a_steady_run() -> None:
    restarts = Restarts(first=0.5, longest=4.0, steady=60.0)
    assert [restarts.after(1.0) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert restarts.after(60.0) == 0.5
    assert restarts.after(59.9) == 1.0
