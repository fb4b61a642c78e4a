"""The Workers screen's listing (no widgets): pages from a real backend, kept once, by role."""

from __future__ import annotations

from pathlib import Path

from tests.tui.rig import EMBEDDED, tui_backend

from yoi.runtime import RoleIntent
from yoi.tui.worker_list import ALL, Listing, runtime_cells


async def test_pages_are_kept_once_in_order_and_filtered_by_role(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as backend, backend.connect() as client:
        await client.create_worker(EMBEDDED, worker_id="a", intent=RoleIntent("coder"))
        await client.create_worker(EMBEDDED, worker_id="b", intent=RoleIntent("reviewer"))
        listing = Listing()
        first = await client.workers(limit=2)
        listing.add(first)
        listing.add(first)  # the same page again (a refresh racing a page): no duplicates
        assert (listing.pages, listing.complete) == (2, False)
        listing.add(await client.workers(limit=2, after=listing.next_after))
        assert listing.complete
        assert sorted(row.worker_id for row in listing.rows) == ["a", "b", "companion"]
        assert listing.roles() == ["assistant", "coder", "reviewer"]
        assert [row.worker_id for row in listing.visible("coder")] == ["a"]
        assert len(listing.visible(ALL)) == 3
        [row] = listing.visible("reviewer")
        assert row.cells()[:4] == ("b", EMBEDDED, "idle", "reviewer")
        [runtime] = [r for r in await client.runtimes() if r.runtime_id == EMBEDDED]
        cells = runtime_cells(runtime)
        assert (cells[1], cells[2], cells[3]) == ("embedded", "available", "3")
