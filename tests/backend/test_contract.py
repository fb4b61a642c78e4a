"""The backend REST contract (ARCHITECTURE §5), with the same assertions for both sources.

Every test runs twice through the ``stack`` fixture: once with the runtime
under test embedded in the backend, once behind a remote source (a runtime
server on a loopback socket, with a token).
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.backend.rig import EMBEDDED, FAR, MODEL, Stack, script
from tests.server.asgi import error_of

from yoi.testing import Stall, Text

VIEW_KEYS = {
    "runtime_id",
    "display_name",
    "kind",
    "status",
    "capabilities",
    "tools",
    "requestable_tools",
    "worker_count",
    "busy_count",
    "model",
    "diagnostics",
}


async def runtime_view(stack: Stack) -> dict[str, Any]:
    response = await stack.http.get(f"/api/runtimes/{stack.runtime_id}")
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["runtime"]
    view: dict[str, Any] = response.json()["runtime"]
    return view


async def transcript(stack: Stack, worker_id: str, **params: int) -> dict[str, Any]:
    response = await stack.http.get(stack.path(worker_id, "transcript"), params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()["transcript"]
    return page


async def listing(stack: Stack, **params: str | int) -> dict[str, Any]:
    response = await stack.http.get("/api/workers", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"workers", "diagnostics", "next_after"}
    return body


def ids(workers: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(worker["runtime_id"], worker["worker_id"]) for worker in workers]


# -- runtimes ----------------------------------------------------------------


async def test_the_runtime_is_listed_available_with_its_kind_and_capabilities(
    stack: Stack,
) -> None:
    response = await stack.http.get("/api/runtimes")
    assert response.status_code == 200
    assert list(response.json()) == ["runtimes"]
    views = {view["runtime_id"]: view for view in response.json()["runtimes"]}
    view = views[stack.runtime_id]
    assert set(view) == VIEW_KEYS
    assert view["kind"] == stack.kind
    assert view["status"] == "available"
    assert view["display_name"] == stack.runtime_id
    assert view["model"] == MODEL
    assert {"workers", "observe.subscribe", "observe.resume", "config_bundles"} <= set(
        view["capabilities"]
    )
    assert view["diagnostics"] == []
    assert await runtime_view(stack) == view


async def test_the_embedded_runtime_is_always_listed_first(stack: Stack) -> None:
    views = (await stack.http.get("/api/runtimes")).json()["runtimes"]
    expected = [EMBEDDED] if stack.kind == "embedded" else [EMBEDDED, FAR]
    assert [view["runtime_id"] for view in views] == expected
    assert views[0]["kind"] == "embedded"


async def test_the_worker_count_follows_creates(stack: Stack) -> None:
    before = (await runtime_view(stack))["worker_count"]
    await stack.create(worker_id="one")
    await stack.create(worker_id="two")
    view = await runtime_view(stack)
    assert view["worker_count"] == before + 2
    assert view["busy_count"] == 0


async def test_an_unknown_or_malformed_runtime_is_refused(stack: Stack) -> None:
    unknown = error_of(await stack.http.get("/api/runtimes/nowhere"), 404)
    assert (unknown["code"], unknown["details"]) == ("runtime_not_found", {"runtime_id": "nowhere"})
    malformed = error_of(await stack.http.get("/api/runtimes/Not-An-Id"), 400)
    assert malformed["code"] == "invalid_request"


# -- creating workers ----------------------------------------------------------


async def test_create_with_the_default_profile_uses_the_workspace_bundle(stack: Stack) -> None:
    response = await stack.http.post(
        f"/api/runtimes/{stack.runtime_id}/workers", json={"worker_id": "helper"}
    )
    assert response.status_code == 201
    worker = response.json()["worker"]
    assert worker["runtime_id"] == stack.runtime_id
    assert worker["worker_id"] == "helper"
    assert worker["display_ref"] == f"helper@{stack.runtime_id}"
    assert worker["profile"] == "default"
    assert worker["status"] == "idle"
    assert worker["model"] == MODEL


async def test_create_with_an_empty_body_generates_an_id(stack: Stack) -> None:
    response = await stack.http.post(f"/api/runtimes/{stack.runtime_id}/workers", json={})
    assert response.status_code == 201
    worker = response.json()["worker"]
    assert worker["worker_id"]
    assert worker["profile"] == "default"
    fetched = await stack.http.get(stack.path(worker["worker_id"]))
    assert fetched.json()["worker"]["worker_id"] == worker["worker_id"]


async def test_create_with_a_workspace_profile(stack: Stack) -> None:
    worker = await stack.create(worker_id="critic", profile="strict", display_name="Critic")
    assert worker["profile"] == "strict"
    assert worker["display_name"] == "Critic"
    assert worker["display_ref"] == f"Critic@{stack.runtime_id}"


async def test_create_with_a_builtin_profile(stack: Stack) -> None:
    worker = await stack.create(worker_id="coder", profile="builtin:coder")
    assert worker["profile"] == "coder"


async def test_an_unknown_profile_is_invalid_profile(stack: Stack) -> None:
    for profile in ("missing", "named:missing", "builtin:missing"):
        response = await stack.http.post(
            f"/api/runtimes/{stack.runtime_id}/workers", json={"worker_id": "x", "profile": profile}
        )
        assert error_of(response, 400)["code"] == "invalid_profile", profile
    assert error_of(await stack.http.get(stack.path("x")), 404)["code"] == "worker_not_found"


async def test_a_duplicate_worker_id_is_a_conflict(stack: Stack) -> None:
    await stack.create(worker_id="twice")
    response = await stack.http.post(
        f"/api/runtimes/{stack.runtime_id}/workers", json={"worker_id": "twice"}
    )
    assert error_of(response, 409)["code"] == "duplicate_worker"


async def test_create_on_an_unknown_runtime_is_runtime_not_found(stack: Stack) -> None:
    response = await stack.http.post("/api/runtimes/nowhere/workers", json={})
    error = error_of(response, 404)
    assert error["code"] == "runtime_not_found"
    assert error["details"] == {"runtime_id": "nowhere"}


async def test_a_malformed_worker_id_in_a_create_is_invalid_request(stack: Stack) -> None:
    before = ids((await listing(stack, runtime_id=stack.runtime_id))["workers"])
    for worker_id in ("Upper", "has space", "-dash-first", "x" * 65, ""):
        response = await stack.http.post(
            f"/api/runtimes/{stack.runtime_id}/workers", json={"worker_id": worker_id}
        )
        assert error_of(response, 400)["code"] == "invalid_request", worker_id
    assert ids((await listing(stack, runtime_id=stack.runtime_id))["workers"]) == before


PATHS = [
    ("GET", "", None),
    ("GET", "/transcript", None),
    ("POST", "/input", {"content": "hi"}),
    ("POST", "/stop", {}),
    ("POST", "/cancel", {}),
]


async def test_a_malformed_id_in_a_path_is_refused_before_any_lookup(stack: Stack) -> None:
    for method, suffix, body in PATHS:
        bad_worker = await stack.http.request(
            method, f"/api/runtimes/{stack.runtime_id}/workers/Bad.Id{suffix}", json=body
        )
        assert error_of(bad_worker, 400)["code"] == "invalid_request", suffix
        # "Nowhere" is no runtime either, but its form is judged first.
        bad_runtime = await stack.http.request(
            method, f"/api/runtimes/Nowhere/workers/someone{suffix}", json=body
        )
        assert error_of(bad_runtime, 400)["code"] == "invalid_request", suffix


# -- reading workers -------------------------------------------------------------


async def test_get_a_worker_and_an_unknown_one(stack: Stack) -> None:
    created = await stack.create(worker_id="reader")
    response = await stack.http.get(stack.path("reader"))
    assert response.status_code == 200
    assert list(response.json()) == ["worker"]
    worker = response.json()["worker"]
    assert worker["runtime_id"] == stack.runtime_id
    assert worker["worker_id"] == "reader"
    assert worker["created_at"] == created["created_at"]
    missing = error_of(await stack.http.get(stack.path("nobody")), 404)
    assert missing["code"] == "worker_not_found"
    unknown = error_of(await stack.http.get(stack.path("reader", runtime_id="nowhere")), 404)
    assert unknown["code"] == "runtime_not_found"


async def test_the_listing_filters_by_runtime(stack: Stack) -> None:
    await stack.create(worker_id="listed")
    body = await listing(stack, runtime_id=stack.runtime_id)
    assert (stack.runtime_id, "listed") in ids(body["workers"])
    assert {runtime_id for runtime_id, _ in ids(body["workers"])} == {stack.runtime_id}
    assert body["diagnostics"] == []
    assert body["next_after"] is None
    missing = error_of(await stack.http.get("/api/workers", params={"runtime_id": "nowhere"}), 404)
    assert missing["code"] == "runtime_not_found"


@script([Stall()])
async def test_the_listing_filters_by_status(stack: Stack) -> None:
    await stack.create(worker_id="busy")
    await stack.create(worker_id="quiet")
    async with stack.observe("busy") as watch:
        await watch.frame()
        assert (await stack.send("busy", "go")).status_code == 202
        await watch.until("run_started")
        running = await listing(stack, runtime_id=stack.runtime_id, status="running")
        idle = await listing(stack, runtime_id=stack.runtime_id, status="idle")
    assert ids(running["workers"]) == [(stack.runtime_id, "busy")]
    assert running["workers"][0]["status"] == "running"
    assert (stack.runtime_id, "quiet") in ids(idle["workers"])
    assert (stack.runtime_id, "busy") not in ids(idle["workers"])
    bad = await stack.http.get("/api/workers", params={"status": "sleeping"})
    assert error_of(bad, 400)["code"] == "invalid_request"


# -- input, busy, cancel, stop ---------------------------------------------------


@script([Text("Hello", " there")])
async def test_input_is_acknowledged_and_the_reply_lands_in_the_transcript(stack: Stack) -> None:
    await stack.create(worker_id="talker")
    async with stack.observe("talker") as watch:
        await watch.frame()
        response = await stack.send("talker", "hi")
        assert response.status_code == 202
        assert list(response.json()) == ["ack"]
        ack = response.json()["ack"]
        assert set(ack) == {"worker_id", "run_id", "transcript_sequence", "event_seq", "queued"}
        assert ack["worker_id"] == "talker"
        assert ack["queued"] is False
        finished = (await watch.until("run_finished"))[-1]["event"]
    assert finished == {
        "type": "run_finished",
        "run_id": ack["run_id"],
        "result": "completed",
        "error": None,
    }
    page = await transcript(stack, "talker")
    assert [(item["role"], item["content"]) for item in page["items"]] == [
        ("user", "hi"),
        ("assistant", "Hello there"),
    ]
    assert page["items"][0]["sequence"] == ack["transcript_sequence"]
    assert page["total"] == 2


@script([Stall()], [Text("took over")], [Text("waited")])
async def test_a_busy_worker_rejects_by_default_and_takes_enqueue_and_interrupt(
    stack: Stack,
) -> None:
    await stack.create(worker_id="busy")
    async with stack.observe("busy") as watch:
        await watch.frame()
        first = (await stack.send("busy", "first")).json()["ack"]
        await watch.until("run_started")
        rejected = error_of(await stack.send("busy", "refused"), 409)
        assert rejected["code"] == "worker_busy"
        queued = await stack.send("busy", "second", on_busy="enqueue")
        assert queued.status_code == 202
        second = queued.json()["ack"]
        assert second["queued"] is True
        third = (await stack.send("busy", "third", on_busy="interrupt")).json()["ack"]
        assert third["queued"] is False
        seen = await watch.until("run_finished", count=3)
    results = [
        (frame["event"]["run_id"], frame["event"]["result"])
        for frame in seen
        if frame["event"]["type"] == "run_finished"
    ]
    assert results == [
        (first["run_id"], "cancelled"),
        (third["run_id"], "completed"),
        (second["run_id"], "completed"),
    ]
    contents = [item["content"] for item in (await transcript(stack, "busy"))["items"]]
    assert contents == ["first", "third", "took over", "second", "waited"]


@script([Stall()])
async def test_cancel_ends_a_stalled_run_cancelled(stack: Stack) -> None:
    await stack.create(worker_id="stuck")
    async with stack.observe("stuck") as watch:
        await watch.frame()
        ack = (await stack.send("stuck", "hang")).json()["ack"]
        await watch.until("run_started")
        response = await stack.http.post(stack.path("stuck", "cancel"), json={})
        assert response.status_code == 200
        assert response.json() == {"ack": {"worker_id": "stuck", "cancelled": True}}
        finished = (await watch.until("run_finished"))[-1]["event"]
        assert (finished["run_id"], finished["result"]) == (ack["run_id"], "cancelled")
        idle = (await watch.until("status"))[-1]["event"]
        assert idle == {"type": "status", "status": "idle"}
    again = await stack.http.post(stack.path("stuck", "cancel"), json={})
    assert again.json() == {"ack": {"worker_id": "stuck", "cancelled": False}}
    assert (await stack.http.get(stack.path("stuck"))).json()["worker"]["status"] == "idle"


async def test_a_stopped_worker_refuses_input(stack: Stack) -> None:
    await stack.create(worker_id="ending")
    stop = await stack.http.post(stack.path("ending", "stop"), json={"reason": "done"})
    assert stop.status_code == 200
    assert stop.json() == {"ack": {"worker_id": "ending", "stopped": True}}
    again = await stack.http.post(stack.path("ending", "stop"), json={})
    assert again.json() == {"ack": {"worker_id": "ending", "stopped": False}}
    assert error_of(await stack.send("ending", "hello?"), 409)["code"] == "worker_stopped"
    worker = (await stack.http.get(stack.path("ending"))).json()["worker"]
    assert worker["status"] == "stopped"
    assert worker["transcript_total"] == 0


async def test_commands_to_an_unknown_worker_are_worker_not_found(stack: Stack) -> None:
    for suffix, body in (("input", {"content": "hi"}), ("stop", {}), ("cancel", {})):
        response = await stack.http.post(stack.path("nobody", suffix), json=body)
        assert error_of(response, 404)["code"] == "worker_not_found"


async def test_a_mutation_without_a_json_body_is_unsupported_media_type(stack: Stack) -> None:
    await stack.create(worker_id="plain")
    response = await stack.http.post(stack.path("plain", "cancel"), content=b"")
    assert error_of(response, 415)["code"] == "unsupported_media_type"


# -- transcript paging -------------------------------------------------------------


@script([Text("one")], [Text("two")])
async def test_the_transcript_pages(stack: Stack) -> None:
    await stack.create(worker_id="pager")
    async with stack.observe("pager") as watch:
        await watch.frame()
        await stack.send("pager", "first")
        await watch.until("run_finished")
        await stack.send("pager", "second")
        await watch.until("run_finished")
    first = await transcript(stack, "pager", start=1, limit=3)
    assert set(first) == {"items", "total", "start", "next_start"}
    assert [item["sequence"] for item in first["items"]] == [1, 2, 3]
    assert (first["total"], first["start"], first["next_start"]) == (4, 1, 4)
    rest = await transcript(stack, "pager", start=first["next_start"], limit=3)
    assert [(item["sequence"], item["content"]) for item in rest["items"]] == [(4, "two")]
    assert rest["next_start"] is None
    whole = await transcript(stack, "pager")
    assert [item["content"] for item in whole["items"]] == ["first", "one", "second", "two"]
    too_big = await stack.http.get(stack.path("pager", "transcript"), params={"limit": 100_000})
    assert error_of(too_big, 400)["code"] == "limit_too_large"


# -- the workspace -----------------------------------------------------------------


async def test_the_workspace_names_the_model_and_the_companion(stack: Stack) -> None:
    response = await stack.http.get("/api/workspace")
    assert response.status_code == 200
    workspace = response.json()["workspace"]
    keys = {"name", "id", "version", "model", "offline", "companion", "profiles"}
    assert set(workspace) == keys
    assert workspace["id"] is None  # this test's backend was given none (`yoi serve` makes one)
    assert (workspace["model"], workspace["offline"]) == (MODEL, False)
    assert workspace["companion"] == {"runtime_id": EMBEDDED, "worker_id": "companion"}
    profiles = {profile["name"]: profile for profile in workspace["profiles"]}
    assert {"default", "companion", "coder", "reviewer"} <= set(profiles)
    assert set(profiles["coder"]) == {"name", "description", "tools"}


# -- the Companion (it lives on the embedded runtime: tested once) -------------------

embedded_only = pytest.mark.parametrize("stack", ["embedded"], indirect=True)


@embedded_only
async def test_the_companion_is_described_without_credentials(stack: Stack) -> None:
    response = await stack.http.get("/api/companion")
    assert response.status_code == 200
    assert response.json() == {
        "companion": {
            "runtime_id": EMBEDDED,
            "worker_id": "companion",
            "display_name": "Companion",
            "status": "idle",
            "model": MODEL,
            "offline": False,
        }
    }
    worker = (await stack.http.get(stack.path("companion"))).json()["worker"]
    assert (worker["profile"], worker["tools"]) == ("companion", [])


@embedded_only
@script([Text("Hi, I am", " the Companion")])
async def test_a_companion_message_is_answered_on_its_stream_and_transcript(stack: Stack) -> None:
    async with stack.observe("companion") as watch:
        await watch.frame()
        response = await stack.http.post("/api/companion/messages", json={"content": "hello"})
        assert response.status_code == 202
        ack = response.json()["ack"]
        assert (ack["worker_id"], ack["queued"]) == ("companion", False)
        seen = await watch.until("run_finished")
    texts = [frame["event"]["text"] for frame in seen if frame["event"]["type"] == "text_delta"]
    assert texts == ["Hi, I am", " the Companion"]
    assert seen[-1]["event"]["result"] == "completed"
    items = (await transcript(stack, "companion"))["items"]
    assert [(item["role"], item["content"]) for item in items] == [
        ("user", "hello"),
        ("assistant", "Hi, I am the Companion"),
    ]


@embedded_only
@script([Stall()], [Text("now")], [Text("later")])
async def test_a_busy_companion_rejects_unless_told_otherwise(stack: Stack) -> None:
    async with stack.observe("companion") as watch:
        await watch.frame()
        await stack.http.post("/api/companion/messages", json={"content": "think hard"})
        await watch.until("run_started")
        assert (await stack.http.get("/api/companion")).json()["companion"]["status"] == "running"
        busy = await stack.http.post("/api/companion/messages", json={"content": "and?"})
        assert error_of(busy, 409)["code"] == "worker_busy"
        later = await stack.http.post(
            "/api/companion/messages", json={"content": "later", "on_busy": "enqueue"}
        )
        assert later.status_code == 202
        assert later.json()["ack"]["queued"] is True
        now = await stack.http.post(
            "/api/companion/messages", json={"content": "now", "on_busy": "interrupt"}
        )
        assert now.status_code == 202
        seen = await watch.until("run_finished", count=3)
    results = [f["event"]["result"] for f in seen if f["event"]["type"] == "run_finished"]
    assert results == ["cancelled", "completed", "completed"]
    items = (await transcript(stack, "companion"))["items"]
    assert [item["content"] for item in items][-4:] == ["now", "now", "later", "later"]
    bad = await stack.http.post("/api/companion/messages", json={"content": "x", "on_busy": "no"})
    assert error_of(bad, 400)["code"] == "invalid_request"


# -- listings across two runtimes ---------------------------------------------------


async def populate(pair: Stack) -> list[tuple[str, str]]:
    """Three workers on each runtime; every worker of the backend, in listing order."""
    for name in ("e1", "e2", "e3"):
        await pair.create(runtime_id=EMBEDDED, worker_id=name)
    for name in ("f1", "f2", "f3"):
        await pair.create(runtime_id=FAR, worker_id=name)
    expected = [(EMBEDDED, "companion"), *((EMBEDDED, f"e{n}") for n in (1, 2, 3))]
    return expected + [(FAR, f"f{n}") for n in (1, 2, 3)]


async def walk(pair: Stack, limit: int) -> list[list[tuple[str, str]]]:
    """Every page of the listing, ``limit`` at a time."""
    pages: list[list[tuple[str, str]]] = []
    params: dict[str, str | int] = {"limit": limit}
    while len(pages) < 20:
        page = await listing(pair, **params)
        pages.append(ids(page["workers"]))
        if page["next_after"] is None:
            return pages
        params = {"limit": limit, "after": page["next_after"]}
    raise AssertionError(f"the listing does not end: {pages}")


async def test_the_listing_pages_across_the_embedded_and_the_remote_runtime(pair: Stack) -> None:
    expected = await populate(pair)
    whole = await listing(pair)
    assert ids(whole["workers"]) == expected
    assert (whole["diagnostics"], whole["next_after"]) == ([], None)
    # 4 ends the embedded runtime's workers exactly, 3 and 5 straddle the boundary.
    for limit in (1, 2, 3, 4, 5, 7, 8):
        pages = await walk(pair, limit)
        assert [item for page in pages for item in page] == expected, limit
        assert all(len(page) == limit for page in pages[:-1]), (limit, pages)
        assert 0 < len(pages[-1]) <= limit, (limit, pages)


@script([Stall()])
async def test_the_status_filter_spans_both_runtimes(pair: Stack) -> None:
    await populate(pair)
    async with pair.observe("f2", runtime_id=FAR) as watch:
        await watch.frame()
        assert (await pair.send("f2", "work")).status_code == 202
        await watch.until("run_started")
        running = await listing(pair, status="running")
        idle = await listing(pair, status="idle", limit=3)
    assert ids(running["workers"]) == [(FAR, "f2")]
    assert ids(idle["workers"]) == [(EMBEDDED, "companion"), (EMBEDDED, "e1"), (EMBEDDED, "e2")]
    rest = await listing(pair, status="idle", after=idle["next_after"])
    assert ids(rest["workers"]) == [(EMBEDDED, "e3"), (FAR, "f1"), (FAR, "f3")]


async def test_a_malformed_listing_cursor_is_refused(pair: Stack) -> None:
    response = await pair.http.get("/api/workers", params={"after": "not a cursor"})
    assert error_of(response, 400)["code"] == "invalid_cursor"
    too_big = await pair.http.get("/api/workers", params={"limit": 100_000})
    assert error_of(too_big, 400)["code"] == "limit_too_large"


async def test_an_unreachable_runtime_is_a_diagnostic_and_the_rest_still_answer(
    pair: Stack,
) -> None:
    expected = await populate(pair)
    assert pair.upstream is not None
    await pair.upstream.stop()
    body = await listing(pair)
    assert ids(body["workers"]) == [item for item in expected if item[0] == EMBEDDED]
    assert [(d["runtime_id"], d["code"]) for d in body["diagnostics"]] == [
        (FAR, "runtime_unavailable")
    ]
    assert set(body["diagnostics"][0]) == {"runtime_id", "code", "message"}
    views = {
        view["runtime_id"]: view
        for view in (await pair.http.get("/api/runtimes")).json()["runtimes"]
    }
    assert views[FAR]["status"] == "unavailable"
    assert views[EMBEDDED]["status"] == "available"
