"""The REST command API (ARCHITECTURE §4.2), in process through ``httpx.ASGITransport``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.server.asgi import app_client, error_of

import yoi
from yoi.engine.model import ModelChunk, ModelRequest
from yoi.providers.script import Stall, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import MemoryStore, Runtime, RuntimeLimits
from yoi.runtime.cursor import encode_cursor
from yoi.testing.observe import until

DEADLINE = 5.0


async def create(http: httpx.AsyncClient, **body: object) -> dict[str, Any]:
    response = await http.post("/v1/workers", json=body)
    assert response.status_code == 201, response.text
    worker: dict[str, Any] = response.json()["worker"]
    return worker


class WatchedModel:
    """A scripted model that says when a request arrives, and holds it until the gate opens."""

    def __init__(self, script: ScriptedModel, *, gated: bool = False) -> None:
        self.script = script
        self.asked = asyncio.Event()
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()

    @property
    def name(self) -> str:
        return self.script.name

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        self.asked.set()
        await self.gate.wait()
        async for chunk in self.script.stream(request):
            yield chunk


# -- health and runtime ------------------------------------------------------


async def test_health_answers_ok_and_nothing_else() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_the_runtime_summary_says_who_it_is_and_what_it_offers() -> None:
    async with (
        Runtime(runtime_id="rt-test", display_name="Test runtime") as runtime,
        app_client(runtime) as http,
    ):
        await create(http)
        response = await http.get("/v1/runtime")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"runtime", "diagnostics"}
    summary = body["runtime"]
    assert summary["runtime_id"] == "rt-test"
    assert summary["display_name"] == "Test runtime"
    assert summary["status"] == "ready"
    assert summary["store"] == "memory"
    assert summary["worker_count"] == 1
    assert summary["busy_count"] == 0
    assert "config_bundles" in summary["capabilities"]
    assert summary["limits"]["max_page"] == RuntimeLimits().max_page
    assert summary["version"] == yoi.__version__
    assert [d["code"] for d in body["diagnostics"]] == ["offline_model"]


async def test_a_runtime_with_a_model_has_no_diagnostics() -> None:
    async with Runtime(model=ScriptedModel([])) as runtime, app_client(runtime) as http:
        response = await http.get("/v1/runtime")
    assert response.json()["diagnostics"] == []
    assert response.json()["runtime"]["model"] == "scripted:test"


# -- creating and reading workers ----------------------------------------------


async def test_an_empty_create_makes_an_assistant_on_the_default_profile() -> None:
    async with Runtime(runtime_id="rt-test") as runtime, app_client(runtime) as http:
        response = await http.post("/v1/workers", json={})
        assert response.status_code == 201
        assert list(response.json()) == ["worker"]
        worker = response.json()["worker"]
        fetched = await http.get(f"/v1/workers/{worker['worker_id']}")
    assert worker["intent"] == {"kind": "assistant", "purpose": None}
    assert worker["profile"] == "builtin:default"
    assert worker["status"] == "idle"
    assert worker["display_name"] == worker["worker_id"]
    assert worker["runtime_id"] == "rt-test"
    assert worker["transcript_total"] == 0
    assert worker["run"] is None
    assert fetched.status_code == 200
    assert fetched.json() == {"worker": worker}


async def test_a_create_without_a_body_is_the_same_as_an_empty_one() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.post("/v1/workers")
    assert response.status_code == 201
    assert response.json()["worker"]["profile"] == "builtin:default"


@pytest.mark.parametrize(
    ("intent", "prompt_ends"),
    [
        ({"kind": "assistant", "purpose": "plan trips"}, "Your purpose: plan trips"),
        ({"kind": "task", "objective": "fix the build"}, "Your task: fix the build"),
        (
            {"kind": "role", "role": "security reviewer", "purpose": "find leaks"},
            "Your role: security reviewer\nYour purpose: find leaks",
        ),
    ],
    ids=["assistant", "task", "role"],
)
async def test_the_full_create_form_names_intends_and_starts_the_worker(
    intent: dict[str, str], prompt_ends: str
) -> None:
    model = ScriptedModel([[Text("on it")]])
    async with Runtime(runtime_id="rt-test", model=model) as runtime, app_client(runtime) as http:
        worker = await create(
            http,
            worker_id="helper-1",
            display_name="Helper One",
            intent=intent,
            profile="builtin:reviewer",
            initial_input="please start",
        )
        assert worker["transcript_total"] == 1
        from_start = encode_cursor("helper-1", 0)  # the run may be over already
        async with await runtime.subscribe("helper-1", from_start) as live:
            await until(live, "run_finished")
        transcript = (await http.get("/v1/workers/helper-1/transcript")).json()["transcript"]
    assert worker["worker_id"] == "helper-1"
    assert worker["display_name"] == "Helper One"
    assert worker["display_ref"] == "Helper One@rt-test"
    assert {k: v for k, v in worker["intent"].items() if v is not None} == intent
    assert worker["profile"] == "builtin:reviewer"
    assert [(e["role"], e["content"]) for e in transcript["items"]] == [
        ("user", "please start"),
        ("assistant", "on it"),
    ]
    assert model.requests[0].system.endswith(prompt_ends)
    model.assert_consumed()


async def test_a_second_worker_with_the_same_id_is_a_conflict() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        await create(http, worker_id="twin")
        response = await http.post("/v1/workers", json={"worker_id": "twin"})
        listed = (await http.get("/v1/workers")).json()["workers"]
    assert error_of(response, 409)["code"] == "duplicate_worker"
    assert [w["worker_id"] for w in listed] == ["twin"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"worker_id": "Not An Id"}, 400, "invalid_request"),
        ({"worker_id": "x" * 65}, 400, "invalid_request"),
        ({"display_name": "   "}, 400, "invalid_request"),
        ({"intent": {"kind": "task", "objective": " "}}, 400, "invalid_request"),
        ({"profile": "builtin:wizard"}, 400, "invalid_profile"),
        ({"profile": "reviewer"}, 400, "invalid_profile"),
        ({"profile": "named:team"}, 400, "invalid_profile"),
        ({"requested_capabilities": [{"name": "shell"}]}, 501, "unsupported_operation"),
        ({"initial_input": "  "}, 400, "invalid_request"),
    ],
    ids=[
        "bad-id",
        "long-id",
        "blank-name",
        "blank-objective",
        "unknown-builtin",
        "bare-profile",
        "named-without-bundle",
        "unknown-capability",
        "blank-initial-input",
    ],
)
async def test_a_create_that_cannot_be_honoured_is_refused_and_makes_nothing(
    body: dict[str, object], status: int, code: str
) -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.post("/v1/workers", json=body)
        listed = (await http.get("/v1/workers")).json()["workers"]
    assert error_of(response, status)["code"] == code
    assert listed == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/workers/ghost"),
        ("POST", "/v1/workers/ghost/stop"),
        ("POST", "/v1/workers/ghost/cancel"),
        ("GET", "/v1/workers/ghost/transcript"),
        ("GET", "/v1/workers/ghost/events"),
    ],
)
async def test_an_unknown_worker_is_not_found(method: str, path: str) -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.request(method, path)
        sent = await http.post("/v1/workers/ghost/input", json={"content": "hello?"})
    error = error_of(response, 404)
    assert error["code"] == "worker_not_found"
    assert error["details"] == {"worker_id": "ghost"}
    assert error_of(sent, 404)["code"] == "worker_not_found"


async def test_a_malformed_worker_id_in_the_path_is_an_invalid_request() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.get("/v1/workers/NOT-an-id")
    assert error_of(response, 400)["code"] == "invalid_request"


# -- listing -------------------------------------------------------------------


async def test_workers_are_listed_in_pages_that_chain_by_next_after() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        for name in ("ada", "bob", "cyd"):
            await create(http, worker_id=name)
        first = (await http.get("/v1/workers", params={"limit": 2})).json()
        second = (
            await http.get("/v1/workers", params={"limit": 2, "after": first["next_after"]})
        ).json()
        everything = (await http.get("/v1/workers")).json()
    assert set(first) == {"workers", "next_after"}
    assert [w["worker_id"] for w in first["workers"]] == ["ada", "bob"]
    assert first["next_after"] == "bob"
    assert [w["worker_id"] for w in second["workers"]] == ["cyd"]
    assert second["next_after"] is None
    assert [w["worker_id"] for w in everything["workers"]] == ["ada", "bob", "cyd"]
    assert everything["next_after"] is None


async def test_a_status_filter_lists_only_workers_in_that_status() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        for name in ("ada", "bob", "cyd"):
            await create(http, worker_id=name)
        await http.post("/v1/workers/bob/stop")
        stopped = (await http.get("/v1/workers", params={"status": "stopped"})).json()
        idle = (await http.get("/v1/workers", params={"status": "idle"})).json()
        bogus = await http.get("/v1/workers", params={"status": "sleeping"})
    assert [w["worker_id"] for w in stopped["workers"]] == ["bob"]
    assert [w["worker_id"] for w in idle["workers"]] == ["ada", "cyd"]
    assert error_of(bogus, 400)["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "invalid_request"),
        ({"limit": "many"}, "invalid_request"),
        ({"limit": RuntimeLimits().max_page + 1}, "limit_too_large"),
        ({"after": "nobody"}, "invalid_request"),
    ],
    ids=["zero", "not-a-number", "over-max", "unknown-after"],
)
async def test_a_bad_listing_page_is_refused(params: dict[str, str | int], code: str) -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        response = await http.get("/v1/workers", params=params)
    assert error_of(response, 400)["code"] == code


# -- input, busy policy, stop and cancel ------------------------------------------


async def test_input_is_acknowledged_with_its_run_and_positions() -> None:
    model = ScriptedModel([[Text("hi ", "there")]])
    async with Runtime(model=model) as runtime, app_client(runtime) as http:
        worker = await create(http, worker_id="ada")
        async with await runtime.subscribe("ada") as live:
            response = await http.post(
                "/v1/workers/ada/input", json={"kind": "user", "content": "hello"}
            )
            events = await until(live, "run_finished")
    assert response.status_code == 202
    assert list(response.json()) == ["ack"]
    ack = response.json()["ack"]
    assert ack["worker_id"] == "ada"
    assert ack["transcript_sequence"] == 1
    assert ack["event_seq"] == worker["last_seq"] + 1
    assert ack["queued"] is False
    accepted = next(e for e in events if e.event.type == "input_accepted")
    assert accepted.seq == ack["event_seq"]
    assert events[-1].event.to_dict()["run_id"] == ack["run_id"]
    assert events[-1].event.to_dict()["result"] == "completed"


async def test_input_to_a_busy_worker_is_refused_and_not_recorded() -> None:
    async with Runtime(model=ScriptedModel([[Stall()]])) as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        first = await http.post("/v1/workers/ada/input", json={"content": "long job"})
        busy = await http.post("/v1/workers/ada/input", json={"content": "are you done?"})
        worker = (await http.get("/v1/workers/ada")).json()["worker"]
    assert first.status_code == 202
    assert error_of(busy, 409)["code"] == "worker_busy"
    assert worker["status"] == "running"
    assert worker["transcript_total"] == 1
    assert worker["queued_inputs"] == 0


async def test_enqueued_input_waits_its_turn_then_runs() -> None:
    model = WatchedModel(ScriptedModel([[Text("one")], [Text("two")]]), gated=True)
    async with Runtime(model=model) as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        async with await runtime.subscribe("ada") as live:
            first = await http.post("/v1/workers/ada/input", json={"content": "first"})
            queued = await http.post(
                "/v1/workers/ada/input", json={"content": "second", "on_busy": "enqueue"}
            )
            waiting = (await http.get("/v1/workers/ada")).json()["worker"]
            model.gate.set()
            events = await until(live, "run_finished", count=2)
        transcript = (await http.get("/v1/workers/ada/transcript")).json()["transcript"]
    ack = queued.json()["ack"]
    assert queued.status_code == 202
    assert ack["queued"] is True
    assert ack["transcript_sequence"] is None
    assert waiting["queued_inputs"] == 1
    finished = [e.event.to_dict() for e in events if e.event.type == "run_finished"]
    assert [f["run_id"] for f in finished] == [first.json()["ack"]["run_id"], ack["run_id"]]
    assert [f["result"] for f in finished] == ["completed", "completed"]
    assert [e["content"] for e in transcript["items"]] == ["first", "one", "second", "two"]


async def test_interrupting_input_cancels_the_current_run_and_runs_at_once() -> None:
    model = WatchedModel(ScriptedModel([[Stall()], [Text("taking over")]]))
    async with Runtime(model=model) as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        async with await runtime.subscribe("ada") as live:
            first = await http.post("/v1/workers/ada/input", json={"content": "slow"})
            async with asyncio.timeout(DEADLINE):
                await model.asked.wait()
            second = await http.post(
                "/v1/workers/ada/input", json={"content": "now", "on_busy": "interrupt"}
            )
            events = await until(live, "run_finished", count=2)
    ack = second.json()["ack"]
    assert second.status_code == 202
    assert ack["queued"] is False
    assert ack["transcript_sequence"] == 2
    finished = [e.event.to_dict() for e in events if e.event.type == "run_finished"]
    assert [(f["run_id"], f["result"]) for f in finished] == [
        (first.json()["ack"]["run_id"], "cancelled"),
        (ack["run_id"], "completed"),
    ]
    model.script.assert_consumed()


async def test_stop_is_acknowledged_once_and_then_input_is_refused() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        first = await http.post("/v1/workers/ada/stop", json={"reason": "done for today"})
        again = await http.post("/v1/workers/ada/stop")
        refused = await http.post("/v1/workers/ada/input", json={"content": "wake up"})
        worker = (await http.get("/v1/workers/ada")).json()["worker"]
        events = (await http.get("/v1/workers/ada/events")).json()["events"]
    assert first.status_code == 200
    assert first.json() == {"ack": {"worker_id": "ada", "stopped": True}}
    assert again.json() == {"ack": {"worker_id": "ada", "stopped": False}}
    assert error_of(refused, 409)["code"] == "worker_stopped"
    assert worker["status"] == "stopped"
    stops = [e["event"] for e in events if e["event"]["type"] == "worker_stopped"]
    assert stops == [{"type": "worker_stopped", "reason": "done for today"}]


async def test_cancel_says_whether_a_run_was_cancelled() -> None:
    async with Runtime(model=ScriptedModel([[Stall()]])) as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        idle = await http.post("/v1/workers/ada/cancel")
        await http.post("/v1/workers/ada/input", json={"content": "long job"})
        busy = await http.post("/v1/workers/ada/cancel")
        worker = (await http.get("/v1/workers/ada")).json()["worker"]
    assert idle.status_code == 200
    assert idle.json() == {"ack": {"worker_id": "ada", "cancelled": False}}
    assert busy.json() == {"ack": {"worker_id": "ada", "cancelled": True}}
    assert worker["status"] == "idle"
    assert worker["run"] is None


# -- transcript and events -------------------------------------------------------


async def converse(runtime: Runtime, http: httpx.AsyncClient, worker_id: str, text: str) -> None:
    async with await runtime.subscribe(worker_id) as live:
        response = await http.post(f"/v1/workers/{worker_id}/input", json={"content": text})
        assert response.status_code == 202, response.text
        await until(live, "run_finished", deadline=DEADLINE)


async def test_the_transcript_is_paged_by_start_and_limit() -> None:
    model = ScriptedModel([[Text("a1")], [Text("a2")]])
    limits = RuntimeLimits(max_page=3, default_page=3)
    async with Runtime(model=model, limits=limits) as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        await converse(runtime, http, "ada", "u1")
        await converse(runtime, http, "ada", "u2")
        first = (await http.get("/v1/workers/ada/transcript")).json()
        second = (
            await http.get("/v1/workers/ada/transcript", params={"start": 4, "limit": 3})
        ).json()
        too_many = await http.get("/v1/workers/ada/transcript", params={"limit": 4})
        from_zero = await http.get("/v1/workers/ada/transcript", params={"start": 0})
    assert list(first) == ["transcript"]
    page = first["transcript"]
    assert [(e["sequence"], e["role"], e["content"]) for e in page["items"]] == [
        (1, "user", "u1"),
        (2, "assistant", "a1"),
        (3, "user", "u2"),
    ]
    assert (page["total"], page["start"], page["next_start"]) == (4, 1, 4)
    rest = second["transcript"]
    assert [e["content"] for e in rest["items"]] == ["a2"]
    assert rest["next_start"] is None
    error = error_of(too_many, 400)
    assert error["code"] == "limit_too_large"
    assert error["details"] == {"limit": 4, "max": 3}
    assert error_of(from_zero, 400)["code"] == "invalid_request"


async def test_polled_event_pages_chain_without_gaps_or_repeats() -> None:
    model = ScriptedModel([[Text("a", "b", "c")], [Text("d", "e")]])
    async with Runtime(model=model) as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        await converse(runtime, http, "ada", "one")
        seqs: list[int] = []
        page = (await http.get("/v1/workers/ada/events", params={"limit": 3})).json()
        while page["events"]:
            assert set(page) == {"events", "next_cursor"}
            seqs.extend(e["seq"] for e in page["events"])
            params = {"cursor": page["next_cursor"], "limit": 3}
            page = (await http.get("/v1/workers/ada/events", params=params)).json()
        caught_up = page["next_cursor"]
        last_seq = (await http.get("/v1/workers/ada")).json()["worker"]["last_seq"]
        await converse(runtime, http, "ada", "two")
        later = (await http.get("/v1/workers/ada/events", params={"cursor": caught_up})).json()
        final_seq = (await http.get("/v1/workers/ada")).json()["worker"]["last_seq"]
    assert seqs == list(range(1, last_seq + 1))
    assert [e["seq"] for e in later["events"]] == list(range(last_seq + 1, final_seq + 1))
    assert later["events"][0]["worker_id"] == "ada"
    assert later["events"][0]["event"]["type"] == "input_accepted"


@pytest.mark.parametrize("cursor", ["not a cursor!", "%%%", "YWRhOm5vcGU"])
async def test_a_malformed_cursor_is_refused(cursor: str) -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        response = await http.get("/v1/workers/ada/events", params={"cursor": cursor})
    assert error_of(response, 400)["code"] == "invalid_cursor"


async def test_a_cursor_from_another_worker_is_refused() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        await create(http, worker_id="bob")
        cursor = (await http.get("/v1/workers/bob/events")).json()["next_cursor"]
        response = await http.get("/v1/workers/ada/events", params={"cursor": cursor})
    assert error_of(response, 400)["code"] == "invalid_cursor"


async def test_a_cursor_older_than_the_retained_events_has_expired() -> None:
    model = ScriptedModel([[Text(*"abcdefghijklmnopqrst")]])
    store = MemoryStore(max_events=8)
    async with Runtime(model=model, store=store) as runtime, app_client(runtime) as http:
        await create(http, worker_id="ada")
        oldest = (await http.get("/v1/workers/ada/events", params={"limit": 1})).json()
        await converse(runtime, http, "ada", "talk a lot")
        expired = await http.get("/v1/workers/ada/events", params={"cursor": oldest["next_cursor"]})
        retained = (await http.get("/v1/workers/ada/events", params={"limit": 100})).json()
        last_seq = (await http.get("/v1/workers/ada")).json()["worker"]["last_seq"]
    assert [e["seq"] for e in oldest["events"]] == [1]
    error = error_of(expired, 410)
    assert error["code"] == "cursor_expired"
    first_retained = error["details"]["first_retained_seq"]
    assert [e["seq"] for e in retained["events"]] == list(range(first_retained, last_seq + 1))
    assert len(retained["events"]) == 8
