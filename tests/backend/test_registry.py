"""The RuntimeRegistry over real runtimes: views, routing, paged listings, policy and scrubbing.

The fleet is three embedded runtimes (``alpha`` with three workers, ``empty``
with none, ``gamma`` with two) and, second in order, a remote source pointed
at a port nothing listens on, so it is unavailable.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from yoi.backend import (
    EmbeddedSource,
    Operation,
    Policy,
    Probing,
    RemoteRuntimeSettings,
    RemoteSource,
    RuntimeRegistry,
    Scrubber,
)
from yoi.backend.cursor import BackendCursor, ListingCursor
from yoi.backend.profiles import workspace_bundle
from yoi.backend.sanitize import REDACTED
from yoi.backend.views import Projection
from yoi.client import RuntimeClient
from yoi.errors import (
    DuplicateWorker,
    InvalidCursor,
    InvalidRequest,
    LimitTooLarge,
    RuntimeNotFound,
    RuntimeUnavailable,
    Unauthorized,
    WorkerNotFound,
    YoiError,
)
from yoi.providers.script import Turn
from yoi.runtime import CAPABILITIES, CreateWorkerRequest, Input, Runtime, WorkerStatus
from yoi.testing import ScriptedModel, Stall
from yoi.workspace import Workspace

ALPHA, GONE, EMPTY, GAMMA = "alpha", "gone-box", "empty", "gamma"
WORKERS = {ALPHA: 3, EMPTY: 0, GAMMA: 2}
ALL = ["alpha-1", "alpha-2", "alpha-3", "gamma-1", "gamma-2"]
HIDDEN = "w-hidden-9"


def closed_port() -> int:
    """A loopback port that nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Fleet:
    registry: RuntimeRegistry
    runtimes: dict[str, Runtime]
    gone_url: str

    @property
    def alpha(self) -> Runtime:
        return self.runtimes[ALPHA]


@asynccontextmanager
async def fleet(
    tmp_path: Path,
    *,
    policy: Policy | None = None,
    scrubber: Scrubber | None = None,
    script: Sequence[Turn] = (),
) -> AsyncIterator[Fleet]:
    bundle = workspace_bundle(Workspace(tmp_path))
    async with AsyncExitStack() as stack:
        runtimes: dict[str, Runtime] = {}
        sources: list[EmbeddedSource | RemoteSource] = []
        for runtime_id, count in WORKERS.items():
            model = ScriptedModel(script if runtime_id == ALPHA else ())
            runtime = Runtime(runtime_id=runtime_id, model=model)
            await stack.enter_async_context(runtime)
            for number in range(1, count + 1):
                await runtime.create_worker(CreateWorkerRequest(worker_id=f"{runtime_id}-{number}"))
            source = EmbeddedSource(runtime)
            await source.start(bundle)
            runtimes[runtime_id] = runtime
            sources.append(source)
        url = f"http://127.0.0.1:{closed_port()}"
        settings = RemoteRuntimeSettings(GONE, url, display_name="Gone box", timeout=2.0)
        never_again = Probing(interval=60.0, first_backoff=60.0, max_backoff=60.0)
        remote = RemoteSource(settings, RuntimeClient(url, timeout=2.0), probing=never_again)
        stack.push_async_callback(remote.aclose)
        await remote.start(bundle)
        sources.insert(1, remote)
        yield Fleet(RuntimeRegistry(sources, policy=policy, scrubber=scrubber), runtimes, url)


def ids(listing: Projection) -> list[object]:
    workers = listing["workers"]
    assert isinstance(workers, list)
    return [worker["worker_id"] for worker in workers]


# -- runtimes ----------------------------------------------------------------------


async def test_runtimes_are_listed_in_order_with_their_views(tmp_path: Path) -> None:
    async with fleet(tmp_path) as opened:
        views = await opened.registry.list_runtimes()
    assert [view["runtime_id"] for view in views] == [ALPHA, GONE, EMPTY, GAMMA]
    alpha, gone, empty, _ = views
    assert alpha == {
        "runtime_id": ALPHA,
        "display_name": ALPHA,
        "kind": "embedded",
        "status": "available",
        "capabilities": list(CAPABILITIES),
        "tools": ["submit_intent", "submit_report", "submit_review"],
        "requestable_tools": [],
        "worker_count": 3,
        "busy_count": 0,
        "model": "scripted:test",
        "diagnostics": [],
    }
    assert empty["worker_count"] == 0
    assert gone["kind"] == "remote"
    assert gone["status"] == "unavailable"
    assert gone["display_name"] == "Gone box"
    assert (gone["capabilities"], gone["worker_count"], gone["model"]) == ([], None, None)
    assert [d["code"] for d in gone["diagnostics"]] == ["runtime_unavailable"]  # type: ignore[attr-defined]
    assert opened.gone_url.split(":")[-1] not in json.dumps(views)


