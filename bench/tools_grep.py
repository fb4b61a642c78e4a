"""``grep`` of one pattern over 10,000 files and 1,000,000 lines. Target: p50 ≤ 3x plain ``rg``.

The tree is generated under a temporary directory (a ``git init`` repository, 100 lines
of about 60 bytes per file, 200 of the lines holding the pattern) and removed afterwards.
Both sides search it with a warm page cache, alternating: the tool as a worker calls it
(``GrepTool.call`` through a :class:`Scope`, content mode, default bounds) and ``rg PATTERN``
as a shell user types it, run by this process with its output read to the end.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import tempfile
import time
from pathlib import Path

from bench._report import Result, p50, run_bench
from yoi.tools import Capability, Grant, GrepTool, Scope
from yoi.tools._ripgrep import Ripgrep

BENCH = "tools_grep"
FILES = 10_000
LINES = 100
NEEDLES = 200
PATTERN = "needle_[0-9]+"
REPEATS = 15
TARGET_RATIO = 3.0
WORDS = ("alpha", "beta", "gamma", "delta", "return", "value", "self", "import", "def", "data")


def build(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    chooser = random.Random(16)
    marked = set(chooser.sample(range(FILES * LINES), NEEDLES))
    for index in range(FILES):
        folder = root / f"pkg{index // 100:03d}"
        folder.mkdir(exist_ok=True)
        lines = []
        for number in range(LINES):
            words = " ".join(chooser.choice(WORDS) for _ in range(8))
            tag = f" needle_{number}" if index * LINES + number in marked else ""
            lines.append(f"    {words}{tag}\n")
        (folder / f"module{index:05d}.py").write_text("".join(lines), encoding="utf-8")


async def _tool_once(tool: GrepTool, glob: str | None = None) -> float:
    started = time.perf_counter()
    result = await tool.call(
        {"pattern": PATTERN} if glob is None else {"pattern": PATTERN, "glob": glob}
    )
    elapsed = time.perf_counter() - started
    if result.is_error or not result.summary.startswith(f"{NEEDLES} matching line"):
        raise RuntimeError(f"unexpected grep result: {result.summary}")
    return elapsed


async def _rg_once(binary: Path, root: Path) -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        binary, PATTERN, cwd=root, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    elapsed = time.perf_counter() - started
    printed = out.count(b"\n")
    if printed != NEEDLES:
        raise RuntimeError(f"rg printed {printed} lines, not {NEEDLES}")
    return elapsed


async def measure() -> list[Result]:
    ripgrep = Ripgrep.find()
    if ripgrep.binary is None:
        raise RuntimeError("no rg: install the ripgrep package")
    with tempfile.TemporaryDirectory(prefix="yoi-bench-grep-") as folder:
        root = Path(folder) / "tree"
        started = time.perf_counter()
        await asyncio.to_thread(build, root)
        built = time.perf_counter() - started
        with Scope.open(root, Grant(frozenset({Capability.GREP}))) as scope:
            tool = GrepTool(scope, ripgrep)
            await _tool_once(tool)  # warm the page cache
            await _rg_once(ripgrep.binary, root)
            tool_times: list[float] = []
            rg_times: list[float] = []
            filtered: list[float] = []
            for _ in range(REPEATS):
                tool_times.append(await _tool_once(tool))
                rg_times.append(await _rg_once(ripgrep.binary, root))
                filtered.append(await _tool_once(tool, "*.py"))
    tool_p50, rg_p50 = p50(tool_times), p50(rg_times)
    scale = f"{FILES:,} files, {FILES * LINES:,} lines, {NEEDLES} matches; built in {built:.0f} s"
    return [
        Result(BENCH, "grep tool p50", tool_p50 * 1000, "ms", note=f"{scale}; {REPEATS} runs"),
        Result(BENCH, "plain rg p50", rg_p50 * 1000, "ms", note="context: the same tree"),
        Result(
            BENCH,
            "grep tool with glob *.py p50",
            p50(filtered) * 1000,
            "ms",
            note="context: a glob adds a plain listing, run first, to keep ignored files out",
        ),
        Result(BENCH, "grep tool / plain rg (p50)", tool_p50 / rg_p50, "x", TARGET_RATIO, "max"),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
