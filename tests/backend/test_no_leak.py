"""Nothing a browser receives names a runtime's address or token, a folder, or a provider key.

One scripted conversation goes through every ``/api`` route (the tickets
ones over the workspace's store, with an unreadable ticket and one linked
outside the store) and the observation stream of the backend ``yoi serve``
builds (``serve_backend``, in-process, on a loopback socket): two healthy runtimes (the embedded one
with an OpenAI model holding a planted key, and a remote one behind a
token), a remote one that refuses the backend's token and one that is down.
Every response body and header, every frame and close reason is kept and
scanned for the secrets the process holds.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from yoi.backend import Backend, ModelLabel, create_backend_app
from yoi.backend.process import ServeOptions, serve_backend
from yoi.backend.profiles import workspace_bundle
from yoi.errors import ProviderAuthError
from yoi.providers.script import Turn
from yoi.runtime import FsStore, Runtime
from yoi.server import create_app
from yoi.server.listen import listening
from yoi.testing import Fail, FakeOpenAIServer, Stall, Text
from yoi.workspace import Workspace

DEADLINE = 10.0
EMBEDDED = "backend-internal"
KEY = "sk-planted-provider-key-0d6b1f"
FAR_TOKEN = "far-runtime-token-5e2a9c"
LOCKED_TOKEN = "locked-runtime-token-8b3d47"
WRONG_TOKEN = "locked-but-wrong-token-1f7e"

Frame = dict[str, Any]


class Record:
    """Everything the backend sent: bodies, headers, frames; and which routes were used."""

    def __init__(self, routes: list[tuple[str, str, Any]]) -> None:
        self.texts: list[tuple[str, str]] = []
        self._routes = routes
        self.used: set[tuple[str, str]] = set()

    def keep(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def route(self, method: str, path: str) -> None:
        for route_method, template, pattern in self._routes:
            if route_method == method and pattern.match(path):
                self.used.add((method, template))

    async def response(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        self.route(request.method, request.url.path)
        where = f"{request.method} {request.url.path} -> {response.status_code}"
        self.keep(where, response.text)
        self.keep(where, json.dumps(dict(response.headers)))

    def leaks(self, secrets: dict[str, str]) -> list[str]:
        return [
            f"{name} in {where}: {text[:300]}"
            for where, text in self.texts
            for name, secret in secrets.items()
            if secret in text
        ]


def api_routes(workspace: Workspace) -> list[tuple[str, str, Any]]:
    """(method, template, regex) of every /api route of the backend app."""
    backend = Backend(
        runtime=Runtime(), bundle=workspace_bundle(workspace), model=ModelLabel("x", True)
    )
    found: list[tuple[str, str, Any]] = []
    for route in _flat(create_backend_app(backend).routes):
        if isinstance(route, APIRoute) and route.path.startswith("/api"):
            found += [(method, route.path, route.path_regex) for method in route.methods or ()]
        elif isinstance(route, APIWebSocketRoute):
            found.append(("WS", route.path, route.path_regex))
    assert len(found) > 10, found
    return found


def _flat(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The app's routes, with included routers opened up (newer FastAPI keeps them nested)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is None:
            yield route
        else:
            yield from _flat(inner.routes)


class Client:
    """The browser: REST through httpx, streams through websockets, everything recorded."""

    def __init__(self, base: str, http: httpx.AsyncClient, record: Record) -> None:
        self.base = base
        self.http = http
        self.record = record

    def _url(self, runtime_id: str, worker_id: str, cursor: str | None) -> str:
        path = f"/api/runtimes/{runtime_id}/workers/{worker_id}/events/ws"
        self.record.route("WS", path)
        url = self.base.replace("http", "ws", 1) + path
        return url if cursor is None else f"{url}?cursor={quote(cursor, safe='')}"

    @asynccontextmanager
    async def watch(
        self, runtime_id: str, worker_id: str, cursor: str | None = None
    ) -> AsyncIterator[Stream]:
        url = self._url(runtime_id, worker_id, cursor)
        async with connect(url, open_timeout=DEADLINE) as connection:
            yield Stream(connection, self.record, f"WS {runtime_id}/{worker_id}")

    @asynccontextmanager
    async def watch_tickets(self) -> AsyncIterator[Stream]:
        path = "/api/tickets/events/ws"
        self.record.route("WS", path)
        url = self.base.replace("http", "ws", 1) + path
        async with connect(url, open_timeout=DEADLINE) as connection:
            yield Stream(connection, self.record, "WS tickets")

    async def refused(self, runtime_id: str, worker_id: str) -> tuple[int, str]:
        return await self._refused(
            self._url(runtime_id, worker_id, None), f"{runtime_id}/{worker_id}"
        )

    async def refused_orchestrator_events(self) -> tuple[int, str]:
        path = "/api/orchestrator/events/ws"
        self.record.route("WS", path)
        return await self._refused(self.base.replace("http", "ws", 1) + path, "orchestrator")

    async def _refused(self, url: str, name: str) -> tuple[int, str]:
        try:
            async with asyncio.timeout(DEADLINE):
                connection = await connect(url, open_timeout=DEADLINE)
        except InvalidStatus as error:
            body = bytes(error.response.body or b"").decode()
            self.record.keep(f"WS refusal {name}", body)
            code: str = json.loads(body)["error"]["code"]
            return error.response.status_code, code
        await connection.close()
        raise AssertionError(f"the upgrade to {name} was accepted")

    async def expect(self, status: int, method: str, path: str, **kwargs: Any) -> Frame:
        response = await self.http.request(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.text}"
        body: Frame = response.json() if response.content else {}
        return body

    async def error(self, status: int, method: str, path: str, **kwargs: Any) -> str:
        code: str = (await self.expect(status, method, path, **kwargs))["error"]["code"]
        return code


class Stream:
    def __init__(self, connection: ClientConnection, record: Record, where: str) -> None:
        self.connection = connection
        self.record = record
        self.where = where

    async def frame(self) -> Frame:
        async with asyncio.timeout(DEADLINE):
            text = await self.connection.recv(decode=True)
        self.record.keep(self.where, text)
        frame: Frame = json.loads(text)
        return frame

    async def until(self, done: Callable[[Frame], bool]) -> list[Frame]:
        seen = [await self.frame()]
        while not done(seen[-1]):
            seen.append(await self.frame())
        return seen

    async def closed(self) -> int | None:
        try:
            async with asyncio.timeout(DEADLINE):
                await self.frame()
        except ConnectionClosed as closed:
            reason = "" if closed.rcvd is None else closed.rcvd.reason
            self.record.keep(f"{self.where} close", reason)
            return None if closed.rcvd is None else closed.rcvd.code
        raise AssertionError("the stream went on")


def of_type(event_type: str) -> Callable[[Frame], bool]:
    return lambda frame: frame["kind"] == "event" and frame["event"]["type"] == event_type


def text_of(frames: list[Frame]) -> str:
    return "".join(f["event"]["text"] for f in frames if of_type("text_delta")(f))


class Announced(io.StringIO):
    """What ``serve_backend`` prints; ``ready`` once it says where it listens."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = asyncio.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "listening on" in self.getvalue():
            self.ready.set()
        return written

    @property
    def url(self) -> str:
        return self.getvalue().split("listening on ", 1)[1].strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(workspace: Workspace, far: str, locked: str, gone: str) -> None:
    workspace.dot.mkdir(parents=True)
    entries = [("far", far, "FAR_TOKEN"), ("locked", locked, "LOCKED_TOKEN"), ("gone", gone, None)]
    text = ""
    for runtime_id, url, token_env in entries:
        text += f'[[runtimes]]\nid = "{runtime_id}"\nurl = "{url}"\ntimeout = 5\n'
        text += "" if token_env is None else f'token_env = "{token_env}"\n'
    workspace.config.write_text(text, encoding="utf-8")