async def test_one_runtime_is_found_by_id(tmp_path: Path) -> None:
    async with fleet(tmp_path) as opened:
        views = await opened.registry.list_runtimes()
        for view in views:
            runtime_id = view["runtime_id"]
            assert isinstance(runtime_id, str)
            assert await opened.registry.get_runtime(runtime_id) == view


async def test_an_unknown_runtime_is_not_found(tmp_path: Path) -> None:
    async with fleet(tmp_path) as opened:
        with pytest.raises(RuntimeNotFound) as raised:
            await opened.registry.get_runtime("nowhere")
        with pytest.raises(RuntimeNotFound):
            await opened.registry.list_workers(runtime_id="nowhere")
        with pytest.raises(RuntimeNotFound):
            await opened.registry.get_worker("nowhere", "alpha-1")
    assert raised.value.code == "runtime_not_found"
    assert raised.value.details == {"runtime_id": "nowhere"}


async def test_two_sources_with_one_id_are_refused() -> None:
    registry = RuntimeRegistry()
    settings = RemoteRuntimeSettings(GONE, "http://127.0.0.1:1")
    first = RemoteSource(settings, RuntimeClient(settings.url))
    second = RemoteSource(settings, RuntimeClient(settings.url))
    registry.add(first)
    with pytest.raises(InvalidRequest):
        registry.add(second)
    assert registry.sources == (first,)
    await first.aclose()
    await second.aclose()


# -- routing -----------------------------------------------------------------------

Routed = Callable[[RuntimeRegistry, str, str], Awaitable[object]]
ROUTED: dict[str, Routed] = {
    "get_runtime": lambda r, rid, wid: r.get_runtime(rid),
    "list_workers": lambda r, rid, wid: r.list_workers(runtime_id=rid),
    "create_worker": lambda r, rid, wid: r.create_worker(rid, CreateWorkerRequest(worker_id=wid)),
    "get_worker": lambda r, rid, wid: r.get_worker(rid, wid),
    "send_input": lambda r, rid, wid: r.send_input(rid, wid, Input("hi")),
    "stop_worker": lambda r, rid, wid: r.stop_worker(rid, wid, "done"),
    "cancel_worker": lambda r, rid, wid: r.cancel_worker(rid, wid),
    "transcript": lambda r, rid, wid: r.transcript(rid, wid),
    "observe": lambda r, rid, wid: r.admit_observation(rid, wid),
}


@pytest.mark.parametrize("method", list(ROUTED))
async def test_an_invalid_runtime_id_is_invalid_before_any_lookup(
    tmp_path: Path, method: str
) -> None:
    bad = ["Alpha", "../alpha", "a" * 65, "alpha/x", ""]
    async with fleet(tmp_path) as opened:
        for runtime_id in bad:
            with pytest.raises(InvalidRequest) as raised:
                await ROUTED[method](opened.registry, runtime_id, "alpha-1")
            assert type(raised.value) is InvalidRequest, runtime_id
            assert raised.value.details == {"field": "runtime_id"}


@pytest.mark.parametrize("method", [m for m in ROUTED if m not in ("get_runtime", "list_workers")])
async def test_an_invalid_worker_id_is_invalid(tmp_path: Path, method: str) -> None:
    async with fleet(tmp_path) as opened:
        with pytest.raises(InvalidRequest) as raised:
            await ROUTED[method](opened.registry, ALPHA, "Bad Worker")
    assert type(raised.value) is InvalidRequest


async def test_operations_reach_the_runtime_they_name(tmp_path: Path) -> None:
    async with fleet(tmp_path) as opened:
        registry = opened.registry
        created = await registry.create_worker(GAMMA, CreateWorkerRequest(worker_id="zed"))
        got = await registry.get_worker(GAMMA, "zed")
        stopped = await registry.stop_worker(GAMMA, "zed", "done")
        with pytest.raises(WorkerNotFound):
            await registry.get_worker(ALPHA, "zed")
        assert (await opened.runtimes[GAMMA].get_worker("zed")).status is WorkerStatus.STOPPED
    assert created["runtime_id"] == got["runtime_id"] == GAMMA
    assert created["display_ref"] == "zed@gamma"
    assert stopped == {"worker_id": "zed", "stopped": True}


