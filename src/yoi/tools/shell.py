"""The ``bash`` tool: one fresh shell per call, inside the sandbox, cut off at its timeout.

A model's command string runs here and nowhere else: as the argument of ``bash -c`` inside
bubblewrap (see :mod:`yoi.tools.sandbox`). Its merged stdout and stderr are read as they
come; the model gets the head and the tail, and when they do not hold all of it the whole
output goes to ``.yoi-scratch/bash-*.log`` in the workdir, where ``read_file`` can page it.
``.yoi-scratch/`` ignores itself for git, and is the commands' ``HOME`` too.

When the call ends — the command exits, its timeout passes, or the call is cancelled — the
process group is killed with SIGKILL (and the pids cgroup, when there is one): bwrap's PID
namespace dies with it, so no child outlives the call, whatever signals it ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from yoi.engine.tool import ToolResult
from yoi.errors import InvalidRequest, ScopeError
from yoi.tools._arguments import Arguments
from yoi.tools.sandbox import Confinement, GitAuthor, Launch, Sandbox
from yoi.tools.scope import Capability, Scope

__all__ = ["BashArguments", "BashTool", "OutputCapture"]

DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 600.0
OUTPUT_LIMIT = 30_000  # bytes of output the model reads: half from the head, half from the tail
MAX_SPILL = 256 * 1024 * 1024
MAX_COMMAND = 100_000  # bytes: one exec argument may hold at most 128 KiB
SCRATCH = ".yoi-scratch"
DRAIN_TIMEOUT = 1.0  # for output still in the pipe once the command has ended
_READ_SIZE = 64 * 1024

_DESCRIPTION = (
    "Run a bash command in a fresh shell inside the workdir's sandbox (read-only system, "
    "writable workdir, private /tmp, no network unless granted). Returns the exit code and the "
    "merged stdout/stderr; long output keeps its head and tail, with the full output saved "
    f"under {SCRATCH}/ for read_file. Each call starts afresh: cd and variables do not carry over."
)
_PARAMETERS: Mapping[str, object] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "The bash script to run."},
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_TIMEOUT,
            "description": f"Seconds before the command is killed (default {DEFAULT_TIMEOUT:g}).",
        },
        "cwd": {"type": "string", "description": "Directory relative to the workdir."},
    },
    "required": ["command"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class BashArguments:
    command: str
    timeout: float = DEFAULT_TIMEOUT
    cwd: str = "."

    @classmethod
    def parse(cls, arguments: Mapping[str, object]) -> BashArguments:
        """The arguments a model sent, checked; InvalidRequest says what is wrong."""
        reader = Arguments(arguments, null_is_absent=False)
        command = _command(reader.required_string("command"))
        timeout = reader.number("timeout", DEFAULT_TIMEOUT, above=0, most=MAX_TIMEOUT)
        cwd = reader.string("cwd", default=".")
        reader.done()
        return cls(command, timeout, cwd)


def _command(value: str) -> str:
    if not value.strip():
        raise InvalidRequest("'command' is empty")
    size = len(value.encode("utf-8"))
    if size > MAX_COMMAND:
        raise InvalidRequest(f"'command' is {size:,} bytes; the most is {MAX_COMMAND:,}")
    return value


class OutputCapture:
    """Merged output, bounded: everything up to ``limit`` bytes, else its head and tail plus
    the whole of it written to a spill file in the ``scratch`` directory (a descriptor),
    created on the first byte over."""

    def __init__(self, scratch: int, *, limit: int = OUTPUT_LIMIT) -> None:
        self._scratch = scratch
        self._half = limit // 2
        self._limit = limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0
        self._over = False
        self.spill: _Spill | None = None
        self.spill_error = ""

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if not self._over:
            if self.total <= self._limit:
                self._head += chunk
                return
            self._overflow(bytes(self._head) + chunk)
        else:
            if self.spill is not None:
                self.spill.write(chunk)
            self._tail += chunk
        del self._tail[: max(0, len(self._tail) - self._half)]

    def _overflow(self, held: bytes) -> None:
        self._over = True
        self._head, self._tail = bytearray(held[: self._half]), bytearray(held[self._half :])
        try:
            self.spill = _Spill.create(self._scratch)
        except OSError as error:
            self.spill_error = f"the full output could not be saved: {_reason(error)}"
            return
        self.spill.write(held)

    @property
    def cut(self) -> bool:
        return self._over

    def text(self) -> str:
        if not self.cut:
            return self._head.decode("utf-8", "replace")
        omitted = self.total - len(self._head) - len(self._tail)
        where = self.spill.describe() if self.spill is not None else self.spill_error
        note = f"\n[… {omitted:,} bytes omitted of {self.total:,}; {where}]\n"
        return self._head.decode("utf-8", "replace") + note + self._tail.decode("utf-8", "replace")

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()


class _Spill:
    def __init__(self, fd: int, path: PurePosixPath) -> None:
        self.fd = fd
        self.path = path
        self.written = 0
        self.full = False

    @classmethod
    def create(cls, scratch: int) -> _Spill:
        name = f"bash-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}.log"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o644, dir_fd=scratch)
        return cls(fd, PurePosixPath(SCRATCH) / name)

    def write(self, chunk: bytes) -> None:
        room = MAX_SPILL - self.written
        if room <= 0:
            self.full = True
            return
        view = memoryview(chunk)[:room]
        while view:
            done = os.write(self.fd, view)
            view = view[done:]
            self.written += done
        self.full = len(chunk) > room

    def describe(self) -> str:
        if self.full:
            return f"the first {MAX_SPILL:,} bytes are in {self.path}"
        return f"the full output is in {self.path}"

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class BashTool:
    """``bash`` for one worker: its scope says where, the sandbox says how confined."""

    name = "bash"
    description = _DESCRIPTION
    parameters = _PARAMETERS

    def __init__(
        self,
        scope: Scope,
        sandbox: Sandbox,
        *,
        git_common_dir: Path | None = None,
        author: GitAuthor | None = None,
        output_limit: int = OUTPUT_LIMIT,
    ) -> None:
        self._scope = scope
        self._sandbox = sandbox
        self._git_common_dir = git_common_dir
        self._author = author
        self._output_limit = output_limit

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        try:
            parsed = BashArguments.parse(arguments)
            self._scope.require(Capability.COMMAND)
            cwd = self._directory(parsed.cwd)
        except (InvalidRequest, ScopeError) as error:
            return ToolResult(f"bash refused: {_reason(error)}", is_error=True)
        status = self._sandbox.status
        if not status.available:
            return ToolResult(f"bash is unavailable: {status.diagnostic}", is_error=True)
        try:
            scratch = _open_scratch(self._scope)
        except (OSError, ScopeError) as error:
            return ToolResult(f"bash cannot prepare {SCRATCH}/: {_reason(error)}", is_error=True)
        try:
            return await self._run(parsed, cwd, scratch)
        finally:
            os.close(scratch)

    def _directory(self, cwd: str) -> Path:
        relative = self._scope.relative(cwd)
        fd = self._scope.open_read(cwd)
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                raise ScopeError(f"cwd {relative} is not a directory")
        finally:
            os.close(fd)
        return self._scope.root / relative

    async def _run(self, arguments: BashArguments, cwd: Path, scratch: int) -> ToolResult:
        confinement = Confinement(
            workdir=self._scope.root,
            cwd=cwd,
            home=self._scope.root / SCRATCH / "home",
            network=Capability.NETWORK in self._scope.grant.capabilities,
            git_common_dir=self._git_common_dir,
            author=self._author,
        )
        launch = self._sandbox.launch(confinement, arguments.command)
        capture = OutputCapture(scratch, limit=self._output_limit)
        started = time.monotonic()
        try:
            code = await _execute(launch, arguments.timeout, capture)
        except OSError as error:
            return ToolResult(f"bash could not start: {_reason(error)}", is_error=True)
        finally:
            capture.close()
        return _result(code, arguments.timeout, time.monotonic() - started, capture)


def _open_scratch(scope: Scope) -> int:
    """The scratch directory's descriptor, made (with ``home/`` and a self-ignoring
    ``.gitignore``) when missing; never through a link."""
    scratch, _ = scope.open_parent(f"{SCRATCH}/home", create=True)
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir("home", 0o755, dir_fd=scratch)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with contextlib.suppress(FileExistsError):
            ignore = os.open(".gitignore", flags, 0o644, dir_fd=scratch)
            try:
                os.write(ignore, b"*\n")
            finally:
                os.close(ignore)
    except OSError:
        os.close(scratch)
        raise
    return scratch


async def _execute(launch: Launch, seconds: float, capture: OutputCapture) -> int | None:
    """Run ``launch`` for at most ``seconds``; its exit code, or None when it timed out.
    Whatever happens, every process it started is dead when this returns or is cancelled."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pipe = os.fdopen(read_end, "rb", buffering=0)
    reader = asyncio.StreamReader(limit=_READ_SIZE)
    transport: asyncio.ReadTransport | None = None
    process: asyncio.subprocess.Process | None = None
    reading: asyncio.Task[None] | None = None
    try:
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            process = await _spawn(launch, write_end)
        finally:
            os.close(write_end)
        reading = asyncio.create_task(_consume(reader, capture))
        code = await _wait(process, seconds)
        _kill(process)
        if launch.cgroup is not None:  # before draining: it ends what left the group too
            await launch.cgroup.stop()
        await process.wait()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await asyncio.shield(reading)
        return code
    finally:
        _kill(process)
        if reading is not None:
            reading.cancel()
        if transport is not None:
            transport.close()
        else:
            pipe.close()
        if launch.cgroup is not None:
            await launch.cgroup.stop()