TURNS: list[Turn] = [
    [Text("Here ", "it is.")],
    [Text("thinking it over"), Stall()],
    [Fail(ProviderAuthError("Incorrect API key provided: " + KEY))],
    [Text("Hello from ", "the companion.")],
]


async def test_no_response_frame_or_error_names_an_address_token_folder_or_key(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tmp_path / "ws")
    record = Record(api_routes(workspace))
    stop = asyncio.Event()
    out = Announced()
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeOpenAIServer(TURNS))
        far = await stack.enter_async_context(
            Runtime(runtime_id="far", store=FsStore(tmp_path / "far-state"))
        )
        far_app = create_app(far, token=FAR_TOKEN)
        far_url = (await stack.enter_async_context(listening(far_app, "127.0.0.1", 0))).url
        locked = await stack.enter_async_context(Runtime(runtime_id="locked"))
        locked_app = create_app(locked, token=LOCKED_TOKEN)
        locked_url = (await stack.enter_async_context(listening(locked_app, "127.0.0.1", 0))).url
        gone_url = f"http://127.0.0.1:{free_port()}"
        write_config(workspace, far_url, locked_url, gone_url)
        env = {
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": fake.base_url,
            "FAR_TOKEN": FAR_TOKEN,
            "LOCKED_TOKEN": WRONG_TOKEN,
        }
        options = ServeOptions(workspace, listen="127.0.0.1:0", model="openai:gpt-test")
        served = asyncio.create_task(serve_backend(options, env, out, stop=stop))
        try:
            async with asyncio.timeout(DEADLINE):
                await out.ready.wait()
            hooks = {"response": [record.response]}
            async with httpx.AsyncClient(base_url=out.url, event_hooks=hooks) as http:
                await converse(Client(out.url, http, record), workspace)
        finally:
            stop.set()
            await served
        fake.assert_consumed()

    record.keep("stdout", out.getvalue())
    secrets = {
        "the remote URL": far_url,
        "the remote host:port": urlsplit(far_url).netloc,
        "the remote token": FAR_TOKEN,
        "the locked URL": locked_url,
        "the locked host:port": urlsplit(locked_url).netloc,
        "the wrong token": WRONG_TOKEN,
        "the down URL": gone_url,
        "the down host:port": urlsplit(gone_url).netloc,
        "the provider key": KEY,
        "the provider endpoint": fake.base_url,
        "the provider host:port": urlsplit(fake.base_url).netloc,
        "the temporary folder": str(tmp_path),
        "the workspace folder": str(workspace.root),
    }
    assert record.leaks(secrets) == []
    unused = {(method, path) for method, path, _ in api_routes(workspace)} - record.used
    assert unused == set(), f"routes the conversation never used: {sorted(unused)}"
    assert len(record.texts) > 100


