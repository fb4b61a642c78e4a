"""A runtime served in a process of its own, for the server benchmarks, and the bench's side of it.

``python -m bench._server [--events N --turns K]`` opens a :class:`~yoi.runtime.Runtime`,
serves it with :func:`~yoi.server.listen.listening` on 127.0.0.1 (port 0), prints
``listening on URL`` once and serves until its stdin closes or it gets SIGTERM.
With ``--events N`` its model is a :class:`~yoi.testing.ScriptedModel` of ``K``
turns that each stream ``N`` small text chunks as fast as the event loop lets
them; without, it is the offline model (a reply of about fifty chunks).

``YOI_BENCH_PROFILE=FILE`` runs the server under :mod:`cProfile` and writes its
stats to ``FILE`` on exit (read them with ``python -m pstats FILE``).

The bench side starts it with :func:`serving`, which yields a :class:`ServerProcess`
(its URL and how much CPU it has used) and ends it by closing its stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from yoi.engine.model import Model
from yoi.runtime import Runtime
from yoi.server import create_app
from yoi.server.listen import listening
from yoi.testing import OfflineModel, ScriptedModel, Text

__all__ = [
    "CpuUse",
    "CpuWatch",
    "ServerProcess",
    "load_note",
    "say_listening",
    "serving",
    "serving_module",
    "until_told_to_stop",
]

ROOT = Path(__file__).resolve().parent.parent
PROFILE_ENV = "YOI_BENCH_PROFILE"
CHUNK = "tok "
_START_SECONDS = 30.0
_EXIT_SECONDS = 15.0
_PREFIX = "listening on "


# -- the bench's side --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CpuUse:
    """CPU seconds a process used over ``wall`` seconds."""

    cpu: float
    wall: float

    @property
    def share(self) -> float:
        """The share of one core, 1.0 when the process never waited."""
        return self.cpu / self.wall

    def micros_per(self, count: int) -> float:
        return 1e6 * self.cpu / max(count, 1)


@dataclass(frozen=True, slots=True)
class ServerProcess:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def watch(self) -> CpuWatch:
        return CpuWatch(self)


class CpuWatch:
    """The server's CPU use from its creation to :meth:`stop`."""

    def __init__(self, server: ServerProcess) -> None:
        self._server = server
        self._cpu = server.cpu_seconds()
        self._wall = time.perf_counter()

    def stop(self) -> CpuUse:
        cpu = self._server.cpu_seconds() - self._cpu
        return CpuUse(cpu, time.perf_counter() - self._wall)


def load_note() -> str:
    """The machine's load when a benchmark starts: the server and the bench share its cores."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores at the start"


@contextlib.asynccontextmanager
async def serving(*, events: int = 0, turns: int = 0) -> AsyncIterator[ServerProcess]:
    """A server process with a model of ``turns`` turns of ``events`` chunks (0: offline)."""
    options = ["--events", str(events), "--turns", str(turns)] if events else []
    async with serving_module("bench._server", *options) as server:
        yield server


@contextlib.asynccontextmanager
async def serving_module(module: str, *args: str) -> AsyncIterator[ServerProcess]:
    """``python -m module args``, which prints ``listening on URL`` and serves until stdin ends."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield ServerProcess(await _url(process), process.pid)
    finally:
        await _end(process)


def say_listening(url: str) -> None:
    """The one line a served module prints once it accepts connections."""
    print(f"{_PREFIX}{url}", flush=True)


async def _url(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(_START_SECONDS):
        line = (await process.stdout.readline()).decode().strip()
    if not line.startswith(_PREFIX):
        raise RuntimeError(f"the bench server did not start: {line!r}")
    return line.removeprefix(_PREFIX)


async def _end(process: asyncio.subprocess.Process) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        async with asyncio.timeout(_EXIT_SECONDS):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


# -- the server's side --------------------------------------------------------------


def _model(events: int, turns: int) -> Model:
    if not events:
        return OfflineModel()
    text = Text(*([CHUNK] * events))
    return ScriptedModel([[text]] * turns, name="bench:scripted")


async def _serve(model: Model) -> None:
    async with Runtime(model=model) as runtime:
        app = create_app(runtime)
        async with listening(app, "127.0.0.1", 0) as listener:
            say_listening(listener.url)
            await until_told_to_stop()
            listener.stop_accepting()
            await runtime.close()


async def until_told_to_stop() -> None:
    """Until stdin closes (the bench is done or gone) or SIGTERM arrives."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    closed = asyncio.create_task(reader.read())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
    for task in (closed, stopped):
        task.cancel()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._server")
    parser.add_argument("--events", type=int, default=0, help="chunks per turn (0: offline)")
    parser.add_argument("--turns", type=int, default=1, help="turns of the scripted model")
    options = parser.parse_args(argv)
    model = _model(options.events, options.turns)
    profile_to = os.environ.get(PROFILE_ENV)
    if not profile_to:
        asyncio.run(_serve(model))
        return
    profiler = cProfile.Profile()
    try:
        profiler.runcall(asyncio.run, _serve(model))
    finally:
        profiler.dump_stats(profile_to)


if __name__ == "__main__":
    main()
