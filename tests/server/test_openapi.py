"""The runtime's ``/openapi.json``: every route of ARCHITECTURE §4.2, errors and bodies described.

The document is fetched the way a client would, through the app with the
token; the WebSocket route, which OpenAPI cannot describe, is reached by
connecting to a served app.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from yoi.runtime import Runtime
from yoi.server.app import create_app
from yoi.server.envelope import STATUS
from yoi.server.listen import listening

TOKEN = "openapi-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STREAM = "/v1/workers/{worker_id}/events/ws"
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}

ROUTES = {
    "/v1/health": {"get": "200"},
    "/v1/runtime": {"get": "200"},
    "/v1/workers": {"get": "200", "post": "201"},
    "/v1/workers/{worker_id}": {"get": "200"},
    "/v1/workers/{worker_id}/input": {"post": "202"},
    "/v1/workers/{worker_id}/stop": {"post": "200"},
    "/v1/workers/{worker_id}/cancel": {"post": "200"},
    "/v1/workers/{worker_id}/transcript": {"get": "200"},
    "/v1/workers/{worker_id}/events": {"get": "200"},
    "/v1/workers/{worker_id}/approvals/{approval_id}": {"post": "200"},
    "/v1/config-bundles": {"get": "200"},
    "/v1/config-bundles/{digest}": {"get": "200", "put": "200"},
    "/v1/workdirs": {"get": "200", "post": "201"},
    "/v1/workdirs/{workdir_id}": {"get": "200", "delete": "200"},
}
"""Each route of the command API, its methods and the status of their success."""

SERVER_PACKAGES = ["fastapi", "starlette", "uvicorn", "websockets", "httpx", "pydantic"]


@asynccontextmanager
async def runtime_api() -> AsyncIterator[httpx.AsyncClient]:
    async with Runtime() as runtime:
        transport = httpx.ASGITransport(app=create_app(runtime, token=TOKEN))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://runtime", headers=AUTH
        ) as client:
            yield client


async def fetch_document() -> dict[str, Any]:
    async with runtime_api() as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/"), ref
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def refs_in(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def reachable(document: dict[str, Any], root: object) -> dict[str, dict[str, Any]]:
    """Every component schema ``root`` refers to, directly or through others."""
    found: dict[str, dict[str, Any]] = {}
    pending = list(refs_in(root))
    while pending:
        ref = pending.pop()
        if ref not in found:
            found[ref] = resolve(document, ref)
            pending.extend(refs_in(found[ref]))
    return found


async def test_the_document_lists_every_route_of_the_command_api_with_its_methods() -> None:
    document = await fetch_document()
    listed = {
        path: {
            method: [code for code in op["responses"] if code[0] == "2"]
            for method, op in item.items()
        }
        for path, item in document["paths"].items()
    }
    expected = {
        path: {m: [code] for m, code in methods.items()} for path, methods in ROUTES.items()
    }
    assert listed == expected


async def test_the_observation_stream_is_served_outside_the_document() -> None:
    async with Runtime() as runtime:
        app = create_app(runtime, token=TOKEN)
        worker = await runtime.create_worker()
        assert STREAM not in app.openapi()["paths"]
        async with listening(app, "127.0.0.1", 0) as listener, asyncio.timeout(10):
            url = listener.url.replace("http", "ws", 1) + STREAM.format(worker_id=worker.worker_id)
            async with connect(url, additional_headers=AUTH) as stream:
                first = json.loads(await stream.recv())
    assert first["kind"] == "event"
    assert first["event"]["type"] == "snapshot"
    assert first["worker_id"] == worker.worker_id


async def test_every_operation_documents_the_error_envelope_for_its_failures() -> None:
    document = await fetch_document()
    undocumented = []
    for path, method, operation in operations(document):
        failures = {code for code in operation["responses"] if code[0] in "45"}
        assert {"400", "403", "413", "500"} <= failures, (method, path)
        for code in sorted(failures):
            content = operation["responses"][code].get("content", {}).get("application/json", {})
            if content.get("schema") != ERROR_BODY:
                undocumented.append(f"{method.upper()} {path} {code}")
    assert undocumented == []


async def test_the_error_body_is_the_envelope_every_failure_carries() -> None:
    document = await fetch_document()
    body = resolve(document, ERROR_BODY["$ref"])
    assert body["required"] == ["error"]
    assert body["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    detail = resolve(document, body["properties"]["error"]["$ref"])
    assert sorted(detail["required"]) == ["code", "details", "message"]
    assert detail["properties"]["code"]["type"] == "string"
    assert detail["properties"]["message"]["type"] == "string"
    assert detail["properties"]["details"]["type"] == "object"


async def test_request_bodies_forbid_fields_they_do_not_define() -> None:
    document = await fetch_document()
    described: dict[str, dict[str, Any]] = {}
    for _, _, operation in operations(document):
        if "requestBody" in operation:
            described |= reachable(document, operation["requestBody"])
    names = {ref.rsplit("/", 1)[1] for ref in described}
    assert {"CreateBody", "InputBody", "StopBody", "BundlePutBody", "WorkdirCreateBody"} <= names
    assert {"TaskIntentBody", "CapabilityBody", "BundleProfileBody"} <= names
    open_objects = [
        ref for ref, found in described.items() if found.get("additionalProperties") is not False
    ]
    assert open_objects == []


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/v1/workers", {"bogus": 1}, "bogus"),
        ("POST", "/v1/workers", {"intent": {"kind": "task", "objective": "o", "x": 1}}, "x"),
        ("POST", "/v1/workers/w-any/input", {"content": "hi", "bogus": 1}, "bogus"),
        ("POST", "/v1/workers/w-any/stop", {"reason": "done", "bogus": 1}, "bogus"),
        ("PUT", f"/v1/config-bundles/{'0' * 64}", {"revision": "r", "bogus": 1}, "bogus"),
    ],
)
async def test_a_body_with_an_unknown_field_is_an_invalid_request(
    method: str, path: str, body: dict[str, object], field: str
) -> None:
    async with runtime_api() as client:
        response = await client.request(method, path, json=body)
    assert response.status_code == STATUS["invalid_request"]
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in [p["field"].rsplit(".", 1)[-1] for p in error["details"]["problems"]]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_the_interactive_docs_are_not_served(path: str) -> None:
    async with runtime_api() as client:
        response = await client.get(path)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": f"no route {path}", "details": {}}
    }


PROGRAM = textwrap.dedent(
    """
    import importlib, importlib.util, sys

    watched = set(sys.argv[2].split(","))
    print(sorted(name for name in watched if importlib.util.find_spec(name) is None))
    importlib.import_module(sys.argv[1])
    print(sorted({name for name in sys.modules if name.split(".")[0] in watched}))
    """
)


@pytest.mark.parametrize("module", ["yoi.runtime", "yoi.cli"])
async def test_importing_the_core_loads_no_server_package(module: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROGRAM,
        module,
        ",".join(SERVER_PACKAGES),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    missing, loaded = out.decode().splitlines()
    assert missing == "[]", "the check means nothing unless the server packages are installed"
    assert loaded == "[]"
