"""The file tools in process. Targets: ``read_file`` of a 1,000-line file p50 ≤ 1 ms,
``edit_file`` p50 ≤ 2 ms (each through ``Tool.call``, which runs the body off the loop).

Lines of 45 characters fill a page (30,000 characters, under the engine's output cut)
before line 1,000, so that read also counts the rest; a file of short lines, shown
whole in one page, comes as context."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench._report import Result, p50, percentile, run_bench
from yoi.tools import Capability, FileTools, Grant, Scope

BENCH = "tools_files"
WARMUP = 200
SAMPLES = 3_000
LINES = 1_000
TOGGLE = ("'some text on line 500'", "'SOME text on line 500'")


async def measure() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="yoi-bench-") as directory:
        root = Path(directory)
        source = "".join(
            f"value_{n} = compute({n}, 'some text on line {n}')\n" for n in range(LINES)
        )
        (root / "module.py").write_text(source)
        (root / "short.py").write_text("".join(f"x{n} = f({n})\n" for n in range(LINES)))
        with Scope.open(root, Grant(frozenset(Capability))) as scope:
            files = FileTools(scope)
            reads = await _timed(lambda _: files.read_file.call({"path": "module.py"}))
            edits = await _timed(
                lambda index: files.edit_file.call(
                    {
                        "path": "module.py",
                        "old_string": TOGGLE[index % 2],
                        "new_string": TOGGLE[1 - index % 2],
                    }
                )
            )
            whole = await _timed(lambda _: files.read_file.call({"path": "short.py"}))
            pages = [
                await files.read_file.call({"path": name}) for name in ("module.py", "short.py")
            ]
    return [
        _result("read_file 1,000 lines p50", reads, 1.0, pages[0].summary),
        _result("edit_file p50", edits, 2.0),
        _result("read_file 1,000 short lines, one page p50", whole, None, pages[1].summary),
    ]


async def _timed(call: Callable[[int], Awaitable[object]]) -> list[float]:
    samples: list[float] = []
    for index in range(WARMUP + SAMPLES):
        started = time.perf_counter()
        result = await call(index)
        elapsed = (time.perf_counter() - started) * 1000
        if getattr(result, "is_error", True):
            raise SystemExit(f"a benchmarked call failed: {result}")
        if index >= WARMUP:
            samples.append(elapsed)
    return samples


def _result(name: str, samples: list[float], target: float | None, more: str = "") -> Result:
    note = f"p90 {percentile(samples, 0.9):.3f} ms, p99 {percentile(samples, 0.99):.3f} ms"
    note += f"; {more}" if more else ""
    return Result(BENCH, name, p50(samples), "ms", target, "max" if target else "info", note)


if __name__ == "__main__":
    run_bench(BENCH, measure)
