"""One run of the workspace's local runtime: a ``yoi runtime serve`` child process.

It is started in its own session, so a Ctrl-C meant for ``yoi serve`` does not
reach it and the backend stops it in order; on Linux it is also told to take a
SIGTERM when the backend dies, so a backend killed outright leaves no runtime
behind. Its address is read from the one
``listening on URL`` line it prints; its stderr is read all along (a full pipe
would block it) and its last lines kept to say why it stopped. The token it
needs travels in its environment, never on its command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from yoi.cancelling import cancel_and_wait
from yoi.errors import RuntimeUnavailable

__all__ = ["RuntimeProcess"]

STOP_SECONDS = 5.0
"""How long a SIGTERM'd runtime has to close its workers and exit before SIGKILL."""
_KEPT_LINES = 20
_LONGEST_LINE = 300
_CHUNK = 65536
_LISTENING = re.compile(rb"listening on (http://[^\s]+)")
_PR_SET_PDEATHSIG = 1


class RuntimeProcess:
    """A started child; :meth:`ready` gives its URL, :meth:`wait` its end, :meth:`stop` ends it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._lines: deque[str] = deque(maxlen=_KEPT_LINES)
        assert process.stderr is not None
        self._stderr = asyncio.create_task(self._drain_stderr(process.stderr))
        self._stdout: asyncio.Task[None] | None = None

    @classmethod
    async def spawn(
        cls, argv: Sequence[str], env: Mapping[str, str], *, cwd: Path | None = None
    ) -> RuntimeProcess:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_dies_with_parent(),
            )
        except OSError as error:
            raise RuntimeUnavailable(
                f"the local runtime process could not be started: {error.strerror or error}"
            ) from None
        return cls(process)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def ready(self, seconds: float) -> str:
        """The URL it listens on, once it says so; if it ends or stays silent for ``seconds``,
        it is stopped and ``runtime_unavailable`` says why."""
        stdout = self._process.stdout
        assert stdout is not None
        try:
            async with asyncio.timeout(seconds):
                url = await _listening_line(stdout)
        except TimeoutError:
            await self.stop()
            raise RuntimeUnavailable(
                f"the local runtime process did not start listening within {seconds:g} s"
            ) from None
        if url is None:
            await self.wait()
            raise RuntimeUnavailable(f"the local runtime process did not start: {self.ending()}")
        self._stdout = asyncio.create_task(_discard(stdout))
        return url

    async def wait(self) -> int:
        """Its exit code, once it has exited and its stderr is read to the end."""
        code = await self._process.wait()
        with contextlib.suppress(TimeoutError):
            # A grandchild that kept the pipe open must not hold this up.
            async with asyncio.timeout(1.0):
                await asyncio.shield(self._stderr)
        return code

    def ending(self) -> str:
        """How it ended; after a failing exit status, with the last line it wrote on stderr
        (where it says why). A signal came from outside, so what it wrote before is not why."""
        code = self._process.returncode
        if code is None:
            return "is still running"
        if code < 0:
            return f"was killed by {_signal_name(-code)}"
        how = f"exited with status {code}"
        return f"{how}: {self._lines[-1]}" if code and self._lines else how

    async def stop(self, seconds: float = STOP_SECONDS) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``seconds``; then its pipes closed."""
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(seconds):
                    await self._process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                await self._process.wait()
        await cancel_and_wait(*(task for task in (self._stderr, self._stdout) if task is not None))

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        partial = b""
        while chunk := await stream.read(_CHUNK):
            *complete, partial = (partial + chunk).split(b"\n")
            self._lines.extend(_shown(line) for line in complete if line.strip())
            partial = partial[-_CHUNK:]
        if partial.strip():
            self._lines.append(_shown(partial))


async def _listening_line(stdout: asyncio.StreamReader) -> str | None:
    """The URL of the first ``listening on`` line; None at end of output."""
    while True:
        try:
            line = await stdout.readline()
        except ValueError:  # a line over the reader's limit: not the one looked for
            continue
        if not line:
            return None
        found = _LISTENING.search(line)
        if found is not None:
            return found.group(1).decode("ascii", "replace")


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(_CHUNK):
        pass


def _shown(line: bytes) -> str:
    text = line.decode("utf-8", "replace").strip()
    return text if len(text) <= _LONGEST_LINE else text[: _LONGEST_LINE - 1] + "…"


def _dies_with_parent() -> Callable[[], None] | None:
    """A hook for the forked child that has the kernel SIGTERM it once this process is gone
    (PR_SET_PDEATHSIG); None where there is no ``prctl``. The function is looked up here,
    before the fork, so the child only calls it."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took hold
            os._exit(1)

    return hook


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
