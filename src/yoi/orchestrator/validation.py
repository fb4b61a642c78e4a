"""Validating a merged tree: the configured commands, one after another, each in the sandbox
with its own timeout, stopping at the first that fails.

A command runs as ``bash -c`` through :class:`~yoi.tools.sandbox.Sandbox` exactly as a worker's
``bash`` does (read-only system, writable tree, private ``/tmp``, no network unless asked, a
cleared environment), but git's own directory is read-only whole: a validated tree's code can
read the history and cannot move a branch. When a command outlives its timeout, its process
group (and pids cgroup, when there is one) is killed, and with bwrap the whole PID namespace
with it. The merged output is kept bounded (its head and tail) and returned for the caller to
store as a ticket artifact.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from yoi.errors import InvalidRequest, UnsupportedOperation
from yoi.tools.sandbox import Confinement, Launch, Sandbox

__all__ = ["CommandResult", "LOG_LIMIT", "ValidationResult", "run_validation"]

LOG_LIMIT = 64 * 1024  # bytes of a command's log kept: half from the head, half from the tail
SCRATCH = ".yoi-scratch"
_READ_SIZE = 64 * 1024
_DRAIN_TIMEOUT = 1.0  # for output still in the pipe once the command has ended


@dataclass(frozen=True, slots=True)
class CommandResult:
    """One command's run: ``exit_code`` is ``None`` when it timed out and was killed (a
    negative code: killed by that signal)."""

    command: str
    exit_code: int | None
    duration: float
    log: str
    log_bytes: int
    """How much output the command wrote; more than :attr:`log` holds when it was cut."""

    def summary(self) -> str:
        """One line for a ticket: how the command ended, and when."""
        if self.exit_code is None:
            return f"{self.command!r} timed out after {self.duration:.1f}s and was killed"
        if self.exit_code < 0:
            return f"{self.command!r} was killed by signal {-self.exit_code}"
        return f"{self.command!r} exited {self.exit_code} after {self.duration:.1f}s"

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The commands run, in order; after a failure the rest are not run."""

    results: tuple[CommandResult, ...]
    skipped: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results) and not self.skipped

    @property
    def failure(self) -> CommandResult | None:
        return next((result for result in self.results if not result.passed), None)


async def run_validation(
    commands: Sequence[str],
    cwd: Path,
    command_timeout: float,
    sandbox: Sandbox,
    *,
    network: bool = False,
    git_common_dir: Path | None = None,
    log_limit: int = LOG_LIMIT,
) -> ValidationResult:
    """Run ``commands`` in the tree at ``cwd`` until one fails, each for at most
    ``command_timeout`` seconds. A sandbox that cannot run here is ``unsupported_operation``
    (a runtime configured ``sandbox = "none"`` probes one that runs unconfined).
    ``git_common_dir`` (the repository's git directory) is bound read-only, so git in the
    tree works wherever the repository lives while nothing can be committed or moved."""
    if command_timeout <= 0:
        raise InvalidRequest(
            "the validation timeout must be positive", details={"field": "command_timeout"}
        )
    for command in commands:
        if not command.strip() or "\x00" in command:
            raise InvalidRequest("a validation command is empty or holds a NUL")
    if not sandbox.status.available:
        raise UnsupportedOperation(f"validation cannot run: {sandbox.status.diagnostic}")
    root, home = _prepare(cwd)
    confinement = Confinement(
        workdir=root,
        cwd=root,
        home=home,
        network=network,
        git_common_dir=git_common_dir,
        git_read_only=True,
    )
    results: list[CommandResult] = []
    for index, command in enumerate(commands):
        result = await _run(
            sandbox.launch(confinement, command), command, command_timeout, log_limit
        )
        results.append(result)
        if not result.passed:
            return ValidationResult(tuple(results), tuple(commands[index + 1 :]))
    return ValidationResult(tuple(results), ())


def _prepare(cwd: Path) -> tuple[Path, Path]:
    """The tree's real path, and the commands' ``HOME`` in it: a folder git ignores by its own
    ``.gitignore``, as a worker's ``bash`` has."""
    root = Path(os.path.realpath(cwd))
    if not root.is_dir():
        raise InvalidRequest("the tree to validate is not a directory", details={"field": "cwd"})
    scratch = root / SCRATCH
    (scratch / "home").mkdir(parents=True, exist_ok=True)
    ignore = scratch / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return root, scratch / "home"


class _Log:
    """Output up to ``limit`` bytes whole; past it, the head and the tail with a note between."""

    def __init__(self, limit: int) -> None:
        self._half = max(1, limit // 2)
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        self._tail += chunk
        del self._tail[: max(0, len(self._tail) - self._half)]

    def text(self) -> str:
        omitted = self.total - len(self._head) - len(self._tail)
        if omitted <= 0:  # decoded whole: a character may straddle head and tail
            return (self._head + self._tail).decode("utf-8", "replace")
        head = self._head.decode("utf-8", "replace")
        tail = self._tail.decode("utf-8", "replace")
        return f"{head}\n[… {omitted:,} bytes omitted of {self.total:,}]\n{tail}"


async def _run(launch: Launch, command: str, seconds: float, limit: int) -> CommandResult:
    log = _Log(limit)
    started = time.monotonic()
    process: asyncio.subprocess.Process | None = None
    reading: asyncio.Future[None] | None = None
    try:
        process = await asyncio.create_subprocess_exec(
            *launch.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=launch.cwd,
            env=dict(launch.env),
            start_new_session=True,  # its own process group, killed whole
        )
        assert process.stdout is not None
        reading = asyncio.ensure_future(_consume(process.stdout, log))
        code = await _wait(process, seconds)
        await _stop(process, launch)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_DRAIN_TIMEOUT):
                await asyncio.shield(reading)
    except OSError as error:
        log.feed(f"the command could not start: {error.strerror or error}\n".encode())
        code = 127
    finally:
        if reading is not None:
            reading.cancel()
        await _stop(process, launch)
    return CommandResult(command, code, time.monotonic() - started, log.text(), log.total)


async def _consume(stream: asyncio.StreamReader, log: _Log) -> None:
    while chunk := await stream.read(_READ_SIZE):
        log.feed(chunk)


async def _wait(process: asyncio.subprocess.Process, seconds: float) -> int | None:
    try:
        async with asyncio.timeout(seconds):
            return await process.wait()
    except TimeoutError:
        return None


async def _stop(process: asyncio.subprocess.Process | None, launch: Launch) -> None:
    """Kill what is left of the command: its process group, then its cgroup's members."""
    if process is not None:  # the group outlives its reaped leader while members remain
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    if launch.cgroup is not None:
        await launch.cgroup.stop()
    if process is not None:
        await process.wait()
