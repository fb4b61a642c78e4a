"""Who may reach the backend: its own origin, loopback names, JSON bodies, and its token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.server.asgi import error_of
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from yoi.backend import COMPANION_ID, Backend, ModelLabel, create_backend_app
from yoi.backend.admission import COOKIE
from yoi.backend.profiles import workspace_bundle
from yoi.runtime import Runtime
from yoi.server.listen import Listener, listening
from yoi.testing import ScriptedModel
from yoi.workspace import Workspace

TOKEN = "backend-token-for-admission-tests"
BASE = "http://127.0.0.1:8787"
FOREIGN = "http://evil.example"
DEADLINE = 10.0
STREAM = f"/api/runtimes/backend-internal/workers/{COMPANION_ID}/events/ws"


@asynccontextmanager
async def backend_app(tmp_path: Path, token: str | None = None) -> AsyncIterator[FastAPI]:
    """The app of an opened backend whose embedded runtime plays an empty script."""
    backend = Backend(
        runtime=Runtime(runtime_id="backend-internal", model=ScriptedModel([])),
        bundle=workspace_bundle(Workspace(tmp_path)),
        model=ModelLabel("scripted:test", offline=True),
    )
    async with backend:
        yield create_backend_app(backend, token=token)


@asynccontextmanager
async def client(
    tmp_path: Path, token: str | None = None, base_url: str = BASE
) -> AsyncIterator[httpx.AsyncClient]:
    async with backend_app(tmp_path, token) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            yield http


@asynccontextmanager
async def served(tmp_path: Path, token: str | None = None) -> AsyncIterator[Listener]:
    async with backend_app(tmp_path, token) as app, listening(app, "127.0.0.1", 0) as listener:
        yield listener


async def refused_upgrade(url: str, **options: object) -> tuple[int, str]:
    """The status and error code of a refused WebSocket upgrade."""
    with pytest.raises(InvalidStatus) as refused:
        async with asyncio.timeout(DEADLINE):
            await connect(url, **options)  # type: ignore[arg-type]
    response = refused.value.response
    code: str = json.loads(bytes(response.body or b""))["error"]["code"]
    return response.status_code, code


async def first_frame(url: str, **options: object) -> dict[str, object]:
    async with asyncio.timeout(DEADLINE), connect(url, **options) as ws:  # type: ignore[arg-type]
        frame: dict[str, object] = json.loads(await ws.recv(decode=True))
    return frame


def event_type(frame: dict[str, object]) -> object:
    body = frame.get("event")
    return body.get("type") if isinstance(body, dict) else None


# -- Origin --------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [FOREIGN, "http://127.0.0.1:9999", "http://localhost:8787", "null", "file://"],
)
@pytest.mark.parametrize(("method", "path"), [("GET", "/api/runtimes"), ("POST", "/api/login")])
async def test_a_foreign_origin_is_forbidden(
    tmp_path: Path, origin: str, method: str, path: str
) -> None:
    async with client(tmp_path) as http:
        response = await http.request(method, path, json={}, headers={"Origin": origin})
    assert error_of(response, 403)["code"] == "forbidden_origin"


async def test_the_backends_own_origin_is_allowed(tmp_path: Path) -> None:
    async with client(tmp_path) as http:
        listed = await http.get("/api/runtimes", headers={"Origin": BASE})
        created = await http.post(
            "/api/runtimes/backend-internal/workers",
            json={"worker_id": "ada"},
            headers={"Origin": BASE},
        )
    assert listed.status_code == 200
    assert [r["runtime_id"] for r in listed.json()["runtimes"]] == ["backend-internal"]
    assert created.status_code == 201, created.text


async def test_no_origin_is_allowed(tmp_path: Path) -> None:
    async with client(tmp_path) as http:
        assert (await http.get("/api/workspace")).status_code == 200


async def test_a_ws_upgrade_from_a_foreign_origin_is_forbidden(tmp_path: Path) -> None:
    async with served(tmp_path) as listener:
        url = f"ws://127.0.0.1:{listener.port}{STREAM}"
        assert await refused_upgrade(url, origin=Origin(FOREIGN)) == (403, "forbidden_origin")
        own = Origin(f"http://127.0.0.1:{listener.port}")
        frame = await first_frame(url, origin=own)
    assert frame["kind"] == "event"
    assert event_type(frame) == "snapshot"


# -- Host (DNS rebinding) ----------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8787", "localhost:8787", "LOCALHOST", "[::1]:8787", "127.0.0.1"]
)
async def test_a_loopback_host_is_answered_without_a_token(tmp_path: Path, host: str) -> None:
    async with client(tmp_path) as http:
        response = await http.get("/api/runtimes", headers={"Host": host})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8787", "127.0.0.1.evil.example", "10.0.0.7:8787", ""]
)
async def test_a_non_loopback_host_is_forbidden_without_a_token(tmp_path: Path, host: str) -> None:
    async with client(tmp_path) as http:
        response = await http.get("/api/runtimes", headers={"Host": host})
        health = await http.get("/api/health", headers={"Host": host})
    assert error_of(response, 403)["code"] == "forbidden_host"
    assert error_of(health, 403)["code"] == "forbidden_host"


async def test_with_a_token_any_host_is_answered_to_a_bearer(tmp_path: Path) -> None:
    async with client(tmp_path, TOKEN, base_url="http://backend.lan:8787") as http:
        response = await http.get("/api/runtimes", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


# -- content type ----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "json"],
)
async def test_a_post_without_json_is_unsupported(tmp_path: Path, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    async with client(tmp_path) as http:
        for path in ("/api/companion/messages", "/api/runtimes/backend-internal/workers"):
            response = await http.post(path, content=b'{"content": "hi"}', headers=headers)
            assert error_of(response, 415)["code"] == "unsupported_media_type"
        listing = (await http.get("/api/workers")).json()
        companion = (await http.get("/api/companion")).json()["companion"]
    assert [w["worker_id"] for w in listing["workers"]] == [COMPANION_ID]  # nothing got through
    assert companion["status"] == "idle"


async def test_json_with_parameters_is_accepted(tmp_path: Path) -> None:
    async with client(tmp_path) as http:
        response = await http.post(
            "/api/runtimes/backend-internal/workers",
            content=b'{"worker_id": "ada"}',
            headers={"Content-Type": "Application/JSON; charset=utf-8"},
        )
    assert response.status_code == 201, response.text
    assert response.json()["worker"]["worker_id"] == "ada"


# -- the token -------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}", "Bearer "],
)
async def test_with_a_token_a_missing_or_wrong_one_is_unauthorized(
    tmp_path: Path, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with client(tmp_path, TOKEN) as http:
        for path in ("/api/runtimes", "/api/workspace", "/api/companion"):
            response = await http.get(path, headers=headers)
            assert error_of(response, 401)["code"] == "unauthorized"
            assert TOKEN not in response.text
        cookie = await http.get("/api/runtimes", headers={"Cookie": f"{COOKIE}=wrong"})
    assert error_of(cookie, 401)["code"] == "unauthorized"


async def test_a_bearer_token_is_admitted(tmp_path: Path) -> None:
    async with client(tmp_path, TOKEN) as http:
        response = await http.get("/api/runtimes", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200


async def test_health_and_login_are_open(tmp_path: Path) -> None:
    async with client(tmp_path, TOKEN) as http:
        health = await http.get("/api/health")
        wrong = await http.post("/api/login", json={"token": "not-the-token"})
    assert health.json() == {"status": "ok"}
    assert error_of(wrong, 401)["code"] == "unauthorized"
    assert "set-cookie" not in wrong.headers


async def test_login_sets_a_strict_http_only_cookie_that_admits(tmp_path: Path) -> None:
    async with client(tmp_path, TOKEN) as http:
        login = await http.post("/api/login", json={"token": TOKEN})
        assert login.status_code == 204
        cookie = login.headers["set-cookie"]
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert cookie.startswith(f"{COOKIE}=")
        assert {"httponly", "samesite", "path"} <= attributes
        assert "samesite=strict" in cookie.lower()
        http.cookies.clear()
        response = await http.get("/api/runtimes", headers={"Cookie": f"{COOKIE}={TOKEN}"})
        other = await http.get("/api/runtimes", headers={"Cookie": f"a=b; {COOKIE}={TOKEN}"})
    assert response.status_code == 200
    assert other.status_code == 200


async def test_login_without_a_token_on_the_backend_accepts_any(tmp_path: Path) -> None:
    async with client(tmp_path) as http:
        login = await http.post("/api/login", json={"token": "anything"})
    assert login.status_code == 204


async def test_a_ws_upgrade_needs_the_token_and_takes_the_cookie(tmp_path: Path) -> None:
    async with served(tmp_path, TOKEN) as listener:
        url = f"ws://127.0.0.1:{listener.port}{STREAM}"
        assert await refused_upgrade(url) == (401, "unauthorized")
        wrong = {"Cookie": f"{COOKIE}=wrong"}
        assert await refused_upgrade(url, additional_headers=wrong) == (401, "unauthorized")
        by_cookie = await first_frame(url, additional_headers={"Cookie": f"{COOKIE}={TOKEN}"})
        by_bearer = await first_frame(url, additional_headers={"Authorization": f"Bearer {TOKEN}"})
    for frame in (by_cookie, by_bearer):
        assert frame["kind"] == "event"
        assert frame["worker_id"] == COMPANION_ID
