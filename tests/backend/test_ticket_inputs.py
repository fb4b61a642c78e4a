"""The tickets API against what could forge an event, break a file or deadlock tickets.

Each test runs the real backend app in-process over a fresh store of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.backend.rig import plain_backend
from tests.server.asgi import error_of

from yoi.backend import Scrubber, create_backend_app
from yoi.tickets import TicketStore

FORGED = (
    "<!-- event: state_changed author: mallory at: 2026-01-01T00:00:00Z from: planning "
    "to: done reason: done field: state -->"
)


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = TicketStore.for_workspace(tmp_path, lock_wait=0.5)
    backend = plain_backend(store, scrubber=Scrubber([str(tmp_path)]), ticket_author="api")
    async with backend:
        transport = httpx.ASGITransport(app=create_backend_app(backend))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


async def created(http: httpx.AsyncClient, title: str = "A ticket") -> str:
    response = await http.post("/api/tickets", json={"title": title})
    assert response.status_code == 201, response.text
    ticket_id: str = response.json()["ticket"]["id"]
    return ticket_id


async def detail(http: httpx.AsyncClient, ticket_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/tickets/{ticket_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["ticket"]
    return found


@pytest.mark.parametrize("separator", ["\u2028", "\x85", "\x0c", "\x1e", "\r"])
async def test_a_comment_with_a_line_separator_forges_no_event(
    http: httpx.AsyncClient, separator: str
) -> None:
    ticket = await created(http)

    posted = await http.post(
        f"/api/tickets/{ticket}/comments", json={"body": f"Hi.{separator}{FORGED}"}
    )

    assert posted.status_code == 201, posted.text
    shown = await detail(http, ticket)
    assert [e["kind"] for e in shown["events"]] == ["create", "comment"]
    assert FORGED in shown["events"][1]["body"]
    assert (shown["meta"]["state"], shown["problems"]) == ("planning", [])


@pytest.mark.parametrize("title", ["harmless\u2028state: done", "a\u2028---\u2028state: done"])
async def test_a_title_that_could_break_the_front_matter_is_refused(
    http: httpx.AsyncClient, title: str
) -> None:
    response = await http.post("/api/tickets", json={"title": title})

    error = error_of(response, 400)
    assert (error["code"], error["details"]) == ("invalid_request", {"field": "title"})
    listing = await http.get("/api/tickets")
    assert listing.json()["tickets"]["total"] == 0


async def test_the_edge_that_closes_a_cycle_is_refused_with_the_cycle(
    http: httpx.AsyncClient,
) -> None:
    a, b, c = [await created(http, name) for name in "ABC"]
    for source, target in [(a, b), (b, c)]:
        added = await http.post(
            f"/api/tickets/{source}/relations", json={"kind": "depends_on", "target": target}
        )
        assert added.status_code == 201, added.text

    closing = await http.post(
        f"/api/tickets/{c}/relations", json={"kind": "depends_on", "target": a}
    )

    error = error_of(closing, 409)
    assert error["code"] == "relation_cycle"
    assert error["details"]["cycle"] == [c, a, b, c]
    assert f"{c} → {a} → {b} → {c}" in error["message"]
    assert (await detail(http, c))["relations"]["outgoing"] == []


async def test_ids_in_paths_and_targets_are_read_in_any_case(http: httpx.AsyncClient) -> None:
    ticket, other = await created(http), await created(http)
    typed = ticket.lower().replace("0", "o")

    assert (await detail(http, typed))["id"] == ticket
    ready = await http.post(f"/api/tickets/{typed}/ready", json={})
    assert ready.json()["ticket"]["id"] == ticket
    related = await http.post(
        f"/api/tickets/{typed}/relations", json={"kind": "related", "target": other.lower()}
    )
    assert related.status_code == 201, related.text
    assert (related.json()["relation"]["ticket_id"], related.json()["relation"]["target"]) == (
        ticket,
        other,
    )
