"""Four processes write 200 mutations each at once, through the CLI and the API: nothing is lost.

Two writers run ``yoi ticket`` and two post to a real ``yoi serve`` on the
same workspace. They comment on the same two tickets and create tickets in
the same milliseconds, so every write contends for the store lock and for
ids. Afterwards every comment is in its thread exactly once, every created
ticket exists once, every file reads, and ``doctor`` finds nothing.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.backend.test_process import Serving
from tests.server.test_process import clean_env

from yoi.tickets import TicketStore
from yoi.tickets.doctor import diagnose

WRITER = Path(__file__).with_name("writer.py")
COUNT = 200
DEADLINE = 150.0
WRITERS = [("cli", "writer-a"), ("cli", "writer-b"), ("api", "writer-c"), ("api", "writer-d")]


def _expected_comments(targets: list[str]) -> dict[str, set[str]]:
    expected: dict[str, set[str]] = {target: set() for target in targets}
    for _, name in WRITERS:
        for number in range(COUNT):
            if number % 10:
                expected[targets[number % len(targets)]].add(f"{name}-{number}")
    return expected


async def _writer(
    mode: str, target: str, name: str, tickets: list[str]
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *(sys.executable, str(WRITER), mode, target, name, str(COUNT), *tickets),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )


async def test_four_writers_through_the_cli_and_the_api_lose_nothing(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    store = TicketStore.for_workspace(workspace)
    store.init()
    targets = [store.create(f"shared {n}", "", author="setup").id for n in range(2)]
    serving = Serving(tmp_path)
    writers: list[asyncio.subprocess.Process] = []
    try:
        served = await serving.serve(workspace, "--model", "scripted:offline")
        url = served.loopback
        writers = [
            await _writer(mode, url if mode == "api" else str(workspace), name, targets)
            for mode, name in WRITERS
        ]
        for process in writers:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
            process.stdin.close()
        async with asyncio.timeout(DEADLINE):
            results = [await process.communicate() for process in writers]
        failures = [
            err.decode() for (_, err), p in zip(results, writers, strict=True) if p.returncode
        ]
        assert not failures, failures
        served.process.send_signal(signal.SIGTERM)
        await serving.finish(served.process)
    finally:
        for process in writers:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await serving.aclose()

    for target, comments in _expected_comments(targets).items():
        events = store.get(target).events
        bodies = [event.body for event in events if event.kind == "comment"]
        assert sorted(bodies) == sorted(comments), target
    listing = store.listing()
    assert listing.invalid == {}
    titles = sorted(summary.meta.title for summary in listing.items)
    created = sorted(
        f"{name} ticket {number}" for _, name in WRITERS for number in range(0, COUNT, 10)
    )
    assert titles == sorted([*created, "shared 0", "shared 1"])
    report = diagnose(store.root)
    assert report.errors == ()