async def converse(client: Client, workspace: Workspace) -> None:
    """The scripted conversation; it checks enough on the way that the scan means something."""
    await looks_around(client)
    await keeps_tickets(client)
    await meets_broken_tickets(client, workspace)
    await asks_the_orchestrator(client)
    await works_on_the_embedded_runtime(client)
    await works_on_the_remote_runtime(client)
    await talks_to_the_companion(client)
    await makes_mistakes(client)
    await meets_runtimes_it_cannot_use(client)


async def looks_around(client: Client) -> None:
    assert await client.expect(200, "GET", "/api/health") == {"status": "ok"}
    await client.expect(204, "POST", "/api/login", json={"token": "any-token-at-all"})
    workspace = (await client.expect(200, "GET", "/api/workspace"))["workspace"]
    assert (workspace["name"], workspace["model"]) == ("ws", "openai:gpt-test")
    runtimes = (await client.expect(200, "GET", "/api/runtimes"))["runtimes"]
    assert [(r["runtime_id"], r["status"]) for r in runtimes] == [
        (EMBEDDED, "available"),
        ("local", "available"),
        ("far", "available"),
        ("locked", "unavailable"),
        ("gone", "unavailable"),
    ]
    for runtime_id in (EMBEDDED, "far", "locked", "gone"):
        await client.expect(200, "GET", f"/api/runtimes/{runtime_id}")


