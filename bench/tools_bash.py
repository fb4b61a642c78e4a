"""The ``bash`` tool running ``true``: inside the sandbox (target p50 ≤ 25 ms), and without it.

Each sample is one ``BashTool.call({"command": "true"})`` on a scratch workdir: argument
checks, the scratch area, a fresh ``bash -c`` under bubblewrap (with its pids cgroup where
the machine offers one), reading its output and killing what is left. The unconfined figure
(``sandbox = "none"``) is context: what the sandbox itself costs.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench._report import Result, p50, percentile, run_bench
from yoi.tools import BashTool, Capability, Grant, Sandbox, SandboxMode, Scope

BENCH = "tools_bash"
WARMUP = 20
SAMPLES = 300
TARGET_MS = 25.0


async def _samples(sandbox: Sandbox, workdir: Path) -> list[float]:
    samples: list[float] = []
    with Scope.open(workdir, Grant(frozenset({Capability.COMMAND}))) as scope:
        bash = BashTool(scope, sandbox)
        for index in range(WARMUP + SAMPLES):
            started = time.perf_counter()
            result = await bash.call({"command": "true"})
            elapsed = (time.perf_counter() - started) * 1000
            if result.is_error:
                raise RuntimeError(f"bash failed: {result.summary}")
            if index >= WARMUP:
                samples.append(elapsed)
    return samples


def _note(samples: list[float], extra: str = "") -> str:
    note = f"p90 {percentile(samples, 0.9):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms"
    return f"{note}, {extra}" if extra else note


async def measure() -> list[Result]:
    sandboxed = await Sandbox.probe()
    if not sandboxed.status.available:
        raise RuntimeError(sandboxed.status.diagnostic)
    unconfined = await Sandbox.probe(SandboxMode.NONE)
    with tempfile.TemporaryDirectory(prefix="yoi-bench-bash-") as scratch:
        inside = await _samples(sandboxed, Path(scratch))
        outside = await _samples(unconfined, Path(scratch))
    capped = "pids cgroup" if sandboxed.status.pids_limited else "no pids cgroup"
    return [
        Result(
            BENCH,
            "bash true in the sandbox p50",
            p50(inside),
            "ms",
            TARGET_MS,
            "max",
            _note(inside, capped),
        ),
        Result(BENCH, "bash true unconfined p50", p50(outside), "ms", note=_note(outside)),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
