"""Validation commands, run for real in the sandbox: green, red, timed out, bounded, confined."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.git_repo import git, tagged_repo
from tests.pids import readable

from yoi.errors import InvalidRequest, UnsupportedOperation
from yoi.orchestrator.validation import _Log, run_validation
from yoi.tools.sandbox import Sandbox, SandboxMode, SandboxStatus


@pytest.fixture(params=["bwrap", "none", "none-without-cgroup"])
async def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Sandbox:
    mode, _, cgroup = str(request.param).partition("-")
    no_cgroup = tmp_path / "not-a-cgroup" if cgroup else None  # a missing folder: no cap
    probed = await Sandbox.probe(SandboxMode(mode), pids_parent=no_cgroup)
    assert probed.status.available, probed.status.diagnostic
    assert not (cgroup and probed.status.pids_limited)
    return probed


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return tagged_repo(tmp_path / "tree")


async def test_green_commands_all_run_with_their_logs(sandbox: Sandbox, tree: Path) -> None:
    result = await run_validation(["echo one", "test -f app.py && echo two >&2"], tree, 30, sandbox)
    assert result.passed
    assert result.failure is None
    assert [(item.exit_code, item.log) for item in result.results] == [(0, "one\n"), (0, "two\n")]
    assert all(item.duration >= 0 for item in result.results)
    assert result.results[0].summary().startswith("'echo one' exited 0 after ")


async def test_the_first_red_command_stops_the_rest(sandbox: Sandbox, tree: Path) -> None:
    commands = ["true", "echo broken; exit 3", "echo never"]
    result = await run_validation(commands, tree, 30, sandbox)
    assert not result.passed
    assert result.failure is not None
    assert (result.failure.command, result.failure.exit_code) == ("echo broken; exit 3", 3)
    assert result.failure.log == "broken\n"
    assert result.skipped == ("echo never",)
    assert len(result.results) == 2


async def test_a_timeout_kills_the_whole_process_tree(sandbox: Sandbox, tree: Path) -> None:
    os.mkfifo(tree / "pipe")
    reader = os.open(tree / "pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        # A background child holds the pipe open; it reads EOF only once that child is dead.
        command = "{ echo ready; exec sleep 300; } > pipe & echo waiting; wait"
        running = asyncio.create_task(run_validation([command, "echo never"], tree, 1.0, sandbox))
        async with asyncio.timeout(30):
            await readable(reader)
            assert os.read(reader, 100) == b"ready\n"
            result = await running
            await readable(reader)
            assert os.read(reader, 100) == b""  # every writer is gone
    finally:
        os.close(reader)
    failure = result.failure
    assert failure is not None
    assert failure.timed_out
    assert failure.exit_code is None
    assert failure.duration >= 1.0
    assert failure.log == "waiting\n"
    assert "timed out after" in failure.summary()
    assert result.skipped == ("echo never",)


async def test_a_long_log_keeps_its_head_and_tail(sandbox: Sandbox, tree: Path) -> None:
    command = "echo START; head -c 200000 /dev/zero | tr '\\0' x; echo; echo END"
    result = await run_validation([command], tree, 30, sandbox, log_limit=1000)
    log = result.results[0].log
    assert result.passed
    assert result.results[0].log_bytes == len("START\n") + 200_000 + len("\nEND\n")
    assert log.startswith("START\nxxx")
    assert log.endswith("xxx\nEND\n")
    assert "bytes omitted of 200,011" in log
    assert len(log) < 1100


async def test_the_commands_read_git_but_cannot_move_a_branch(tree: Path) -> None:
    sandbox = await Sandbox.probe(SandboxMode.BWRAP)
    first = git(tree, "rev-parse", "HEAD").strip()
    (tree / "app.py").write_text("print('two')\n")
    git(tree, "commit", "-q", "-am", "Second")
    git(tree, "worktree", "add", "-q", "--detach", str(tree.parent / "merged"))
    second = git(tree, "rev-parse", "main").strip()
    commands = ["git log --format=%s", f"git update-ref refs/heads/main {first}"]
    result = await run_validation(
        commands, tree.parent / "merged", 30, sandbox, git_common_dir=tree / ".git"
    )
    assert result.results[0].log == "Second\nFirst\n"
    assert result.failure is not None
    assert result.failure.command == commands[1]
    assert "Read-only file system" in result.failure.log
    assert git(tree, "rev-parse", "main").strip() == second


async def test_a_sandbox_that_cannot_run_is_refused(tree: Path) -> None:
    broken = Sandbox(SandboxStatus(SandboxMode.BWRAP, False, "bwrap is not installed"))
    with pytest.raises(UnsupportedOperation) as refused:
        await run_validation(["true"], tree, 30, broken)
    assert "bwrap is not installed" in refused.value.message


@pytest.mark.parametrize(
    ("commands", "seconds", "where"),
    [([""], 30.0, "tree"), (["  "], 30.0, "tree"), (["a\0b"], 30.0, "tree"),
     (["true"], 0.0, "tree"), (["true"], 30.0, "missing")],
)  # fmt: skip
async def test_bad_input_is_an_invalid_request(
    sandbox: Sandbox, tree: Path, commands: list[str], seconds: float, where: str
) -> None:
    cwd = tree if where == "tree" else tree / "missing"
    with pytest.raises(InvalidRequest):
        await run_validation(commands, cwd, seconds, sandbox)


async def test_no_commands_pass(sandbox: Sandbox, tree: Path) -> None:
    result = await run_validation([], tree, 30, sandbox)
    assert result.passed
    assert result.results == ()


@given(st.lists(st.binary(max_size=300), max_size=20), st.integers(min_value=2, max_value=400))
def test_a_log_is_whole_within_its_bound_and_else_its_exact_head_and_tail(
    chunks: list[bytes], limit: int
) -> None:
    log = _Log(limit)
    for chunk in chunks:
        log.feed(chunk)
    whole = b"".join(chunks)
    half = limit // 2
    assert log.total == len(whole)
    if len(whole) <= 2 * half:
        assert log.text() == whole.decode("utf-8", "replace")
    else:
        head = whole[:half].decode("utf-8", "replace")
        tail = whole[-half:].decode("utf-8", "replace")
        omitted = len(whole) - 2 * half
        assert log.text() == f"{head}\n[… {omitted:,} bytes omitted of {len(whole):,}]\n{tail}"