async def keeps_tickets(client: Client) -> None:
    async with client.watch_tickets() as changes:
        assert (await changes.frame())["ticket_ids"] is None
        created = await client.expect(201, "POST", "/api/tickets", json={"title": "Leak check"})
        first = created["ticket"]["id"]
        await changes.until(lambda frame: first in (frame["ticket_ids"] or [first]))
    other = {"title": "Its dependency", "body": "first", "author": "mio"}
    second = (await client.expect(201, "POST", "/api/tickets", json=other))["ticket"]["id"]
    base = f"/api/tickets/{first}"
    await client.expect(201, "POST", f"{base}/comments", json={"body": "a plan", "role": "plan"})
    await client.expect(201, "POST", f"{base}/review", json={"status": "approve", "body": "ok"})
    relation = {"kind": "depends_on", "target": second}
    await client.expect(201, "POST", f"{base}/relations", json=relation)
    await client.expect(200, "POST", f"{base}/ready", json={"from": "planning"})
    assert await client.error(409, "POST", f"{base}/queue", json={}) == "ticket_blocked"
    await client.expect(200, "POST", f"{base}/transitions", json={"to": "planning"})
    await client.expect(200, "POST", f"{base}/close", json={"resolution": "not needed"})
    listing = (await client.expect(200, "GET", "/api/tickets", params={"q": "leak"}))["tickets"]
    assert [item["id"] for item in listing["items"]] == [first]
    assert (await client.expect(200, "GET", base))["ticket"]["meta"]["state"] == "closed"
    rendered = await client.expect(200, "GET", base, params={"render": "html"})
    assert rendered["ticket"]["html"]["resolution"] == "<p>not needed</p>\n"
    assert (await client.expect(200, "GET", "/api/tickets/ready"))["ready"]["ready"] == []
    await client.expect(200, "GET", "/api/board", params={"limit": 5})


async def asks_the_orchestrator(client: Client) -> None:
    """The workspace is no git repository: the orchestrator is off, and says why."""
    status = await client.expect(200, "GET", "/api/orchestrator")
    assert [problem["code"] for problem in status["problems"]] == ["not_a_repository"]
    body = {"title": "Explain me"}
    ticket = (await client.expect(201, "POST", "/api/tickets", json=body))["ticket"]["id"]
    explained = await client.expect(200, "GET", f"/api/tickets/{ticket}/explain")
    assert explained["state"] == "planning"
    for verb in ("stop", "retry"):
        path = f"/api/orchestrator/runs/{ticket}/{verb}"
        assert await client.error(501, "POST", path, json={}) == "unsupported_operation"
    gate = {"gate": "plan", "decision": "approve"}
    path = f"/api/orchestrator/runs/{ticket}/gate"
    assert await client.error(501, "POST", path, json=gate) == "unsupported_operation"
    assert await client.refused_orchestrator_events() == (501, "unsupported_operation")