async def test_an_operation_on_an_unavailable_runtime_is_runtime_unavailable(
    tmp_path: Path,
) -> None:
    async with fleet(tmp_path) as opened:
        with pytest.raises(RuntimeUnavailable) as raised:
            await opened.registry.get_worker(GONE, "alpha-1")
    assert raised.value.code == "runtime_unavailable"
    assert opened.gone_url not in raised.value.message
    assert opened.gone_url.split(":")[-1] not in str(raised.value.to_dict())


# -- listings ----------------------------------------------------------------------


async def pages(registry: RuntimeRegistry, limit: int) -> list[list[object]]:
    """Every page of the listing, following ``next_after`` to the end."""
    found: list[list[object]] = []
    after: str | None = None
    while True:
        listing = await registry.list_workers(limit=limit, after=after)
        found.append(ids(listing))
        next_after = listing["next_after"]
        assert next_after is None or isinstance(next_after, str)
        if next_after is None:
            return found
        assert len(found) < 10, "the listing never ended"
        after = next_after


async def test_one_page_holds_every_runtimes_workers_in_order(tmp_path: Path) -> None:
    async with fleet(tmp_path) as opened:
        listing = await opened.registry.list_workers()
    assert ids(listing) == ALL
    assert listing["next_after"] is None
    workers = listing["workers"]
    assert isinstance(workers, list)
    assert [w["runtime_id"] for w in workers] == [ALPHA] * 3 + [GAMMA] * 2
    assert workers[0]["display_ref"] == "alpha-1@alpha"


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (1, [[name] for name in ALL]),
        (2, [["alpha-1", "alpha-2"], ["alpha-3", "gamma-1"], ["gamma-2"]]),
        (3, [["alpha-1", "alpha-2", "alpha-3"], ["gamma-1", "gamma-2"]]),
        (4, [["alpha-1", "alpha-2", "alpha-3", "gamma-1"], ["gamma-2"]]),
        (5, [ALL]),
        (500, [ALL]),
    ],
)
async def test_pages_follow_next_after_across_runtimes(
    tmp_path: Path, limit: int, expected: list[list[str]]
) -> None:
    async with fleet(tmp_path) as opened:
        assert await pages(opened.registry, limit) == expected


async def test_a_page_ending_at_a_runtimes_last_worker_resumes_at_the_next_runtime(
    tmp_path: Path,
) -> None:
    async with fleet(tmp_path) as opened:
        first = await opened.registry.list_workers(limit=3)
    after = first["next_after"]
    assert isinstance(after, str)
    assert ListingCursor.decode(after) == ListingCursor(GAMMA, "")  # past the empty runtime


async def test_a_listing_of_one_runtime_pages_within_it(tmp_path: Path) -> None:
    async with fleet(tmp_path) as opened:
        first = await opened.registry.list_workers(runtime_id=ALPHA, limit=2)
        after = first["next_after"]
        assert isinstance(after, str)
        second = await opened.registry.list_workers(runtime_id=ALPHA, limit=2, after=after)
        gamma = await opened.registry.list_workers(runtime_id=GAMMA)
        empty = await opened.registry.list_workers(runtime_id=EMPTY)
    assert (ids(first), ids(second), second["next_after"]) == (
        ["alpha-1", "alpha-2"],
        ["alpha-3"],
        None,
    )
    assert ids(gamma) == ["gamma-1", "gamma-2"]
    assert empty == {"workers": [], "diagnostics": [], "next_after": None}


async def test_the_status_filter_applies_on_every_runtime(tmp_path: Path) -> None:
    async with fleet(tmp_path) as opened:
        await opened.alpha.stop_worker("alpha-2")
        await opened.runtimes[GAMMA].stop_worker("gamma-1")
        stopped = await opened.registry.list_workers(status=WorkerStatus.STOPPED)
        idle = await opened.registry.list_workers(status=WorkerStatus.IDLE, limit=2)
        running = await opened.registry.list_workers(status=WorkerStatus.RUNNING)
    assert ids(stopped) == ["alpha-2", "gamma-1"]
    assert ids(idle) == ["alpha-1", "alpha-3"]
    assert ids(running) == []


async def test_a_limit_over_500_is_too_large(tmp_path: Path) -> None:
    async with fleet(tmp_path) as opened:
        with pytest.raises(LimitTooLarge) as raised:
            await opened.registry.list_workers(limit=501)
        with pytest.raises(InvalidRequest) as zero:
            await opened.registry.list_workers(limit=0)
    assert raised.value.code == "limit_too_large"
    assert raised.value.details == {"limit": 501, "max": 500}
    assert zero.value.code == "invalid_request"


