"""The tickets and board API over a copy of a real yoi workspace's tickets.

The backend's store and a second store on the same folder (what ``yoi
ticket`` builds) see each other's writes through the same files and lock.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.backend.rig import plain_backend
from tests.server.asgi import error_of
from tests.tickets.rig import SAMPLE

from yoi.backend import Scrubber, create_backend_app
from yoi.tickets import State, TicketStore
from yoi.tickets.inputs import MAX_TEXT_BYTES
from yoi.tickets.lock import store_lock
from yoi.tickets.wire import detail_dict

FIXTURE = SAMPLE
DEFAULT_AUTHOR = "backend-default"
CORE = "00001KVZBCQH4"
"""A done ticket that depends on a closed one, and that five others depend on."""
PLANNING = "00001KVV01P5Z"
CLOSED = "00001KSKBP8Z8"
SAMPLE_SIZE = 23
UNKNOWN = "00001KVZBCQH5"

pytestmark = pytest.mark.skipif(not FIXTURE.is_dir(), reason="the upstream yoi sample is absent")


@dataclass
class Api:
    http: httpx.AsyncClient
    root: Path
    """The workspace folder."""
    cli: TicketStore
    """A second store on the same folder: what ``yoi ticket`` would write through."""

    async def post(self, path: str, body: object) -> httpx.Response:
        return await self.http.post(f"/api/tickets{path}", json=body)

    async def ok(self, path: str, body: object, status: int = 200) -> dict[str, Any]:
        response = await self.post(path, body)
        assert response.status_code == status, response.text
        found: dict[str, Any] = response.json()
        return found

    async def create(self, title: str, **body: object) -> str:
        created = await self.ok("", {"title": title, **body}, 201)
        ticket_id: str = created["ticket"]["id"]
        return ticket_id

    async def detail(self, ticket_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/tickets/{ticket_id}")
        assert response.status_code == 200, response.text
        assert list(response.json()) == ["ticket"]
        found: dict[str, Any] = response.json()["ticket"]
        return found

    async def listing(self, **params: str | int) -> dict[str, Any]:
        response = await self.http.get("/api/tickets", params=params)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()["tickets"]
        assert set(found) == {"items", "total", "returned", "invalid_records"}
        assert found["returned"] == len(found["items"])
        return found

    async def error(self, response: httpx.Response, status: int, code: str) -> dict[str, Any]:
        error = error_of(response, status)
        assert error["code"] == code, error
        assert str(self.root) not in response.text
        return error


def workspace_copy(root: Path) -> None:
    shutil.copytree(FIXTURE, root / ".yoi")
    for folder, _, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(Path(folder, name), 0o644)


@asynccontextmanager
async def open_api(root: Path, store: TicketStore | None) -> AsyncIterator[Api]:
    """The backend app over ``store``, with the scrubber ``yoi serve`` gives it."""
    backend = plain_backend(store, scrubber=Scrubber([str(root)]), ticket_author=DEFAULT_AUTHOR)
    async with backend:
        transport = httpx.ASGITransport(app=create_backend_app(backend))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield Api(http, root, TicketStore.for_workspace(root))


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    root = tmp_path / "workspace"
    workspace_copy(root)
    async with open_api(root, TicketStore.for_workspace(root, lock_wait=0.5)) as opened:
        yield opened


def thread_of(api: Api, ticket_id: str) -> str:
    return (api.root / ".yoi" / "tickets" / ticket_id / "thread.md").read_text(encoding="utf-8")


# -- reading -----------------------------------------------------------------


async def test_the_listing_counts_every_match_and_returns_up_to_the_limit(api: Api) -> None:
    everything = await api.listing()
    assert everything["total"] == everything["returned"] == SAMPLE_SIZE
    ids = [item["id"] for item in everything["items"]]
    assert ids == sorted(ids)
    assert CORE in ids
    assert everything["invalid_records"] == []
    assert await api.listing(state="all") == everything
    page = await api.listing(limit=2)
    assert (page["total"], page["returned"]) == (SAMPLE_SIZE, 2)
    assert page["items"] == everything["items"][:2]
    default = await api.listing(limit=100)
    assert default == everything


async def test_the_listing_filters_by_state_and_by_text(api: Api) -> None:
    planning = await api.listing(state="planning")
    assert [item["id"] for item in planning["items"]] == [PLANNING]
    assert planning["items"][0]["state"] == "planning"
    done = await api.listing(state="done")
    assert done["total"] == 10
    assert {item["state"] for item in done["items"]} == {"done"}
    registry = await api.listing(q="runtimeregistry")
    assert registry["total"] == 3
    assert all("runtimeregistry" in item["title"].casefold() for item in registry["items"])
    by_id = await api.listing(q=CORE.lower(), state="done")
    assert [item["id"] for item in by_id["items"]] == [CORE]
    assert (await api.listing(q="nothing like this", state="all"))["total"] == 0


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"limit": "many"}, {"state": "intake"}]
)
async def test_a_bad_listing_query_is_refused(api: Api, params: dict[str, str | int]) -> None:
    response = await api.http.get("/api/tickets", params=params)
    error = await api.error(response, 400, "invalid_request")
    assert error["details"]["problems"][0]["field"].startswith(tuple(params))


async def test_an_unreadable_ticket_is_listed_apart_and_refused_alone(api: Api) -> None:
    item = api.root / ".yoi" / "tickets" / CLOSED / "item.md"
    item.write_text("no front matter here\n", encoding="utf-8")
    listing = await api.listing()
    assert listing["total"] == SAMPLE_SIZE - 1
    assert CLOSED not in {entry["id"] for entry in listing["items"]}
    [invalid] = listing["invalid_records"]
    assert invalid["id"] == CLOSED
    assert "front matter" in invalid["problem"]
    error = await api.error(await api.http.get(f"/api/tickets/{CLOSED}"), 422, "ticket_unreadable")
    assert error["details"] == {"ticket_id": CLOSED}
    board = (await api.http.get("/api/board")).json()["board"]
    assert board["invalid_records"] == listing["invalid_records"]


async def test_a_ticket_in_full_has_its_relations_both_ways(api: Api) -> None:
    ticket = await api.detail(CORE)
    assert ticket == detail_dict(api.cli.get(CORE))
    assert ticket["meta"]["state"] == "done"
    assert [(r["kind"], r["target"]) for r in ticket["relations"]["outgoing"]] == [
        ("depends_on", "00001KVZD10ED"),
        ("depends_on", "00001KVZG9BMS"),
    ]
    incoming = ticket["relations"]["incoming"]
    assert {r["kind"] for r in incoming} == {"dependency_of"}
    assert [r["ticket_id"] for r in incoming] == [
        "00001KVZKST83",
        "00001KVZKSTE2",
        "00001KVZKSTJT",
        "00001KVZKSV6C",
        "00001KVZQHPNY",
    ]
    assert ticket["blockers"] == []
    assert ticket["problems"] == []
    assert ticket["events"][0]["kind"] == "create"
    assert ".gitkeep" not in ticket["artifacts"]
    assert "relations.json" in ticket["artifacts"]
    closed = await api.detail(CLOSED)
    assert closed["resolution"] is not None
    assert closed["meta"]["state"] == "closed"


@pytest.mark.parametrize(
    "ticket_id", ["nope", "00001KVZBCQHU", "00001-VZBCQH4", "..", "%2E%2E%2Fconfig", "A" * 400]
)
async def test_a_malformed_id_is_refused_before_any_path(api: Api, ticket_id: str) -> None:
    response = await api.http.get(f"/api/tickets/{ticket_id}")
    if response.status_code == 404:  # ".." is folded by the URL: another route, or none
        await api.error(response, 404, "not_found")
        return
    error = await api.error(response, 400, "invalid_ticket_id")
    assert ticket_id not in error["message"]
    assert "[redacted]" not in response.text
    refused = await api.post(f"/{ticket_id}/comments", {"body": "hello"})
    assert refused.status_code in (400, 404)
    assert str(api.root) not in refused.text
    assert "[redacted]" not in refused.text


async def test_an_unknown_ticket_is_not_found(api: Api) -> None:
    error = await api.error(await api.http.get(f"/api/tickets/{UNKNOWN}"), 404, "ticket_not_found")
    assert error["details"] == {"ticket_id": UNKNOWN}
    for path, body in [
        ("comments", {"body": "x"}),
        ("review", {"status": "approve", "body": "x"}),
        ("ready", {}),
        ("queue", {}),
        ("transitions", {"to": "planning"}),
        ("close", {"resolution": "x"}),
        ("relations", {"kind": "related", "target": CORE}),
    ]:
        await api.error(await api.post(f"/{UNKNOWN}/{path}", body), 404, "ticket_not_found")


# -- changing ----------------------------------------------------------------


async def test_a_ticket_goes_from_creation_to_closed(api: Api) -> None:
    created = await api.ok("", {"title": "  Ship the API ", "body": "Why and how."}, 201)
    ticket = created["ticket"]
    ticket_id = ticket["id"]
    assert (ticket["title"], ticket["state"], ticket["queued_by"]) == (
        "Ship the API",
        "planning",
        None,
    )
    comment = await api.ok(f"/{ticket_id}/comments", {"body": "A plan.", "role": "plan"}, 201)
    assert comment["event"]["kind"] == "plan"
    assert comment["event"]["author"] == DEFAULT_AUTHOR
    review = await api.ok(
        f"/{ticket_id}/review", {"status": "request_changes", "body": "More.", "author": "rin"}, 201
    )
    assert review["event"]["attrs"] == {"status": "request_changes"}
    assert review["event"]["author"] == "rin"
    ready = await api.ok(f"/{ticket_id}/ready", {"from": "planning"})
    assert ready["ticket"]["state"] == "ready"
    assert ready["ticket"]["id"] == ticket_id
    queued = await api.ok(f"/{ticket_id}/queue", {"author": "aki"})
    assert (queued["ticket"]["state"], queued["ticket"]["queued_by"]) == ("queued", "aki")
    for target in ("inprogress", "done"):
        moved = await api.ok(f"/{ticket_id}/transitions", {"to": target, "reason": "onward"})
        assert moved["ticket"]["state"] == target
    closed = await api.ok(f"/{ticket_id}/close", {"resolution": "Merged.", "from": "done"})
    assert closed["ticket"]["state"] == "closed"
    detail = await api.detail(ticket_id)
    assert detail == detail_dict(api.cli.get(ticket_id))
    assert [event["kind"] for event in detail["events"]] == [
        "create",
        "plan",
        "review",
        "intake_summary",
        "state_changed",
        "state_changed",
        "state_changed",
        "state_changed",
        "state_changed",
        "close",
    ]
    assert detail["events"][3]["body"] == api.cli.texts.intake_summary()
    assert detail["events"][6]["attrs"]["reason"] == "onward"
    assert detail["resolution"] == "Merged.\n"
    resolution = api.root / ".yoi" / "tickets" / ticket_id / "resolution.md"
    assert resolution.read_text(encoding="utf-8") == "Merged.\n"
    assert "Why and how." in (resolution.parent / "item.md").read_text(encoding="utf-8")


async def test_ready_writes_the_given_summary(api: Api) -> None:
    ticket_id = await api.create("Summarised")
    await api.ok(f"/{ticket_id}/ready", {"summary": "Scoped: two routes.", "author": "mio"})
    summary = (await api.detail(ticket_id))["events"][1]
    assert (summary["kind"], summary["author"]) == ("intake_summary", "mio")
    assert summary["body"] == "Scoped: two routes."


async def test_queued_by_is_the_author_named_or_the_backend_default(api: Api) -> None:
    named, unnamed = await api.create("Named"), await api.create("Unnamed")
    for ticket_id in (named, unnamed):
        await api.ok(f"/{ticket_id}/ready", {})
    await api.ok(f"/{named}/queue", {"author": "sora", "from": "ready"})
    await api.ok(f"/{unnamed}/queue", {})
    assert api.cli.get(named).meta.queued_by == "sora"
    assert api.cli.get(unnamed).meta.queued_by == DEFAULT_AUTHOR
    assert api.cli.get(unnamed).meta.queued_at is not None
    assert f"author: {DEFAULT_AUTHOR} " in thread_of(api, unnamed)


async def test_queueing_behind_a_planning_dependency_is_blocked(api: Api) -> None:
    blocked = await api.create("Needs the other")
    relation = await api.ok(
        f"/{blocked}/relations", {"kind": "depends_on", "target": PLANNING, "note": "first"}, 201
    )
    assert relation["relation"] == {
        "ticket_id": blocked,
        "kind": "depends_on",
        "target": PLANNING,
        "note": "first",
        "author": DEFAULT_AUTHOR,
        "at": relation["relation"]["at"],
    }
    await api.ok(f"/{blocked}/ready", {})
    response = await api.post(f"/{blocked}/queue", {})
    error = await api.error(response, 409, "ticket_blocked")
    assert error["details"]["blockers"] == [{"ticket_id": PLANNING, "state": "planning"}]
    assert api.cli.get(blocked).meta.state is State.READY
    detail = await api.detail(blocked)
    assert detail["blockers"] == [{"ticket_id": PLANNING, "state": "planning", "via": "depends_on"}]
    target = await api.detail(PLANNING)
    assert {"ticket_id": blocked, "kind": "dependency_of", "note": "first"} in target["relations"][
        "incoming"
    ]


async def test_a_stale_expected_state_is_a_conflict(api: Api) -> None:
    ticket_id = await api.create("Raced")
    for path, body in [
        ("ready", {"from": "ready"}),
        ("queue", {"from": "ready"}),
        ("transitions", {"to": "ready", "from": "queued"}),
        ("close", {"resolution": "gone", "from": "done"}),
    ]:
        response = await api.post(f"/{ticket_id}/{path}", body)
        error = await api.error(response, 409, "state_conflict")
        assert error["details"] == {"ticket_id": ticket_id, "state": "planning"}
    assert api.cli.get(ticket_id).events[-1].kind == "create"


async def test_a_move_off_the_lifecycle_names_the_path(api: Api) -> None:
    ticket_id = await api.create("Skipping")
    response = await api.post(f"/{ticket_id}/transitions", {"to": "done"})
    error = await api.error(response, 409, "invalid_transition")
    assert error["details"] == {"from": "planning", "to": "done"}
    assert "ready" in error["message"]
    queued = await api.post(f"/{ticket_id}/queue", {})
    await api.error(queued, 409, "invalid_transition")
    closing = await api.post(f"/{ticket_id}/transitions", {"to": "closed"})
    error = await api.error(closing, 400, "invalid_request")
    assert "/close" in error["message"]
    assert error["details"] == {"field": "to"}
    assert api.cli.get(ticket_id).meta.state is State.PLANNING


async def test_relations_are_checked(api: Api) -> None:
    ticket_id = await api.create("Related")
    await api.ok(f"/{ticket_id}/relations", {"kind": "related", "target": CORE}, 201)
    again = await api.post(f"/{ticket_id}/relations", {"kind": "related", "target": CORE})
    error = await api.error(again, 409, "duplicate_relation")
    assert error["details"] == {"ticket_id": ticket_id, "kind": "related", "target": CORE}
    itself = await api.post(f"/{ticket_id}/relations", {"kind": "blocks", "target": ticket_id})
    await api.error(itself, 400, "invalid_request")
    missing = await api.post(f"/{ticket_id}/relations", {"kind": "blocks", "target": UNKNOWN})
    await api.error(missing, 404, "ticket_not_found")
    bad = await api.post(f"/{ticket_id}/relations", {"kind": "blocks", "target": "../etc"})
    assert (await api.error(bad, 400, "invalid_ticket_id"))["details"] == {"field": "target"}
    kind = await api.post(f"/{ticket_id}/relations", {"kind": "blocked_by", "target": CORE})
    await api.error(kind, 400, "invalid_request")
    assert [r.target for r in api.cli.relations(ticket_id=ticket_id)] == [CORE]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("", {"title": "t", "extra": 1}),
        ("", {"body": "no title"}),
        ("", {"title": "two\nlines"}),
        ("", {"title": "x", "author": ""}),
        ("/{id}/comments", {"body": "x", "role": "review"}),
        ("/{id}/comments", {"body": "   "}),
        ("/{id}/review", {"status": "maybe", "body": "x"}),
        ("/{id}/ready", {"expected": "planning"}),
        ("/{id}/transitions", {"to": "intake"}),
        ("/{id}/close", {"resolution": ""}),
    ],
)
async def test_a_bad_body_is_refused_and_changes_nothing(
    api: Api, path: str, body: dict[str, object]
) -> None:
    before = (await api.listing())["total"]
    response = await api.post(path.replace("{id}", PLANNING), body)
    await api.error(response, 400, "invalid_request")
    assert (await api.listing())["total"] == before
    assert [event.kind for event in api.cli.get(PLANNING).events][-1] != "comment"


async def test_a_text_over_the_ticket_limit_is_too_large(api: Api) -> None:
    huge = "x" * (300 * 1024)
    created = await api.post("", {"title": "big", "body": huge})
    error = await api.error(created, 413, "payload_too_large")
    assert error["details"] == {"field": "body", "limit": MAX_TEXT_BYTES}
    commented = await api.post(f"/{PLANNING}/comments", {"body": huge})
    await api.error(commented, 413, "payload_too_large")
    enormous = await api.post(f"/{PLANNING}/comments", {"body": "x" * (2 * 1024 * 1024)})
    await api.error(enormous, 413, "payload_too_large")
    assert (await api.listing())["total"] == SAMPLE_SIZE
    assert huge not in thread_of(api, PLANNING)


@pytest.mark.parametrize("body", [b'{"title": "a\\ud800"}', b'{"title": "t", "body": "\\udfff"}'])
async def test_a_lone_surrogate_is_an_invalid_request(api: Api, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    response = await api.http.post("/api/tickets", content=body, headers=headers)
    await api.error(response, 400, "invalid_request")


async def test_a_mutation_must_be_json(api: Api) -> None:
    for path in ("/api/tickets", f"/api/tickets/{PLANNING}/comments"):
        response = await api.http.post(
            path, content=b"title=x", headers={"content-type": "text/plain"}
        )
        await api.error(response, 415, "unsupported_media_type")
    assert (await api.listing())["total"] == SAMPLE_SIZE


# -- the board and the ready view --------------------------------------------


async def test_the_board_has_a_column_per_state_and_cards_with_blockers(api: Api) -> None:
    waiting = await api.create("Waits")
    await api.ok(f"/{waiting}/relations", {"kind": "depends_on", "target": PLANNING}, 201)
    response = await api.http.get("/api/board")
    assert response.status_code == 200
    assert list(response.json()) == ["board"]
    board = response.json()["board"]
    assert [column["state"] for column in board["columns"]] == [s.value for s in State]
    counts = {column["state"]: column["count"] for column in board["columns"]}
    assert counts == {
        "planning": 2,
        "ready": 0,
        "queued": 0,
        "inprogress": 0,
        "done": 10,
        "closed": 12,
    }
    planning = board["columns"][0]["cards"]
    assert [card["id"] for card in planning] == [PLANNING, waiting]
    assert planning[0]["blockers"] == []
    assert planning[1]["blockers"] == [
        {"ticket_id": PLANNING, "state": "planning", "via": "depends_on"}
    ]
    assert all(column["count"] == len(column["cards"]) for column in board["columns"])
    small = (await api.http.get("/api/board", params={"limit": 1})).json()["board"]
    assert [len(column["cards"]) for column in small["columns"]] == [1, 0, 0, 0, 1, 1]
    assert [column["count"] for column in small["columns"]] == list(counts.values())
    await api.error(await api.http.get("/api/board?limit=0"), 400, "invalid_request")


async def test_the_ready_view_is_the_unblocked_queue_in_order(api: Api) -> None:
    first, second, behind = [await api.create(t) for t in ("First", "Second", "Behind")]
    await api.ok(f"/{behind}/relations", {"kind": "depends_on", "target": first}, 201)
    for ticket_id in (second, first, behind):
        await api.ok(f"/{ticket_id}/ready", {})
        await api.ok(f"/{ticket_id}/queue", {})
    response = await api.http.get("/api/tickets/ready")
    assert response.status_code == 200
    assert list(response.json()) == ["ready"]
    view = response.json()["ready"]
    queue_order = sorted((api.cli.get(i).meta.queued_at or "", i) for i in (first, second))
    assert [item["id"] for item in view["ready"]] == [i for _, i in queue_order]
    [waiting] = view["waiting"]
    assert waiting["ticket"]["id"] == behind
    assert waiting["blockers"] == [{"ticket_id": first, "state": "queued", "via": "depends_on"}]
    started = await api.post(f"/{behind}/transitions", {"to": "inprogress"})
    await api.error(started, 409, "ticket_blocked")


# -- one store, two writers --------------------------------------------------


async def test_the_cli_and_the_api_see_each_others_writes(api: Api) -> None:
    by_cli = api.cli.create("From the CLI", "", author="cli-user")
    detail = await api.detail(by_cli.id)
    assert (detail["meta"]["title"], detail["events"][0]["author"]) == ("From the CLI", "cli-user")
    await api.ok(f"/{by_cli.id}/comments", {"body": "From the API."}, 201)
    assert api.cli.get(by_cli.id).events[-1].body == "From the API."
    api.cli.move(by_cli.id, State.READY, author="cli-user")
    await api.ok(f"/{by_cli.id}/queue", {"from": "ready"})
    assert api.cli.get(by_cli.id).meta.state is State.QUEUED
    listing = await api.listing(state="queued")
    assert [item["id"] for item in listing["items"]] == [by_cli.id]


async def test_a_write_waits_for_the_store_lock_off_the_event_loop(api: Api) -> None:
    finished: list[str] = []

    async def timed(name: str, call: Any) -> httpx.Response:
        response: httpx.Response = await call
        finished.append(name)
        return response

    with store_lock(api.root / ".yoi" / "tickets", wait=1.0):
        written, read = await asyncio.gather(
            timed("write", api.post(f"/{PLANNING}/comments", {"body": "late"})),
            timed("read", api.http.get(f"/api/tickets/{CORE}")),
        )
    assert finished == ["read", "write"]
    assert read.status_code == 200
    error = await api.error(written, 503, "store_locked")
    assert error["details"] == {"waited_seconds": 0.5}
    assert "late" not in thread_of(api, PLANNING)
    await api.ok(f"/{PLANNING}/comments", {"body": "late"}, 201)
    assert api.cli.get(PLANNING).events[-1].body == "late"


# -- the contract ------------------------------------------------------------


async def test_a_backend_without_a_ticket_store_says_so(tmp_path: Path) -> None:
    async with open_api(tmp_path, None) as api:
        for response in (
            await api.http.get("/api/tickets"),
            await api.http.get("/api/board"),
            await api.http.get(f"/api/tickets/{CORE}"),
            await api.post("", {"title": "x"}),
        ):
            error = await api.error(response, 501, "unsupported_operation")
            assert error["message"] == "this backend has no ticket store"


async def test_the_document_describes_the_ticket_routes(api: Api) -> None:
    document = (await api.http.get("/openapi.json")).json()
    paths = document["paths"]
    for path in ("/api/tickets", "/api/tickets/ready", "/api/board", "/api/tickets/{ticket_id}"):
        assert "get" in paths[path], path
    for action in ("comments", "review", "ready", "queue", "transitions", "close", "relations"):
        post = paths[f"/api/tickets/{{ticket_id}}/{action}"]["post"]
        assert {"404", "409", "413", "415", "422"} <= set(post["responses"]), action
    schemas = document["components"]["schemas"]
    assert schemas["TransitionBody"]["additionalProperties"] is False
    assert "from" in schemas["TransitionBody"]["properties"]
    assert "blockers" in schemas["CardView"]["properties"]


# -- the actions the API offers ------------------------------------------------

ROUTE = {
    "planning": (),
    "ready": ("ready",),
    "queued": ("ready", "queue"),
    "inprogress": ("ready", "queue", "start"),
    "done": ("ready", "queue", "start", "done"),
    "closed": ("close",),
}


async def act(api: Api, action: dict[str, Any]) -> httpx.Response:
    """Carry out an offered action exactly as the API describes it, with some asked text."""
    assert action["method"] == "POST"
    body = dict(action["body"])
    if action["asks"] is not None:
        body[action["asks"]["field"]] = f"Text for {action['name']}."
    return await api.http.post(action["endpoint"], json=body)


async def bring(api: Api, ticket_id: str, state: str) -> dict[str, Any]:
    """Take ``ticket_id`` to ``state`` through offered actions only; its detail there."""
    for name in ROUTE[state]:
        (action,) = [a for a in (await api.detail(ticket_id))["actions"] if a["name"] == name]
        response = await act(api, action)
        assert response.status_code < 300, response.text
    detail = await api.detail(ticket_id)
    assert detail["meta"]["state"] == state
    return detail


@pytest.mark.parametrize("state", list(ROUTE))
async def test_every_offered_action_is_taken_as_described(api: Api, state: str) -> None:
    ticket_id = await api.create(f"A ticket in {state}")
    detail = await bring(api, ticket_id, state)
    card = next(
        card
        for column in (await api.http.get("/api/board")).json()["board"]["columns"]
        for card in column["cards"]
        if card["id"] == ticket_id
    )
    assert card["actions"] == detail["actions"]
    for action in detail["actions"]:
        copy = await api.create(f"Another in {state}")
        (again,) = [
            a for a in (await bring(api, copy, state))["actions"] if a["name"] == action["name"]
        ]
        response = await act(api, again)
        assert response.status_code in (200, 201), (action["name"], response.text)


async def test_a_blocked_action_says_why_and_is_refused_as_it_says(api: Api) -> None:
    waiting = await api.create("Waits for the planning one")
    await api.ok(f"/{waiting}/relations", {"kind": "depends_on", "target": PLANNING}, 201)
    detail = await bring(api, waiting, "ready")
    (queue,) = [a for a in detail["actions"] if a["name"] == "queue"]
    assert queue["blocked"] is True
    assert queue["reason"] == f"Blocked by {PLANNING} (planning)"
    assert queue["blockers"] == [{"ticket_id": PLANNING, "state": "planning", "via": "depends_on"}]
    await api.error(await act(api, queue), 409, "ticket_blocked")
    assert not any(a["blocked"] for a in detail["actions"] if a["name"] != "queue")


async def test_the_board_names_its_columns_in_lifecycle_order(api: Api) -> None:
    board = (await api.http.get("/api/board")).json()["board"]
    labels = [(column["state"], column["label"]) for column in board["columns"]]
    assert labels == [
        ("planning", "Planning"),
        ("ready", "Ready"),
        ("queued", "Queued"),
        ("inprogress", "In progress"),
        ("done", "Done"),
        ("closed", "Closed"),
    ]
    assert board["relation_kinds"] == [
        "depends_on",
        "blocks",
        "related",
        "supersedes",
        "duplicate_of",
    ]