async def meets_broken_tickets(client: Client, workspace: Workspace) -> None:
    """Tickets whose errors could name the store's folder: unreadable, or a link outside."""
    store = workspace.dot / "tickets"
    garbled, linked, unknown = "00001KVZBCQH1", "00001KVZBCQH2", "00001KVZBCQH3"
    (store / garbled / "artifacts").mkdir(parents=True)
    (store / garbled / "item.md").write_bytes(b"---\ntitle: '\xff\xfe'\n---\n")
    outside = workspace.root / "outside"
    outside.mkdir()
    (outside / "item.md").write_text("---\ntitle: x\nstate: planning\n---\n", encoding="utf-8")
    (store / linked).symlink_to(outside, target_is_directory=True)
    for ticket_id in (garbled, linked):
        path = f"/api/tickets/{ticket_id}"
        assert await client.error(422, "GET", path) == "ticket_unreadable"
        comment = {"body": "x"}
        assert await client.error(422, "POST", f"{path}/comments", json=comment) == (
            "ticket_unreadable"
        )
    listing = (await client.expect(200, "GET", "/api/tickets"))["tickets"]
    assert [record["id"] for record in listing["invalid_records"]] == [garbled, linked]
    assert await client.error(404, "GET", f"/api/tickets/{unknown}") == "ticket_not_found"
    for hostile in ("..%2F..%2Fetc", "00001KVZBCQH%2F..", "x" * 300):
        response = await client.http.get(f"/api/tickets/{hostile}")
        assert response.status_code in (400, 404), response.text
    assert (outside / "item.md").read_text(encoding="utf-8").endswith("---\n")
    assert not (outside / "thread.md").exists()


async def works_on_the_embedded_runtime(client: Client) -> None:
    base = f"/api/runtimes/{EMBEDDED}/workers"
    body = {"worker_id": "scribe", "display_name": "Scribe", "profile": "default"}
    await client.expect(201, "POST", base, json=body)
    await client.expect(200, "GET", f"{base}/scribe")
    usage = (await client.expect(200, "GET", f"{base}/scribe/usage"))["usage"]
    assert set(usage) == {"input_tokens", "output_tokens", "cached_tokens", "cost_usd"}
    async with client.watch(EMBEDDED, "scribe") as stream:
        await stream.frame()
        await client.expect(202, "POST", f"{base}/scribe/input", json={"content": "write it"})
        assert text_of(await stream.until(of_type("run_finished"))) == "Here it is."

        await client.expect(202, "POST", f"{base}/scribe/input", json={"content": "slowly"})
        await stream.until(of_type("text_delta"))
        busy = await client.error(409, "POST", f"{base}/scribe/input", json={"content": "more"})
        assert busy == "worker_busy"
        await client.expect(200, "POST", f"{base}/scribe/cancel", json={})
        ended = (await stream.until(of_type("run_finished")))[-1]["event"]
        assert ended["result"] == "cancelled"

        await client.expect(202, "POST", f"{base}/scribe/input", json={"content": "fail"})
        failed = (await stream.until(of_type("run_finished")))[-1]["event"]
        assert (failed["result"], failed["error"]["code"]) == ("failed", "provider_auth")
    page = await client.expect(200, "GET", f"{base}/scribe/transcript", params={"limit": 50})
    assert page["transcript"]["items"][1]["content"] == "Here it is."
    await client.expect(200, "POST", f"{base}/scribe/stop", json={"reason": "done"})
    stopped = await client.error(409, "POST", f"{base}/scribe/input", json={"content": "hi"})
    assert stopped == "worker_stopped"


async def works_on_the_remote_runtime(client: Client) -> None:
    base = "/api/runtimes/far/workers"
    await client.expect(201, "POST", base, json={"worker_id": "w-far", "profile": "default"})
    await client.expect(200, "GET", f"{base}/w-far")
    async with client.watch("far", "w-far") as stream:
        first = await stream.frame()
        await client.expect(202, "POST", f"{base}/w-far/input", json={"content": "hello far"})
        frames = await stream.until(of_type("run_finished"))
    assert text_of(frames).endswith("You said: hello far")
    async with client.watch("far", "w-far", first["cursor"]) as resumed:
        again = await resumed.until(of_type("run_finished"))
    assert of_type("snapshot")(again[0])
    assert [f["seq"] for f in again[1:]] == [f["seq"] for f in frames]
    async with client.watch("far", "w-far", "not-a-cursor") as refused:
        assert (await refused.frame())["code"] == "invalid_cursor"
        assert await refused.closed() == 4400
    await client.expect(200, "GET", f"{base}/w-far/transcript")
    answer = {"decision": "allow"}
    missing = await client.error(404, "POST", f"{base}/w-far/approvals/ap-none", json=answer)
    assert missing == "approval_not_found"
    await client.expect(200, "POST", f"{base}/w-far/cancel", json={})
    await client.expect(200, "POST", f"{base}/w-far/stop", json={})
    listing = await client.expect(200, "GET", "/api/workers", params={"limit": 2})
    assert [d["runtime_id"] for d in listing["diagnostics"]] == ["locked", "gone"]
    after = {"limit": 2, "after": listing["next_after"]}
    await client.expect(200, "GET", "/api/workers", params=after)
    await client.expect(200, "GET", "/api/workers", params={"runtime_id": "far"})