@pytest.mark.parametrize(
    "after",
    ["garbage!", "", BackendCursor(ALPHA, "alpha-1", 3).encode(), ListingCursor("", "x").encode()],
    ids=["garbage", "empty", "an event cursor", "no runtime"],
)
async def test_a_bad_after_is_an_invalid_cursor(tmp_path: Path, after: str) -> None:
    async with fleet(tmp_path) as opened:
        with pytest.raises(InvalidCursor) as raised:
            await opened.registry.list_workers(after=after)
    assert raised.value.code == "invalid_cursor"


@pytest.mark.parametrize(
    "cursor",
    [ListingCursor("nowhere", ""), ListingCursor(ALPHA, "w-nobody")],
    ids=["unknown runtime", "unknown worker"],
)
async def test_a_cursor_naming_what_is_not_there_is_an_invalid_cursor(
    tmp_path: Path, cursor: ListingCursor
) -> None:
    async with fleet(tmp_path) as opened:
        with pytest.raises(InvalidCursor):
            await opened.registry.list_workers(after=cursor.encode())


async def test_an_unavailable_runtime_is_a_diagnostic_and_the_others_answer(
    tmp_path: Path,
) -> None:
    async with fleet(tmp_path) as opened:
        listing = await opened.registry.list_workers()
        only = await opened.registry.list_workers(runtime_id=GONE)
    assert ids(listing) == ALL
    diagnostics = listing["diagnostics"]
    assert isinstance(diagnostics, list)
    (problem,) = diagnostics
    assert set(problem) == {"runtime_id", "code", "message"}
    assert (problem["runtime_id"], problem["code"]) == (GONE, "runtime_unavailable")
    assert opened.gone_url.split(":")[-1] not in problem["message"]
    assert only["workers"] == []
    assert only["diagnostics"] == diagnostics


# -- the policy seam ---------------------------------------------------------------

Call = Callable[[RuntimeRegistry], Awaitable[object]]


def on_alpha_1(call: Routed) -> Call:
    return lambda registry: call(registry, ALPHA, "alpha-1")


ALL_CALLS: dict[str, Call] = {
    "list_runtimes": lambda r: r.list_runtimes(),
    **{name: on_alpha_1(call) for name, call in ROUTED.items()},
    "create_worker": lambda r: ROUTED["create_worker"](r, ALPHA, "zed"),
    "list_workers": lambda r: r.list_workers(),
}
EXPECTED_OPERATIONS = {
    "list_runtimes": Operation("list_runtimes"),
    "get_runtime": Operation("get_runtime", ALPHA),
    "list_workers": Operation("list_workers"),
    "create_worker": Operation("create_worker", ALPHA, "zed"),
    **{
        name: Operation(name, ALPHA, "alpha-1")
        for name in ("get_worker", "send_input", "stop_worker", "cancel_worker", "transcript")
    },
    "observe": Operation("observe", ALPHA, "alpha-1"),
}


class Refusing:
    """Refuses one operation by name, with a message holding ``HIDDEN``."""

    def __init__(self, refused: str) -> None:
        self.refused = refused
        self.admitted: list[Operation] = []

    async def admit(self, operation: Operation) -> None:
        self.admitted.append(operation)
        if operation.name == self.refused:
            raise Unauthorized(f"policy refuses {operation.name} for {HIDDEN}")

    def project(self, operation: Operation, projection: Projection) -> Projection:
        return projection


@pytest.mark.parametrize("method", list(ALL_CALLS))
async def test_the_policy_refuses_any_operation_before_it_happens(
    tmp_path: Path, method: str
) -> None:
    policy = Refusing(method)
    async with fleet(tmp_path, policy=policy, scrubber=Scrubber([HIDDEN])) as opened:
        with pytest.raises(Unauthorized) as raised:
            await ALL_CALLS[method](opened.registry)
        worker = await opened.alpha.get_worker("alpha-1")
        page = await opened.alpha.list_workers()
        transcript = await opened.alpha.transcript("alpha-1")
    assert policy.admitted == [EXPECTED_OPERATIONS[method]]
    assert raised.value.message == f"policy refuses {method} for {REDACTED}"
    assert worker.status is WorkerStatus.IDLE
    assert [item.worker_id for item in page.items] == ["alpha-1", "alpha-2", "alpha-3"]
    assert transcript.total == 0


