"""The ticket calls of BackendClient against a real backend on 127.0.0.1: every move, the
thread, relations, the feed, and refusals as the library's errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.tui.rig import DEADLINE, tui_backend

from yoi.client.tickets import TicketChange
from yoi.errors import InvalidTicketId, StateConflict, TicketNotFound


async def test_a_ticket_goes_through_its_moves(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served, served.connect() as client:
        made = await client.create_ticket("Fix it", "Broken.")
        other = await client.create_ticket("First this")
        ticket_id = made["id"]
        assert made["state"] == "planning"
        assert (await client.mark_ready(ticket_id, "Done when fixed", "planning"))[
            "state"
        ] == "ready"
        assert (await client.queue_ticket(ticket_id, "ready"))["state"] == "queued"
        assert (await client.move_ticket(ticket_id, "planning", "not yet"))["state"] == "planning"
        await client.comment(ticket_id, "A thought")
        relation = await client.relate(ticket_id, "depends_on", other["id"], note="order")
        assert relation["target"] == other["id"]
        detail = await client.ticket(ticket_id)
        assert [event["kind"] for event in detail["events"]][-1] == "comment"
        assert detail["blockers"][0]["ticket_id"] == other["id"]
        closed = await client.close_ticket(ticket_id, "Not needed", "planning")
        assert closed["state"] == "closed"
        listing = await client.tickets(state="closed")
        assert [item["id"] for item in listing["items"]] == [ticket_id]
        board = await client.board(limit=1)
        planning = board.columns[0]
        assert (planning.state, planning.count) == ("planning", 1)
        assert board.columns[0].cards[0].actions[0].name == "ready"


async def test_refusals_are_the_library_errors(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served, served.connect() as client:
        made = await client.create_ticket("Once")
        with pytest.raises(StateConflict):
            await client.queue_ticket(made["id"], "ready")
        with pytest.raises(TicketNotFound):
            await client.ticket("00001M99EX5Y9")
        with pytest.raises(InvalidTicketId):
            await client.ticket("../etc")


async def test_the_feed_says_load_everything_then_that_tickets_changed(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served, served.connect() as client:
        feed = await client.ticket_feed()
        try:
            async with asyncio.timeout(DEADLINE):
                first = await anext(feed)
                assert first.ticket_ids is None
                made = await client.create_ticket("Heard")
                change = await anext(feed)
            assert isinstance(change, TicketChange)
            assert change.revision > first.revision
            assert change.ticket_ids is None or made["id"] in change.ticket_ids
        finally:
            await feed.aclose()
