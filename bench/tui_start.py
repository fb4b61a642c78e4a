"""``yoi tui`` start until the board is drawn, against a backend with 1,000 tickets.

Target: ≤ 1 s. The workspace holds ``TICKETS`` tickets made with the store's
own ``create`` (a third moved on to ready, a tenth of those queued), served by
a real ``yoi serve`` process. Each run starts a fresh headless
:class:`~yoi.tui.app.YoiApp` (``App.run_test``) in this process and times it
from the start until the board screen has drawn its first load (six columns,
their counts and up to 50 cards each, from ``GET /api/board``) and
the screen has refreshed. The first run is reported apart (cold: Textual's CSS
and widgets loading); the figure is the p50 of the warm runs. As context, the
import of ``yoi.tui.app`` in a fresh interpreter, which a real ``yoi tui``
pays once before its first frame.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bench._report import Result, p50, run_bench
from yoi.client.backend import BackendClient
from yoi.tickets import State, TicketStore

BENCH = "tui_start"
TICKETS = 1_000
RUNS = 7
TARGET_S = 1.0


def generate(root: Path) -> None:
    store = TicketStore(root / ".yoi" / "tickets")
    for number in range(TICKETS):
        made = store.create(f"Ticket {number}", f"Body of ticket {number}.", author="bench")
        if number % 3 == 0:
            store.move(made.id, State.READY, author="bench", summary="ready")
            if number % 30 == 0:
                store.move(made.id, State.QUEUED, author="bench")


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
            line = ""
            while not line.startswith("listening on "):
                line = (await process.stdout.readline()).decode()
                if not line:
                    raise RuntimeError("yoi serve ended before it listened")
        yield "http://127.0.0.1:" + line.strip().rsplit(":", 1)[1]
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()


async def _start(url: str) -> float:
    """Seconds from a new app's start until its board is drawn."""
    from yoi.tui.app import YoiApp
    from yoi.tui.board import BoardScreen

    started = time.perf_counter()
    app = YoiApp(lambda: BackendClient(url, timeout=30.0))
    async with app.run_test(size=(160, 48)) as pilot:
        while not (isinstance(app.screen, BoardScreen) and app.screen.loads > 0):
            await pilot.pause(0.002)
        await pilot.pause()  # the refresh that puts the load on screen
        elapsed = time.perf_counter() - started
        board = app.screen.board
        assert board is not None
        assert sum(column.count for column in board.columns) == TICKETS
    return elapsed


def _import_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); import yoi.tui.app; print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    return float(done.stdout)


async def measure() -> list[Result]:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        generate(workspace)
        async with _serve(workspace) as url:
            cold = await _start(url)
            warm = [await _start(url) for _ in range(RUNS)]
    imported = _import_seconds()
    spread = f"cold {cold:.3f} s; warm {min(warm):.3f} to {max(warm):.3f} s over {RUNS} runs"
    return [
        Result(BENCH, "tui start to board p50", p50(warm), "s", TARGET_S, "max", spread),
        Result(BENCH, "tui start to board, cold", cold, "s", TARGET_S, "max", "first app"),
        Result(BENCH, "import yoi.tui.app", imported, "s", note="fresh interpreter, context"),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