async def _spawn(launch: Launch, output: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *launch.argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        cwd=launch.cwd,
        env=dict(launch.env),
        start_new_session=True,  # its own process group, killed whole
    )


async def _wait(process: asyncio.subprocess.Process, seconds: float) -> int | None:
    try:
        async with asyncio.timeout(seconds):
            return await process.wait()
    except TimeoutError:
        return None


async def _consume(reader: asyncio.StreamReader, capture: OutputCapture) -> None:
    while chunk := await reader.read(_READ_SIZE):
        capture.feed(chunk)


def _kill(process: asyncio.subprocess.Process | None) -> None:
    if process is not None:  # the group outlives its reaped leader while members remain
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def _result(code: int | None, timeout: float, elapsed: float, capture: OutputCapture) -> ToolResult:
    output = capture.text()
    if code is None:
        summary = f"bash timed out after {timeout:g}s; the command and its children were killed"
        trailer = f"[timed out after {timeout:g}s: killed]"
    elif code < 0:
        summary = f"bash was killed by signal {-code} after {elapsed:.1f}s"
        trailer = f"[killed by signal {-code}]"
    else:
        summary = f"bash exited {code} after {elapsed:.1f}s"
        trailer = f"[exit code {code}]"
    if capture.cut:
        summary += f"; output cut ({capture.total:,} bytes)"
        if capture.spill is not None:
            summary += f", saved to {capture.spill.path}"
    content = f"{output}\n{trailer}" if output else trailer
    return ToolResult(summary, content, is_error=code != 0)


def _reason(error: BaseException) -> str:
    if isinstance(error, InvalidRequest | ScopeError):
        return error.message
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)
