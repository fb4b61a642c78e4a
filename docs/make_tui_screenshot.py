"""Make ``docs/tui-board.svg``, the board of ``yoi tui`` in the README, from a headless run.

Run once from the repository's root: ``PYTHONPATH=. .venv/bin/python docs/make_tui_screenshot.py``.
It serves the test rig's backend (``tests/tui/rig.py``) with a few tickets on
127.0.0.1, starts :class:`~yoi.tui.app.YoiApp` headless, waits for the board
and saves it with Textual's ``save_screenshot``.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tests.tui.rig import tui_backend

from yoi.tickets import RelationKind, State, TicketStore
from yoi.tui.app import YoiApp
from yoi.tui.board import BoardScreen

OUT = Path(__file__).parent / "tui-board.svg"
TICKETS = [
    ("Transcript index in its own module", State.DONE),
    ("Resume a console by cursor after a drop", State.INPROGRESS),
    ("Cost per worker in the usage table", State.QUEUED),
    ("Reject a gate with a note", State.QUEUED),
    ("Typed errors for the ticket client", State.READY),
    ("Board: keep the focused card on reload", State.READY),
    ("Terminal UI: the workers screen", State.PLANNING),
    ("Terminal UI: snapshot tests at 80x24", State.PLANNING),
    ("Drop the old dashboard", State.CLOSED),
]
PATH = {
    State.READY: [State.READY],
    State.QUEUED: [State.READY, State.QUEUED],
    State.INPROGRESS: [State.READY, State.QUEUED, State.INPROGRESS],
    State.DONE: [State.READY, State.QUEUED, State.INPROGRESS, State.DONE],
}


def fill(store: TicketStore) -> None:
    made = {}
    for title, state in TICKETS:
        ticket = store.create(title, f"{title}.", author="ana")
        made[title] = ticket.id
        for step in PATH.get(state, []):
            store.move(ticket.id, step, author="ana", summary="Scoped and testable.")
        if state is State.CLOSED:
            store.move(ticket.id, State.CLOSED, author="ana", resolution="Superseded by yoi tui.")
    store.add_relation(
        made["Terminal UI: snapshot tests at 80x24"],
        RelationKind.DEPENDS_ON,
        made["Terminal UI: the workers screen"],
        author="ana",
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with tui_backend(Path(folder)) as served:
            fill(served.tickets)
            app = YoiApp(served.connect)
            async with app.run_test(size=(150, 30)) as pilot:
                while not (isinstance(app.screen, BoardScreen) and app.screen.loads > 0):
                    await pilot.pause(0.05)
                await pilot.pause(0.5)
                app.save_screenshot(OUT.name, str(OUT.parent))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
