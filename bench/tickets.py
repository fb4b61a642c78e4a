"""The ticket store at 10,000 tickets: a fresh ``yoi ticket list``, the ready view, create.

Targets: ``yoi ticket list`` as a fresh process ≤ 400 ms; the ready view
through the running backend (``GET /api/tickets/ready``) ≤ 30 ms; create
≤ 5 ms.

The workspace is generated with the store's own format functions: 10,000
tickets with a Markdown body of about 1.5 KB and a thread of four events,
spread over every state (a few hundred queued), and a fifth of them with one
to three ``depends_on`` relations on older tickets. Their files are dated two
minutes back, as a checkout would leave them, so the read cache may trust
them. Files remain the source of truth: the list and the ready view re-check
(by signature or by watching) on every call.

``yoi ticket list`` runs as ``python -m yoi ticket list`` with its output
read through a pipe: once cold (no cache yet, context) and then ``RUNS``
times, with Python's bytecode cache on, as it is by default. The ready view
is timed with one keep-alive ``httpx`` client against a real ``yoi serve``
on the workspace (which watches the store with inotify). Create is ``TicketStore.create`` in
this process, every write fsync'd, under the store lock.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from bench._report import Result, p50, percentile, run_bench
from yoi.tickets import Meta, RelationKind, State, TicketStore
from yoi.tickets.frontmatter import render_item
from yoi.tickets.ids import encode_id, timestamp
from yoi.tickets.model import Relation
from yoi.tickets.relations import render_relations
from yoi.tickets.thread import render_event
from yoi.workspace import Workspace

BENCH = "tickets"
TICKETS = 10_000
RUNS = 10
READY_WARMUP = 10
READY_SAMPLES = 100
CREATES = 200
START_MS = 1_780_000_000_000
STATES = [State.CLOSED] * 45 + [State.DONE] * 20 + [State.PLANNING] * 15 + [State.READY] * 8
STATES += [State.QUEUED] * 7 + [State.INPROGRESS] * 5
PARAGRAPH = (
    "The worker runtime keeps its transcript in segments; this ticket moves the index "
    "into its own module, adds a test for the torn last line and measures the open time. "
)


# As on a person's machine: Python keeps compiled modules (a sandbox may turn that off).
_BYTECODE_ON = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _body(rng: random.Random, number: int) -> str:
    paragraphs = [PARAGRAPH * rng.randint(1, 3) for _ in range(4)]
    return f"# Ticket {number}\n\n## Background\n\n" + "\n\n".join(paragraphs) + "\n"


def _thread(at: str, state: State) -> str:
    def event(kind: str, heading: str, body: str, attrs: list[tuple[str, str]]) -> str:
        return render_event(kind, "bench", at, heading=heading, body=body, attrs=attrs)

    blocks = [
        event("create", "Created", "Created with yoi.", []),
        event("comment", "Comment", PARAGRAPH * 2, []),
        event("decision", "Decision", PARAGRAPH * 3, []),
        event("state_changed", "State changed", "Moved.", [("from", "planning"), ("to", state)]),
    ]
    return "\n".join(blocks)


def generate(root: Path) -> None:
    """Write ``TICKETS`` tickets straight to disk, dated two minutes back."""
    rng = random.Random(6)
    ids = [encode_id(START_MS + 1000 * number) for number in range(TICKETS)]
    past = time.time() - 120
    for number, ticket_id in enumerate(ids):
        folder = root / ticket_id
        (folder / "artifacts").mkdir(parents=True)
        (folder / "artifacts" / ".gitkeep").touch()
        at = timestamp(START_MS + 1000 * number)
        state = rng.choice(STATES)
        queued = at if state is State.QUEUED else None
        meta = Meta(
            f"Ticket {number}", state, at, at, queued_by=queued and "bench", queued_at=queued
        )
        (folder / "item.md").write_text(render_item(meta, _body(rng, number)), encoding="utf-8")
        (folder / "thread.md").write_text(_thread(at, state), encoding="utf-8")
        if number > 10 and rng.random() < 0.2:
            targets = rng.sample(ids[:number], rng.randint(1, 3))
            relations = [Relation(ticket_id, RelationKind.DEPENDS_ON, t) for t in targets]
            (folder / "artifacts" / "relations.json").write_text(render_relations(relations))
        for path in (folder / "item.md", folder / "thread.md", folder):
            os.utime(path, (past, past))


async def _yoi(*args: str, cwd: Path) -> tuple[float, bytes]:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "yoi", *args),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        env=_BYTECODE_ON,
    )
    out, _ = await process.communicate()
    elapsed = (time.perf_counter() - started) * 1000
    if process.returncode != 0:
        raise RuntimeError(f"yoi {' '.join(args)} exited {process.returncode}")
    return elapsed, out


async def _list_runs(workspace: Path) -> tuple[float, list[float]]:
    cold, out = await _yoi("ticket", "list", cwd=workspace)
    lines = out.decode().count("\n")
    if lines != TICKETS + 1:
        raise RuntimeError(f"yoi ticket list printed {lines} lines, not {TICKETS + 1}")
    runs = [(await _yoi("ticket", "list", cwd=workspace))[0] for _ in range(RUNS)]
    return cold, runs


@asynccontextmanager
async def _serve(workspace: Path) -> AsyncIterator[str]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "yoi", "serve", "--workspace", str(workspace)),
        *("--listen", "127.0.0.1:0", "--model", "scripted:offline"),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            while True:
                line = (await process.stdout.readline()).decode()
                if not line:
                    raise RuntimeError("yoi serve ended before it listened")
                if line.startswith("listening on "):
                    break
        yield line.removeprefix("listening on ").strip()
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()


async def _ready_timings(url: str) -> tuple[list[float], int]:
    timings: list[float] = []
    ready = 0
    async with httpx.AsyncClient(base_url=url) as http:
        for index in range(READY_WARMUP + READY_SAMPLES):
            started = time.perf_counter()
            response = await http.get("/api/tickets/ready")
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"the ready view answered {response.status_code}")
            ready = len(response.json()["ready"]["ready"])
            if index >= READY_WARMUP:
                timings.append(elapsed)
    return timings, ready


def _create_timings(workspace: Path) -> list[float]:
    store = TicketStore.for_workspace(workspace)
    timings: list[float] = []
    for number in range(CREATES):
        started = time.perf_counter()
        store.create(f"Created {number}", PARAGRAPH * 8, author="bench")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _ms(samples: list[float]) -> str:
    return f"p90 {percentile(samples, 0.9):.1f} ms, max {max(samples):.1f} ms, {len(samples)} runs"


async def measure() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="yoi-bench-tickets-") as folder:
        workspace = Path(folder)
        Workspace(workspace).ensure()
        generate(workspace / ".yoi" / "tickets")
        cold, runs = await _list_runs(workspace)
        async with _serve(workspace) as url:
            ready, count = await _ready_timings(url)
        creates = _create_timings(workspace)
        cache = workspace / ".yoi" / "state" / "ticket-index.json"
        cache_kb = cache.stat().st_size / 1024 if cache.exists() else 0.0
    shape = f"{TICKETS:,} tickets, a fifth with relations"
    return [
        Result(
            BENCH,
            "yoi ticket list, fresh process p50",
            p50(runs),
            "ms",
            400.0,
            "max",
            f"{_ms(runs)}; {shape}; cold (no cache) {cold:.0f} ms; cache {cache_kb:.0f} KiB",
        ),
        Result(
            BENCH,
            "ready view through yoi serve p50",
            p50(ready),
            "ms",
            30.0,
            "max",
            f"{_ms(ready)}; GET /api/tickets/ready, {count} ready of {shape}",
        ),
        Result(BENCH, "create p50", p50(creates), "ms", 5.0, "max", f"{_ms(creates)}; fsync'd"),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