async def test_the_policy_sees_the_operation_before_the_lookup(tmp_path: Path) -> None:
    policy = Refusing("get_runtime")
    async with fleet(tmp_path, policy=policy) as opened:
        with pytest.raises(Unauthorized):
            await opened.registry.get_runtime("nowhere")
    assert policy.admitted == [Operation("get_runtime", "nowhere")]


HIDDEN_KEYS = {
    "list_runtimes": "capabilities",
    "get_runtime": "capabilities",
    "list_workers": "diagnostics",
    "create_worker": "display_ref",
    "get_worker": "display_ref",
    "send_input": "run_id",
    "cancel_worker": "cancelled",
    "transcript": "items",
    "stop_worker": "stopped",
}


class Redacting:
    """Adds a ``policy`` key and removes one key from every projection."""

    def __init__(self) -> None:
        self.seen: dict[str, list[Projection]] = {}

    async def admit(self, operation: Operation) -> None:
        return None

    def project(self, operation: Operation, projection: Projection) -> Projection:
        self.seen.setdefault(operation.name, []).append(dict(projection))
        hidden = HIDDEN_KEYS[operation.name]
        return {"policy": operation.name, **{k: v for k, v in projection.items() if k != hidden}}


async def test_the_policy_projects_every_answer(tmp_path: Path) -> None:
    policy = Redacting()
    async with fleet(tmp_path, policy=policy, script=[[Stall()]]) as opened:
        answers = {name: await ALL_CALLS[name](opened.registry) for name in HIDDEN_KEYS}
    for name, hidden in HIDDEN_KEYS.items():
        answer = answers[name]
        projections = answer if isinstance(answer, list) else [answer]
        assert len(projections) == len(policy.seen[name]) >= 1, name
        for projection, seen in zip(projections, policy.seen[name], strict=True):
            assert hidden in seen, name
            assert projection == {
                "policy": name,
                **{k: v for k, v in seen.items() if k != hidden},
            }, name
    assert len(policy.seen["list_runtimes"]) == 4


# -- scrubbing ---------------------------------------------------------------------

SCRUBBED: dict[str, tuple[Call, type[YoiError]]] = {
    "get_runtime": (lambda r: r.get_runtime(HIDDEN), RuntimeNotFound),
    "observe": (lambda r: r.admit_observation(HIDDEN, "alpha-1"), RuntimeNotFound),
    "get_worker": (lambda r: r.get_worker(ALPHA, HIDDEN), WorkerNotFound),
    "send_input": (lambda r: r.send_input(ALPHA, HIDDEN, Input("hi")), WorkerNotFound),
    "stop_worker": (lambda r: r.stop_worker(ALPHA, HIDDEN), WorkerNotFound),
    "cancel_worker": (lambda r: r.cancel_worker(ALPHA, HIDDEN), WorkerNotFound),
    "transcript": (lambda r: r.transcript(ALPHA, HIDDEN), WorkerNotFound),
    "create_worker": (
        lambda r: r.create_worker(ALPHA, CreateWorkerRequest(worker_id="alpha-1")),
        DuplicateWorker,
    ),
}


@pytest.mark.parametrize("method", list(SCRUBBED))
async def test_errors_leave_the_registry_scrubbed(tmp_path: Path, method: str) -> None:
    call, kind = SCRUBBED[method]
    secret = "alpha-1" if method == "create_worker" else HIDDEN
    async with fleet(tmp_path, scrubber=Scrubber([secret])) as opened:
        with pytest.raises(kind) as raised:
            await call(opened.registry)
    error = raised.value
    assert type(error) is kind
    assert REDACTED in error.message
    assert secret not in json.dumps(error.to_dict())


async def test_listing_diagnostics_leave_scrubbed(tmp_path: Path) -> None:
    async with fleet(tmp_path, scrubber=Scrubber([GONE])) as opened:
        listing = await opened.registry.list_workers()
    diagnostics = listing["diagnostics"]
    assert isinstance(diagnostics, list)
    (problem,) = diagnostics
    assert problem["runtime_id"] == GONE
    assert problem["message"] == f"runtime {REDACTED} is unavailable"


async def test_runtime_view_diagnostics_leave_scrubbed(tmp_path: Path) -> None:
    async with fleet(tmp_path, scrubber=Scrubber([GONE])) as opened:
        await opened.registry.list_workers()  # the failed page records the runtime's problem
        views = await opened.registry.list_runtimes()
    diagnostics = views[1]["diagnostics"]
    assert isinstance(diagnostics, list)
    assert diagnostics
    assert all(GONE not in item["message"] for item in diagnostics)
