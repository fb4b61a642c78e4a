"""What stands in front of every route: auth, browsers, body size, and one error envelope."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager

import httpx
import pytest
from tests.server.asgi import app_client, error_of

from yoi.runtime import CreateWorkerRequest, MemoryStore, Runtime
from yoi.runtime.events import Event
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.stores.protocol import EventSlice, Store, StoredState
from yoi.runtime.transcript import TranscriptEntry
from yoi.server import create_app

TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DIGEST = "0" * 64
LIMIT = 1024


@asynccontextmanager
async def serve(
    store: Store | None = None, *, token: str | None = TOKEN, max_body_bytes: int = LIMIT
) -> AsyncIterator[httpx.AsyncClient]:
    """A runtime with one idle worker ``ada``, behind its app."""
    async with Runtime(store=store) as runtime:
        await runtime.create_worker(CreateWorkerRequest(worker_id="ada"))
        async with app_client(runtime, token=token, max_body_bytes=max_body_bytes) as http:
            yield http


ROUTES = [
    ("GET", "/v1/runtime", None),
    ("GET", "/v1/workers", None),
    ("POST", "/v1/workers", {}),
    ("GET", "/v1/workers/ada", None),
    ("POST", "/v1/workers/ada/input", {"content": "hello"}),
    ("POST", "/v1/workers/ada/stop", {}),
    ("POST", "/v1/workers/ada/cancel", None),
    ("GET", "/v1/workers/ada/transcript", None),
    ("GET", "/v1/workers/ada/events", None),
    ("GET", "/v1/config-bundles", None),
    ("GET", f"/v1/config-bundles/{DIGEST}", None),
    ("PUT", f"/v1/config-bundles/{DIGEST}", {"revision": "1", "profiles": {}}),
    ("GET", "/openapi.json", None),
    ("GET", "/v1/no-such-route", None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in ROUTES]


# -- auth ------------------------------------------------------------------------


WRONG_AUTHORIZATIONS = [
    None,
    "Bearer wrong-token",
    TOKEN,
    f"Bearer {TOKEN}x",
    f"Bearer {TOKEN[:-1]}",
    "Bearer ",
    f"Basic {TOKEN}",
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
async def test_every_route_but_health_needs_the_bearer_token(
    method: str, path: str, body: object
) -> None:
    async with serve() as http:
        for authorization in WRONG_AUTHORIZATIONS:
            headers = {} if authorization is None else {"Authorization": authorization}
            response = await http.request(method, path, json=body, headers=headers)
            assert error_of(response, 401)["code"] == "unauthorized", authorization
            assert TOKEN not in response.text
        events = (await http.get("/v1/workers/ada/events", headers=AUTH)).json()["events"]
    assert [e["event"]["type"] for e in events] == ["worker_created"]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
async def test_the_right_token_opens_every_route(method: str, path: str, body: object) -> None:
    async with serve() as http:
        response = await http.request(method, path, json=body, headers=AUTH)
    assert response.status_code != 401
    assert response.status_code < 500, response.text


async def test_health_needs_no_token_and_says_nothing_more() -> None:
    async with serve() as http:
        bare = await http.get("/v1/health")
        wrong = await http.get("/v1/health", headers={"Authorization": "Bearer nope"})
    assert bare.status_code == 200
    assert bare.json() == {"status": "ok"}
    assert wrong.json() == {"status": "ok"}


async def test_without_a_configured_token_no_header_is_needed() -> None:
    async with serve(token=None) as http:
        response = await http.get("/v1/workers/ada")
    assert response.status_code == 200


async def test_the_openapi_document_describes_the_routes_to_those_with_the_token() -> None:
    async with serve() as http:
        response = await http.get("/openapi.json", headers=AUTH)
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/v1/workers/{worker_id}/input" in paths
    assert "/v1/config-bundles/{digest}" in paths


# -- browsers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [*ROUTES, ("GET", "/v1/health", None), ("POST", "/v1/health", None)],
    ids=[*ROUTE_IDS, "GET /v1/health", "POST /v1/health"],
)
async def test_a_request_from_a_browser_is_refused_on_every_route(
    method: str, path: str, body: object
) -> None:
    async with serve() as http:
        for origin in ("http://localhost:3000", "null", "http://evil.example"):
            headers = {**AUTH, "Origin": origin}
            response = await http.request(method, path, headers=headers, json=body)
            assert error_of(response, 403)["code"] == "forbidden_origin", origin
        events = (await http.get("/v1/workers/ada/events", headers=AUTH)).json()["events"]
        listed = (await http.get("/v1/workers", headers=AUTH)).json()["workers"]
    assert [e["event"]["type"] for e in events] == ["worker_created"]
    assert [w["worker_id"] for w in listed] == ["ada"]


async def test_a_browser_is_refused_before_its_token_is_looked_at() -> None:
    async with serve() as http:
        response = await http.get("/v1/runtime", headers={"Origin": "http://localhost:5173"})
    assert error_of(response, 403)["code"] == "forbidden_origin"


# -- Host (DNS rebinding) --------------------------------------------------------

LOOPBACK_HOSTS = ["127.0.0.1:7701", "127.0.0.1", "localhost:7701", "LocalHost", "[::1]:7701"]
FOREIGN_HOSTS = ["rebind.test:7701", "rebind.test", "127.0.0.1.rebind.test", "10.0.0.7:7701", ""]


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
async def test_without_a_token_a_loopback_host_is_answered(host: str) -> None:
    async with serve(token=None) as http:
        response = await http.get("/v1/workers/ada/transcript", headers={"Host": host})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [*ROUTES, ("GET", "/v1/health", None)],
    ids=[*ROUTE_IDS, "GET /v1/health"],
)
async def test_without_a_token_another_host_is_forbidden_on_every_route(
    host: str, method: str, path: str, body: object
) -> None:
    async with serve(token=None) as http:
        response = await http.request(method, path, headers={"Host": host}, json=body)
        listed = (await http.get("/v1/workers")).json()["workers"]
    assert error_of(response, 403)["code"] == "forbidden_host"
    assert [worker["worker_id"] for worker in listed] == ["ada"]


async def test_without_a_token_the_bind_address_is_answered_too() -> None:
    async with Runtime() as runtime:
        app = create_app(runtime, bind_host="127.0.0.9")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.9:7701") as http:
            bound = await http.get("/v1/workers")
            other = await http.get("/v1/workers", headers={"Host": "127.0.0.10:7701"})
    assert bound.status_code == 200, bound.text
    assert error_of(other, 403)["code"] == "forbidden_host"


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
async def test_with_a_token_any_host_is_answered_to_a_bearer(host: str) -> None:
    async with serve() as http:
        response = await http.get("/v1/workers/ada", headers={**AUTH, "Host": host})
    assert response.status_code == 200, response.text


# -- body size -------------------------------------------------------------------


def padded_input(size: int) -> bytes:
    """An input body of exactly ``size`` bytes."""
    shell = b'{"content": ""}'
    return shell[:-2] + b"x" * (size - len(shell)) + shell[-2:]


async def chunks(body: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def transcript_total(http: httpx.AsyncClient) -> int:
    worker = (await http.get("/v1/workers/ada", headers=AUTH)).json()["worker"]
    total: int = worker["transcript_total"]
    return total


async def test_a_declared_body_over_the_limit_is_refused_unread() -> None:
    async with serve() as http:
        response = await http.post(
            "/v1/workers/ada/input",
            content=padded_input(LIMIT + 1),
            headers={**AUTH, "Content-Type": "application/json"},
        )
        total = await transcript_total(http)
    error = error_of(response, 413)
    assert error["code"] == "payload_too_large"
    assert total == 0


async def test_a_streamed_body_over_the_limit_is_refused() -> None:
    async with serve() as http:
        response = await http.post(
            "/v1/workers/ada/input",
            content=chunks(padded_input(LIMIT * 3)),
            headers={**AUTH, "Content-Type": "application/json"},
        )
        total = await transcript_total(http)
    assert "content-length" not in response.request.headers
    error = error_of(response, 413)
    assert error["code"] == "payload_too_large"
    assert total == 0


async def test_a_streamed_body_at_the_limit_is_accepted() -> None:
    async with serve() as http:
        response = await http.post(
            "/v1/workers/ada/input",
            content=chunks(padded_input(LIMIT)),
            headers={**AUTH, "Content-Type": "application/json"},
        )
    assert response.status_code == 202, response.text


# -- the framework's own refusals, in our envelope --------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/workers", {"display_name": 5}, "display_name"),
        ("/v1/workers", {"requested_capabilities": "shell"}, "requested_capabilities"),
        ("/v1/workers", {"intent": {"kind": "robot"}}, "intent"),
        ("/v1/workers", {"colour": "red"}, "colour"),
        ("/v1/workers", {"intent": {"kind": "task", "objective": "x", "due": "now"}}, "intent"),
        ("/v1/workers", {"config_bundle": {"digest": DIGEST, "url": "x"}}, "config_bundle"),
        ("/v1/workers/ada/input", {"content": 12345678}, "content"),
        ("/v1/workers/ada/input", {"kind": "user"}, "content"),
        ("/v1/workers/ada/input", {"content": "x", "kind": "system"}, "kind"),
        ("/v1/workers/ada/input", {"content": "x", "on_busy": "shove"}, "on_busy"),
        ("/v1/workers/ada/input", {"content": "x", "priority": 1}, "priority"),
        ("/v1/workers/ada/input", [], "body"),
        ("/v1/workers/ada/stop", {"why": "bored"}, "why"),
    ],
)
async def test_a_body_of_the_wrong_shape_is_an_invalid_request(
    path: str, body: object, field: str
) -> None:
    async with serve() as http:
        response = await http.post(path, json=body, headers=AUTH)
        total = await transcript_total(http)
    error = error_of(response, 400)
    assert error["code"] == "invalid_request"
    problems = error["details"]["problems"]
    assert any(p["field"].startswith(field) for p in problems), problems
    assert all(set(p) == {"field", "message"} for p in problems)
    assert "12345678" not in response.text
    assert total == 0


@pytest.mark.parametrize("body", [b'{"content": ', b"{'content': 'x'}", b"\xff\xfe", b""])
async def test_malformed_json_is_an_invalid_request(body: bytes) -> None:
    async with serve() as http:
        response = await http.post(
            "/v1/workers/ada/input",
            content=body,
            headers={**AUTH, "Content-Type": "application/json"},
        )
    assert error_of(response, 400)["code"] == "invalid_request"


@pytest.mark.parametrize(
    "query", ["limit=abc", "limit=-1", "status=asleep", "limit=1.5", "limit=0"]
)
async def test_a_query_of_the_wrong_type_is_an_invalid_request(query: str) -> None:
    async with serve() as http:
        response = await http.get(f"/v1/workers?{query}", headers=AUTH)
    assert error_of(response, 400)["code"] == "invalid_request"


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/nope", "/v2/workers", "/v1/workers/ada/x"])
async def test_an_unknown_route_is_not_found_in_the_envelope(path: str) -> None:
    async with serve() as http:
        response = await http.get(path, headers=AUTH)
    assert error_of(response, 404)["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v1/workers/ada"),
        ("PUT", "/v1/workers"),
        ("GET", "/v1/workers/ada/input"),
        ("POST", "/v1/health"),
        ("DELETE", f"/v1/config-bundles/{DIGEST}"),
    ],
)
async def test_a_wrong_method_is_not_allowed_in_the_envelope(method: str, path: str) -> None:
    async with serve() as http:
        response = await http.request(method, path, headers=AUTH)
    assert error_of(response, 405)["code"] == "method_not_allowed"


# -- bugs ------------------------------------------------------------------------


class BrokenTranscriptStore:
    """A memory store whose transcript reads fail with a bug, not with a store error."""

    def __init__(self) -> None:
        self._inner = MemoryStore()

    @property
    def kind(self) -> str:
        return self._inner.kind

    async def open(self, runtime: RuntimeRecord, *, id_requested: bool = False) -> StoredState:
        return await self._inner.open(runtime, id_requested=id_requested)

    async def close(self) -> None:
        await self._inner.close()

    async def save_worker(self, record: WorkerRecord) -> None:
        await self._inner.save_worker(record)

    def append_events(self, worker_id: str, events: Sequence[Event]) -> Awaitable[None]:
        return self._inner.append_events(worker_id, events)

    def append_transcript(
        self, worker_id: str, entries: Sequence[TranscriptEntry]
    ) -> Awaitable[None]:
        return self._inner.append_transcript(worker_id, entries)

    async def read_events(self, worker_id: str, after: int, limit: int) -> EventSlice:
        return await self._inner.read_events(worker_id, after, limit)

    async def save_bundle(self, digest: str, content: bytes) -> None:
        await self._inner.save_bundle(digest, content)

    async def read_transcript(
        self, worker_id: str, start: int, limit: int
    ) -> tuple[TranscriptEntry, ...]:
        raise RuntimeError("kaboom in /srv/secret/path")


async def test_an_unexpected_exception_is_internal_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serve(BrokenTranscriptStore()) as http:
        with caplog.at_level(logging.ERROR, logger="yoi.server"):
            response = await http.get("/v1/workers/ada/transcript", headers=AUTH)
        after = await http.get("/v1/workers/ada", headers=AUTH)
    error = error_of(response, 500)
    assert error["code"] == "internal"
    assert error["details"] == {}
    for secret in ("Traceback", "RuntimeError", "kaboom", "/srv/secret", 'File "'):
        assert secret not in response.text
    assert after.status_code == 200
    logged = [r for r in caplog.records if r.name == "yoi.server"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "/v1/workers/ada/transcript" in logged[0].getMessage()
