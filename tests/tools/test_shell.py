"""The bash tool against a real sandbox and a real git repository: bounds, kills, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.pids import exited, readable

from yoi.errors import InvalidRequest
from yoi.tools import Capability, Grant, Scope
from yoi.tools.sandbox import Sandbox, SandboxMode
from yoi.tools.shell import (
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    BashArguments,
    BashTool,
    OutputCapture,
)

EVERYTHING = Grant(frozenset(Capability))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "src").mkdir()
    (root / "src" / "main.py").write_text("print('inside')\n")
    return root


@pytest.fixture
def scope(repo: Path) -> Iterator[Scope]:
    with Scope.open(repo, EVERYTHING) as opened:
        yield opened


@pytest.fixture
async def sandbox() -> Sandbox:
    probed = await Sandbox.probe()
    assert probed.status.available, probed.status.diagnostic
    return probed


@pytest.fixture
def bash(scope: Scope, sandbox: Sandbox) -> BashTool:
    return BashTool(scope, sandbox)


def alive(marker: str) -> list[int]:
    """Host pids of live (not zombie) ``sleep <marker>`` processes."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if cmdline.read() != f"sleep\0{marker}\0".encode():
                    continue
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        found.append(int(entry))
    return found


async def until_gone(marker: str, seconds: float) -> list[int]:
    """Await the exit of every live ``sleep <marker>`` (through pidfds), for at most
    ``seconds``; the host pids of those still alive then."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            for pid in alive(marker):
                await exited(pid)
    return alive(marker)


async def lines_from(fifo: Path, count: int, seconds: float) -> list[str]:
    """The first ``count`` lines written to ``fifo``, awaited for at most ``seconds``."""
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    keeper = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # no end of file between writers
    data = b""
    try:
        async with asyncio.timeout(seconds):
            while data.count(b"\n") < count:
                await readable(reader)
                data += os.read(reader, 4096)
    finally:
        os.close(keeper)
        os.close(reader)
    return data.decode().splitlines()


async def test_exit_codes_are_reported(bash: BashTool) -> None:
    result = await bash.call({"command": "echo out; echo err >&2; exit 3"})
    assert result.is_error
    assert result.summary.startswith("bash exited 3")
    assert result.content == "out\nerr\n\n[exit code 3]"
    ok = await bash.call({"command": "true"})
    assert (ok.is_error, ok.content) == (False, "[exit code 0]")


async def test_runs_in_the_workdir_and_writes_there(bash: BashTool, repo: Path) -> None:
    result = await bash.call({"command": "pwd; echo made > made.txt", "cwd": "src"})
    assert result.content == f"{repo / 'src'}\n\n[exit code 0]"
    assert (repo / "src" / "made.txt").read_text() == "made\n"
    git = await asyncio.create_subprocess_exec(
        "git", "status", "--porcelain", cwd=repo, stdout=asyncio.subprocess.PIPE
    )
    status, _ = await git.communicate()
    assert status == b"?? src/\n"  # the scratch area ignores itself


@pytest.mark.parametrize(
    ("cwd", "reason"),
    [
        ("../", "leaves the workdir"),
        ("/etc", "absolute"),
        ("src/main.py", "not a directory"),
        ("nope", ""),
    ],
)
async def test_bad_cwd_is_refused(bash: BashTool, cwd: str, reason: str) -> None:
    result = await bash.call({"command": "pwd", "cwd": cwd})
    assert result.is_error
    assert result.summary.startswith("bash refused:")
    assert reason in result.summary


async def test_symlinked_cwd_out_of_the_workdir_is_refused(
    bash: BashTool, repo: Path, tmp_path: Path
) -> None:
    (repo / "out").symlink_to(tmp_path)
    result = await bash.call({"command": "pwd", "cwd": "out"})
    assert result.is_error
    assert result.summary.startswith("bash refused:")


async def test_without_the_command_capability_nothing_runs(repo: Path, sandbox: Sandbox) -> None:
    with Scope.open(repo, Grant(frozenset({Capability.READ}))) as reader:
        result = await BashTool(reader, sandbox).call({"command": "touch ran"})
    assert result.is_error
    assert "'command'" in result.summary
    assert not (repo / "ran").exists()


async def test_unavailable_sandbox_refuses_with_its_diagnostic(
    scope: Scope, repo: Path, tmp_path: Path
) -> None:
    missing = await Sandbox.probe(bwrap=str(tmp_path / "no-bwrap"))
    result = await BashTool(scope, missing).call({"command": "touch ran"})
    assert result.is_error
    assert result.summary.startswith("bash is unavailable:")
    assert "not installed" in result.summary
    assert not (repo / "ran").exists()


async def test_sandbox_none_runs_when_chosen(scope: Scope, tmp_path: Path) -> None:
    unconfined = await Sandbox.probe(SandboxMode.NONE, bwrap=str(tmp_path / "no-bwrap"))
    result = await BashTool(scope, unconfined).call({"command": "echo plain"})
    assert result.content == "plain\n\n[exit code 0]"


async def test_huge_output_is_bounded_and_spilled(bash: BashTool, scope: Scope) -> None:
    total = 100_000_000
    result = await bash.call({"command": f"yes 0123456789abcdef | head -c {total}"})
    assert not result.is_error
    assert result.content is not None
    assert len(result.content) <= 31_000
    assert result.content.startswith("0123456789abcdef\n")
    assert result.content.endswith("\n[exit code 0]")
    spilled = result.summary.split("saved to ")[1]
    assert spilled.startswith(".yoi-scratch/bash-")
    fd = scope.open_read(spilled)  # read_file reaches it through the same scope
    try:
        assert os.fstat(fd).st_size == total
        line = b"0123456789abcdef\n"
        assert os.pread(fd, 34, total - 34) == bytes(line[i % 17] for i in range(total - 34, total))
    finally:
        os.close(fd)


async def test_timeout_kills_a_command_ignoring_sigterm(bash: BashTool) -> None:
    marker = f"31{os.getpid()}.25"
    command = f"trap '' TERM; (trap '' TERM; sleep {marker}) & sleep {marker}; wait"
    started = time.monotonic()
    result = await bash.call({"command": command, "timeout": 0.5})
    assert time.monotonic() - started < 2.0
    assert result.is_error
    assert result.summary.startswith("bash timed out after 0.5s")
    assert await until_gone(marker, 1.0) == []


async def test_cancel_kills_the_command_and_its_children(bash: BashTool, repo: Path) -> None:
    marker = f"32{os.getpid()}.75"
    os.mkfifo(repo / "started")
    command = (
        f"(echo child > started; exec sleep {marker}) & "
        f"(setsid sh -c 'echo detached > started; exec sleep {marker}' &); "
        f"echo shell > started; sleep {marker}"
    )
    call = asyncio.create_task(bash.call({"command": command}))
    assert sorted(await lines_from(repo / "started", 3, 10.0)) == ["child", "detached", "shell"]
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await until_gone(marker, 1.0) == []


@pytest.mark.parametrize("mode", [SandboxMode.BWRAP, SandboxMode.NONE])
async def test_background_jobs_end_with_the_call(scope: Scope, mode: SandboxMode) -> None:
    sandbox = await Sandbox.probe(mode)
    marker = f"33{os.getpid()}.{len(mode)}"
    started = time.monotonic()
    result = await BashTool(scope, sandbox).call({"command": f"sleep {marker} & echo started"})
    assert result.content == "started\n\n[exit code 0]"
    assert time.monotonic() - started < 3.0  # not held open by the job's copy of stdout
    assert await until_gone(marker, 1.0) == []


async def test_parallel_calls_each_run_in_their_own_shell(bash: BashTool) -> None:
    calls = [bash.call({"command": f"echo {index}"}) for index in range(8)]
    results = await asyncio.gather(*calls)
    assert [result.content for result in results] == [
        f"{index}\n\n[exit code 0]" for index in range(8)
    ]


async def test_fork_bomb_ends_at_the_timeout(scope: Scope) -> None:
    capped = await Sandbox.probe(pids_max=256)
    assert capped.status.pids_limited, "this machine offers no pids cgroup to cap a fork bomb"
    bash = BashTool(scope, capped)
    bomb = "bomb() { bomb | bomb & }; bomb; sleep 3399.5"
    started = time.monotonic()
    result = await bash.call({"command": bomb, "timeout": 2})
    assert result.summary.startswith("bash timed out after 2s")
    assert time.monotonic() - started < 4.0
    assert await until_gone("3399.5", 1.0) == []
    after = await bash.call({"command": "echo still here"})
    assert after.content == "still here\n\n[exit code 0]"
    child = await asyncio.create_subprocess_exec("true")
    assert await child.wait() == 0


async def test_network_needs_the_grant(repo: Path, sandbox: Sandbox) -> None:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connect = {"command": f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"}
    try:
        with Scope.open(repo, Grant(frozenset({Capability.COMMAND}))) as offline:
            refused = await BashTool(offline, sandbox).call(connect)
        with Scope.open(repo, Grant(frozenset({Capability.COMMAND, Capability.NETWORK}))) as net:
            reached = await BashTool(net, sandbox).call(connect)
    finally:
        server.close()
        await server.wait_closed()
    assert refused.is_error
    assert "connected" not in (refused.content or "")
    assert reached.content == "connected\n\n[exit code 0]"


# Argument validation: any JSON object is accepted with exactly its meaning, or refused.

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
KEYS = st.sampled_from(["command", "timeout", "cwd", "Command", "env", ""]) | st.text(max_size=8)
VALUES = JSON | st.text() | st.floats(min_value=-1, max_value=700) | st.integers(-5, 700)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=4))
@example({"command": "true", "timeout": 10**400})
@example({"command": "true", "timeout": -(10**400)})
def test_arguments_mean_exactly_what_they_say_or_are_refused(raw: dict[str, object]) -> None:
    try:
        parsed: BashArguments | None = BashArguments.parse(raw)
    except InvalidRequest as error:
        parsed, refusal = None, error.message
    if parsed is None:
        assert refusal
        assert "\n" not in refusal
        return
    assert set(raw) <= {"command", "timeout", "cwd"}
    command, timeout = raw["command"], raw.get("timeout", DEFAULT_TIMEOUT)
    assert isinstance(command, str)
    assert command.strip()
    assert "\x00" not in command
    assert parsed.command == command
    assert isinstance(timeout, int | float)
    assert not isinstance(timeout, bool)
    assert math.isfinite(timeout)
    assert 0 < timeout <= MAX_TIMEOUT
    assert parsed.timeout == timeout
    assert parsed.cwd == raw.get("cwd", ".")


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    timeout=st.one_of(
        st.booleans(),
        st.none(),
        st.text(),
        st.floats(allow_nan=True).filter(lambda t: not 0 < t <= MAX_TIMEOUT),
        st.integers().filter(lambda t: not 0 < t <= MAX_TIMEOUT),
    )
)
@example(timeout=10**400)
def test_a_bad_timeout_is_an_error_result_and_nothing_runs(
    repo: Path, sandbox: Sandbox, timeout: object
) -> None:
    with Scope.open(repo, EVERYTHING) as scope:
        result = asyncio.run(
            BashTool(scope, sandbox).call({"command": "touch ran", "timeout": timeout})
        )
    assert result.is_error
    assert result.summary.startswith("bash refused: 'timeout'")
    assert not (repo / "ran").exists()


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (None, "required"),
        (7, "string"),
        (["ls"], "string"),
        ("   ", "empty"),
        ("a\x00b", "NUL"),
        ("\ud800", "surrogate"),
        ("x" * 100_001, "bytes"),
    ],
)
async def test_bad_commands_are_refused(bash: BashTool, command: object, reason: str) -> None:
    result = await bash.call({"command": command})
    assert result.is_error
    assert result.summary.startswith("bash refused: 'command'")
    assert reason in result.summary


# Bounded output: whatever the chunks, the kept text and the spill file hold exactly the output.


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=70), max_size=12), st.integers(2, 100))
def test_capture_keeps_head_and_tail_and_spills_everything(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[bytes], limit: int
) -> None:
    scratch_dir = tmp_path_factory.mktemp("scratch")
    scratch = os.open(scratch_dir, os.O_RDONLY | os.O_DIRECTORY)
    capture = OutputCapture(scratch, limit=limit)
    try:
        for chunk in chunks:
            capture.feed(chunk)
    finally:
        capture.close()
        os.close(scratch)
    output = b"".join(chunks)
    assert capture.total == len(output)
    if len(output) <= limit:
        assert capture.text() == output.decode("utf-8", "replace")
        assert capture.spill is None
        return
    assert capture.spill is not None
    assert (scratch_dir / capture.spill.path.name).read_bytes() == output
    half = limit // 2
    head, tail = output[:half].decode("utf-8", "replace"), output[-half:].decode("utf-8", "replace")
    text = capture.text()
    assert text.startswith(head + "\n[… ")
    assert text.endswith("]\n" + tail)
    assert f"{len(output) - 2 * half:,} bytes omitted of {len(output):,}" in text
