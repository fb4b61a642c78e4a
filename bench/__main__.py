"""Run every benchmark, each in its own process: ``python -m bench [name ...]``.

A fresh process per benchmark keeps one's allocations and event-loop state out
of the next one's figures (the idle-worker memory figure most of all). Each
writes its figures into ``bench/results/latest.json`` (a full run starts it
afresh); the exit status is 1 when a target was missed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench._report import RESULTS

BENCHMARKS = (
    "create_worker",
    "latency",
    "streaming",
    "idle_workers",
    "concurrency",
    "fs_appends",
    "fs_open",
    "fs_transcript",
    "server_api",
    "server_stream",
    "backend_stream",
    "backend_listing",
    "tickets",
    "orchestrator_policy",
    "orchestrator_overhead",
    "orchestrator_epic",
    "orchestrator_load",
    "orchestrator_restart",
    "tools_files",
    "tools_grep",
    "tools_bash",
    "tools_parallel",
    "tui_stream",
    "tui_start",
)
ROOT = Path(__file__).resolve().parent.parent


def _run(name: str) -> int:
    command = [sys.executable, "-m", f"bench.{name}"]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def _missed() -> list[str]:
    document = json.loads(RESULTS.read_text(encoding="utf-8"))
    return [item["name"] for item in document["results"] if item["ok"] is False]


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    if not names:
        RESULTS.unlink(missing_ok=True)  # a full run starts the file afresh
    failed = [name for name in names or BENCHMARKS if _run(name) != 0]
    if failed:
        print(f"\nbenchmark(s) crashed: {', '.join(failed)}")
        return 1
    missed = _missed()
    print(f"\nresults written to {RESULTS.relative_to(ROOT)}")
    print(f"targets missed: {', '.join(missed)}" if missed else "every target met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