async def talks_to_the_companion(client: Client) -> None:
    companion = (await client.expect(200, "GET", "/api/companion"))["companion"]
    assert (companion["model"], companion["offline"]) == ("openai:gpt-test", False)
    async with client.watch(EMBEDDED, "companion") as stream:
        await stream.frame()
        await client.expect(202, "POST", "/api/companion/messages", json={"content": "hi"})
        assert text_of(await stream.until(of_type("run_finished"))) == "Hello from the companion."


async def makes_mistakes(client: Client) -> None:
    nowhere = "/api/runtimes/nowhere"
    assert await client.error(404, "GET", nowhere) == "runtime_not_found"
    assert await client.error(404, "GET", f"{nowhere}/workers/w-x") == "runtime_not_found"
    assert await client.error(404, "POST", f"{nowhere}/workers", json={}) == "runtime_not_found"
    assert await client.refused("nowhere", "w-x") == (404, "runtime_not_found")
    for runtime_id in (EMBEDDED, "far"):
        path = f"/api/runtimes/{runtime_id}/workers/w-none"
        assert await client.error(404, "GET", path) == "worker_not_found"
        assert await client.refused(runtime_id, "w-none") == (404, "worker_not_found")
    far = "/api/runtimes/far/workers"
    assert await client.error(400, "POST", f"{far}/w-far/input", json={}) == "invalid_request"
    assert await client.error(400, "POST", far, json={"nonsense": 1}) == "invalid_request"
    broken = {"content": "{not json", "headers": {"Content-Type": "application/json"}}
    assert await client.error(400, "POST", f"{far}/w-far/input", **broken) == "invalid_request"
    plain = {"content": "hello", "headers": {"Content-Type": "text/plain"}}
    assert await client.error(415, "POST", f"{far}/w-far/input", **plain) == (
        "unsupported_media_type"
    )
    foreign = {"json": {}, "headers": {"Origin": "http://evil.example"}}
    assert await client.error(403, "POST", f"{far}/w-far/cancel", **foreign) == "forbidden_origin"
    bad_after = {"after": "not-a-listing-cursor"}
    assert await client.error(400, "GET", "/api/workers", params=bad_after) == "invalid_cursor"


async def meets_runtimes_it_cannot_use(client: Client) -> None:
    for runtime_id, status, code in (
        ("locked", 502, "runtime_auth_failed"),
        ("gone", 503, "runtime_unavailable"),
    ):
        view = (await client.expect(200, "GET", f"/api/runtimes/{runtime_id}"))["runtime"]
        assert [d["code"] for d in view["diagnostics"]] == [code]
        base = f"/api/runtimes/{runtime_id}/workers"
        assert await client.error(status, "GET", f"{base}/w-x") == code
        assert await client.refused(runtime_id, "w-x") == (status, code)
        created = await client.http.post(base, json={"worker_id": "w-new"})
        assert created.status_code >= 400
        for action in ("input", "stop", "cancel"):
            body = {"content": "x"} if action == "input" else {}
            assert await client.error(status, "POST", f"{base}/w-x/{action}", json=body) == code
        assert await client.error(status, "GET", f"{base}/w-x/transcript") == code
        answer = {"decision": "deny"}
        assert await client.error(status, "POST", f"{base}/w-x/approvals/ap-x", json=answer) == code
