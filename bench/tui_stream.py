"""10,000 text deltas streamed into the TUI's worker console, headless.

Targets: the console keeps up (≥ 2,000 deltas/s shown) and stays responsive (a key
press answered within 100 ms throughout).

A real backend serves on 127.0.0.1 in a process of its own (``python -m
bench.tui_stream serve``: ``tests.tui.rig``'s backend, an embedded runtime on a scripted
model whose one turn is ``DELTAS`` small chunks), as ``yoi serve`` runs beside ``yoi
tui``; the console (:class:`~yoi.tui.console.ConsoleScreen`, in Textual's headless
mode, in this process) follows the worker's stream over a real WebSocket. Deltas/s shown: from the
moment the input is acknowledged until the console has drawn the whole reply (its view
shows the item at its last version). Key answers: every ``KEY_EVERY`` seconds while the
reply streams, ``ctrl+o`` (the busy-policy switch, a cheap action) is posted to the app
as a terminal's key press would be, and the time until the composer's policy has
changed is noted; the figure is the worst.

Context (no target): the same with the backend in the UI's process, sharing its event
loop, as the TUI's tests run.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.tui.rig import EMBEDDED, ProbeApp, tui_backend
from textual.pilot import Pilot
from textual.widgets import Select

from bench._report import Bound, Result, p50, percentile, run_bench
from bench._server import say_listening, serving_module, until_told_to_stop
from yoi.client import BackendClient
from yoi.testing import Text
from yoi.tui.console import ConsolePanel, ConsoleScreen
from yoi.tui.conversation_view import ItemView

BENCH = "tui_stream"
DELTAS = 10_000
KEY_EVERY = 0.05
DEADLINE = 120.0


def chunks() -> list[str]:
    return [f"w{index} " for index in range(DELTAS)]


async def measure() -> list[Result]:
    async with serving_module("bench.tui_stream", "serve") as server:
        apart = await console_run(server.url)
    with tempfile.TemporaryDirectory() as folder:
        async with tui_backend(Path(folder), [[Text(*chunks())]]) as backend:
            await make_worker(backend.url)
            shared = await console_run(backend.url, " (backend in this process)", "info")
    return apart + shared


async def make_worker(url: str) -> None:
    async with BackendClient(url, timeout=10.0) as client:
        await client.create_worker(EMBEDDED, worker_id="bench")


async def console_run(url: str, where: str = "", bound: Bound = "min") -> list[Result]:
    def connect() -> BackendClient:
        return BackendClient(url, timeout=10.0)

    app = ProbeApp(connect, lambda: ConsoleScreen(EMBEDDED, "bench"))
    async with app.run_test(size=(120, 40)) as pilot:
        return await streamed(pilot, app, where, bound)


async def streamed(pilot: Pilot[None], app: ProbeApp, where: str, bound: Bound) -> list[Result]:
    panel = app.screen.query_one(ConsolePanel)
    await until(pilot, lambda: panel.stream_state == "live")
    whole = "".join(chunks())
    started = time.perf_counter()
    await app.client.send_input(EMBEDDED, "bench", "stream")
    answers: list[float] = []
    while not shown(panel, whole):
        answers.append(await key_answer(pilot, panel))
        await asyncio.sleep(KEY_EVERY)
        if time.perf_counter() - started > DEADLINE:
            raise TimeoutError("the console did not show the whole reply")
    elapsed = time.perf_counter() - started
    problems = len(app.reported)
    return [
        Result(
            BENCH, f"deltas shown per second{where}", DELTAS / elapsed, "deltas/s", 2_000, bound
        ),
        Result(
            BENCH,
            f"worst key answer while streaming{where}",
            max(answers) * 1000,
            "ms",
            100,
            "max" if bound == "min" else "info",
            note=f"{len(answers)} presses, p50 {p50(answers) * 1000:.1f} ms, "
            f"p90 {percentile(answers, 0.9) * 1000:.1f} ms; {problems} errors reported",
        ),
    ]


def shown(panel: ConsolePanel, whole: str) -> bool:
    """Whether the console has drawn the reply whole (its view at the item's last version)."""
    for view in panel.view.query(ItemView):
        item = view.item
        if item.kind == "assistant" and item.text == whole and view.shown == item.version:
            return not item.live
    return False


async def key_answer(pilot: Pilot[None], panel: ConsolePanel) -> float:
    """Press the busy-policy switch; seconds until the composer's policy has changed (a
    watcher on the Select notes the moment, so this task's own wake-up is not counted)."""
    select = panel.query_one("#policy", Select)
    changed = asyncio.Event()
    moments: list[float] = []

    def noted() -> None:
        moments.append(time.perf_counter())
        changed.set()

    if not hasattr(select, "_bench_watched"):
        panel.watch(select, "value", lambda: NOTE[0](), init=False)
        select._bench_watched = True  # type: ignore[attr-defined]
    NOTE[0] = noted
    pressed = time.perf_counter()
    pilot.app.simulate_key("ctrl+o")  # as a terminal's key would arrive: queued to the app
    await changed.wait()
    return moments[0] - pressed


NOTE: list[Callable[[], None]] = [lambda: None]
"""What the watcher on the policy Select calls: the current press's note."""


async def until(pilot: Pilot[None], condition: object) -> None:
    deadline = time.monotonic() + 20
    while not callable(condition) or not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the console did not connect")
        await pilot.pause(0.02)


async def serve() -> None:
    """The backend for the bench, in its own process: its URL printed, served until told."""
    with tempfile.TemporaryDirectory() as folder:
        async with tui_backend(Path(folder), [[Text(*chunks())]]) as backend:
            await make_worker(backend.url)
            say_listening(backend.url)
            await until_told_to_stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        asyncio.run(serve())
    else:
        run_bench(BENCH, measure)
