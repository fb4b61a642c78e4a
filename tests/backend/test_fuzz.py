"""Schema-driven fuzzing of the backend API: whatever a browser sends, the contract holds.

Every operation of the backend's ``/openapi.json`` gets generated requests,
valid and invalid, against a real backend (uvicorn on 127.0.0.1, in a thread
with its own event loop) over its embedded runtime and a remote runtime
served beside it. No answer is a 5xx but 501 ``unsupported_operation``;
every failure is exactly the error envelope with the status of its code;
every status, content type and body is documented. Cases that name a
runtime, a worker or a ticket are sent again naming real ones, so the fuzzer
reaches past the lookups (the tickets live in a fresh store in a temporary
folder).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.server import asgi as envelope
from tests.server.threaded import ThreadedServer

from yoi.backend import (
    Backend,
    ModelLabel,
    Probing,
    RemoteRuntimeSettings,
    RemoteSource,
    create_backend_app,
)
from yoi.client import RuntimeClient
from yoi.runtime import BUILTIN_PROFILES, ConfigBundle, CreateWorkerRequest, Runtime
from yoi.server import create_app
from yoi.server.listen import listening
from yoi.tickets import TicketStore

TOKEN = "backend-fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REMOTE = "far"
SEEDED_WORKER = "w-fuzz"
BUNDLE = ConfigBundle.from_mapping(
    {
        "revision": "fuzz",
        "profiles": {p.name: {"prompt": f"You are {p.name}."} for p in BUILTIN_PROFILES},
    }
)
LABEL = ModelLabel("scripted:offline", offline=True)
DOCUMENT: dict[str, Any] = create_backend_app(
    Backend(runtime=Runtime(), bundle=BUNDLE, model=LABEL), token=TOKEN
).openapi()

schema = schemathesis.openapi.from_dict(DOCUMENT)
Case = schemathesis.Case[Any]

FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


@asynccontextmanager
async def two_runtimes(tickets: TicketStore) -> AsyncIterator[str]:
    """A backend over its embedded runtime and a remote one, a worker seeded on each, and the
    ticket store ``tickets``."""
    async with (
        Runtime(runtime_id=REMOTE) as far,
        listening(create_app(far), "127.0.0.1", 0) as remote,
    ):
        source = RemoteSource(
            RemoteRuntimeSettings(REMOTE, remote.url),
            RuntimeClient(remote.url),
            probing=Probing(first_backoff=0.05),
        )
        backend = Backend(
            runtime=Runtime(runtime_id="backend-internal"),
            bundle=BUNDLE,
            model=LABEL,
            remotes=[source],
            tickets=tickets,
        )
        async with backend:
            for runtime_id in ("backend-internal", REMOTE):
                await backend.registry.create_worker(
                    runtime_id, CreateWorkerRequest(worker_id=SEEDED_WORKER)
                )
            app = create_backend_app(backend, token=TOKEN)
            async with listening(app, "127.0.0.1", 0) as listener:
                yield listener.url


@pytest.fixture(scope="module")
def ticket_store(tmp_path_factory: pytest.TempPathFactory) -> TicketStore:
    return TicketStore(tmp_path_factory.mktemp("fuzz") / ".yoi" / "tickets")


@pytest.fixture(scope="module")
def base_url(ticket_store: TicketStore) -> Iterator[str]:
    with ThreadedServer(partial(two_runtimes, ticket_store)) as url:
        yield url


def assert_envelope(response: schemathesis.Response) -> None:
    body = response.json() if response.status_code >= 300 else None
    envelope.assert_envelope(response.status_code, body, context=response.text)


def variants(case: Case, tickets: TicketStore) -> Iterator[Case]:
    """The case as generated, then naming a real ticket, or a real runtime (and worker) on
    each side."""
    yield case
    path = case.path_parameters
    if path is not None and "ticket_id" in path:
        path["ticket_id"] = tickets.create("seeded", "", author="fuzz").id
        yield case
    if path is None or "runtime_id" not in path:
        return
    for runtime_id in ("backend-internal", REMOTE):
        path["runtime_id"] = runtime_id
        if "worker_id" in path:
            path["worker_id"] = SEEDED_WORKER
        yield case


def test_the_fuzzed_document_is_the_one_the_backend_serves(base_url: str) -> None:
    served = httpx.get(f"{base_url}/openapi.json", headers=AUTH, timeout=10)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
@FUZZ
def test_every_answer_keeps_the_contract(
    case: Case, base_url: str, ticket_store: TicketStore
) -> None:
    for variant in variants(case, ticket_store):
        response = variant.call(base_url=base_url, headers=AUTH, timeout=10)
        variant.validate_response(response, checks=CHECKS)
        assert_envelope(response)


@schema.parametrize()
@settings(FUZZ, max_examples=5)
def test_without_the_token_only_health_and_login_answer(case: Case, base_url: str) -> None:
    response = case.call(base_url=base_url, timeout=10)
    assert_envelope(response)
    if case.path == "/api/health":
        expected = {200} if case.method in ("GET", "HEAD") else {405, 415}
        assert response.status_code in expected, response.text
    elif case.path != "/api/login":  # login answers 401 itself, for a wrong token
        assert response.status_code in (401, 415), response.text
