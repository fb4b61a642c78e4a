"""A model turn asking for 20 ``read_file`` calls at once, through the real engine. Target:
the turn's tool phase takes at most twice as long as for one call (p50 against p50).

The scripted model asks for the calls in its first turn and ends with text in its second;
``FileTools`` reads 1,000-line files (45-character lines, as in ``tools_files``) from a
``Scope`` on a temporary directory, a different file per call. The tool phase runs from the
first ``ToolCallStarted`` event to the last ``ToolCallFinished``: the engine starts every
call of a turn at once and reports each as it finishes. Runs of 20 and of 1 alternate, so
both see the same machine; whole runs (model turns included) come as context, and so do the
same 20 reads one after another in one thread (``call_now``, no engine): the CPU they cost.

Each read runs in a thread (``Tool.call`` is ``asyncio.to_thread`` of ``call_now``), so the
calls of a turn are concurrent; but paging and numbering a file is Python work, which holds
the GIL: 20 reads cost the CPU time of 20, and the ratio stays far over 2 unless the read
itself leaves the GIL. The serial figure shows that."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from bench._report import Result, p50, percentile, run_bench
from yoi.engine.events import RunEnded, RunResult, ToolCallFinished, ToolCallStarted
from yoi.engine.run import Engine
from yoi.engine.tool import ToolResult
from yoi.providers.script import Call, Text
from yoi.providers.scripted import ScriptedModel
from yoi.tools import Capability, FileTools, Grant, Scope

BENCH = "tools_parallel"
CALLS = 20
LINES = 1_000
WARMUP = 30
RUNS = 400
RATIO_TARGET = 2.0


@runtime_checkable
class _Direct(Protocol):
    """A file tool's body, callable in the calling thread."""

    def call_now(self, arguments: Mapping[str, object]) -> ToolResult: ...


@dataclass(frozen=True, slots=True)
class Timing:
    tools_ms: float
    run_ms: float
    serial_ms: float = 0.0


async def measure() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="yoi-bench-") as directory:
        root = Path(directory)
        source = "".join(
            f"value_{n} = compute({n}, 'some text on line {n}')\n" for n in range(LINES)
        )
        for index in range(CALLS):
            (root / f"module_{index:02}.py").write_text(source)
        with Scope.open(root, Grant(frozenset(Capability))) as scope:
            many: list[Timing] = []
            one: list[Timing] = []
            for index in range(WARMUP + RUNS):
                wide, single = await _turn(scope, CALLS), await _turn(scope, 1)
                wide = Timing(wide.tools_ms, wide.run_ms, _serial(FileTools(scope)))
                if index >= WARMUP:
                    many.append(wide)
                    one.append(single)
    return _results(many, one)


async def _turn(scope: Scope, calls: int) -> Timing:
    """One run whose first turn asks for ``calls`` reads at once; its tool phase and
    whole wall time, in ms."""
    reads = [Call("read_file", {"path": f"module_{index:02}.py"}) for index in range(calls)]
    model = ScriptedModel([reads, [Text("done")]])
    engine = Engine(model, tools=FileTools(scope).tools)
    started = time.perf_counter()
    first_start = last_finish = 0.0
    finished = 0
    async for event in engine.run("You read files.", []):
        match event:
            case ToolCallStarted() if not first_start:
                first_start = time.perf_counter()
            case ToolCallFinished(result=result):
                if result.is_error:
                    raise SystemExit(f"a benchmarked read failed: {result.summary}")
                finished += 1
                last_finish = time.perf_counter()
            case RunEnded(result=ended) if ended is not RunResult.COMPLETED:
                raise SystemExit(f"the benchmarked run ended {ended}")
    model.assert_consumed()
    if finished != calls:
        raise SystemExit(f"{finished} of {calls} reads finished")
    whole = time.perf_counter() - started
    return Timing((last_finish - first_start) * 1000, whole * 1000)


def _serial(files: FileTools) -> float:
    """The same reads one after another in this thread, in ms."""
    read = files.read_file
    if not isinstance(read, _Direct):
        raise SystemExit("read_file has no call_now to time in this thread")
    started = time.perf_counter()
    for index in range(CALLS):
        if read.call_now({"path": f"module_{index:02}.py"}).is_error:
            raise SystemExit("a benchmarked read failed")
    return (time.perf_counter() - started) * 1000


def _results(many: list[Timing], one: list[Timing]) -> list[Result]:
    wide = [timing.tools_ms for timing in many]
    single = [timing.tools_ms for timing in one]
    ratio = p50(wide) / p50(single)
    note = f"p50 {p50(wide):.3f} ms for {CALLS} calls, {p50(single):.3f} ms for 1"
    return [
        Result(BENCH, f"tool phase, {CALLS} parallel reads / 1 read (p50s)", ratio, "x",
               RATIO_TARGET, "max", note),
        _timing(f"tool phase, {CALLS} parallel read_file p50", wide),
        _timing("tool phase, 1 read_file p50", single),
        _timing(f"whole run, {CALLS} parallel read_file p50", [t.run_ms for t in many]),
        _timing("whole run, 1 read_file p50", [t.run_ms for t in one]),
        _timing(f"{CALLS} read_file one after another in one thread p50",
                [t.serial_ms for t in many], f"{os.cpu_count()} CPUs, load {_load()}"),
    ]  # fmt: skip


def _timing(name: str, samples: list[float], more: str = "") -> Result:
    note = f"p90 {percentile(samples, 0.9):.3f} ms, p99 {percentile(samples, 0.99):.3f} ms"
    note += f"; {more}" if more else ""
    return Result(BENCH, name, p50(samples), "ms", None, "info", note)


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    run_bench(BENCH, measure)
