"""Schema-driven fuzzing of the runtime API: whatever arrives, the answer keeps the contract.

Every operation of ``/openapi.json`` gets generated requests, valid and
invalid, against a real server (uvicorn on 127.0.0.1, in a thread with its
own event loop) over a runtime on the offline model. No answer is a 5xx but
501 ``unsupported_operation``; every failure is exactly the error envelope with
the status of its code; every status, content type and body is documented. A
worker ``w-fuzz`` and a config bundle are seeded, and every case naming a worker
or a digest is sent again naming the seeded one, so the fuzzer reaches real
workers and bundles too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
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

from yoi.errors import YoiError
from yoi.runtime import ConfigBundle, CreateWorkerRequest, Runtime
from yoi.server.app import create_app
from yoi.server.listen import listening

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEEDED_WORKER = "w-fuzz"
SEEDED_BUNDLE = ConfigBundle.from_mapping(
    {"revision": "fuzz-1", "profiles": {"fuzz": {"prompt": "Answer briefly."}}}
)
DOCUMENT: dict[str, Any] = create_app(Runtime(), token=TOKEN).openapi()
"""The document a server built by ``create_app`` serves; a test below checks it is."""

schema = schemathesis.openapi.from_dict(DOCUMENT)
Case = schemathesis.Case[Any]

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@asynccontextmanager
async def seeded_runtime() -> AsyncIterator[str]:
    async with Runtime() as runtime:
        await runtime.create_worker(CreateWorkerRequest(worker_id=SEEDED_WORKER))
        await runtime.put_config_bundle(SEEDED_BUNDLE.digest, SEEDED_BUNDLE)
        async with listening(create_app(runtime, token=TOKEN), "127.0.0.1", 0) as listener:
            yield listener.url


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with ThreadedServer(seeded_runtime) as url:
        yield url


def assert_envelope(response: schemathesis.Response) -> None:
    body = response.json() if response.status_code >= 300 else None
    envelope.assert_envelope(response.status_code, body, context=response.text)


def variants(case: Case) -> Iterator[Case]:
    """The case as generated, then naming the seeded worker or bundle if it names one.

    A bundle put is sent again under the digest of its own body when the body
    is a bundle at all, and otherwise with the seeded bundle, so that puts are
    accepted too.
    """
    yield case
    path = case.path_parameters
    if path is not None and "worker_id" in path:
        path["worker_id"] = SEEDED_WORKER
        yield case
    if path is not None and "digest" in path:
        path["digest"] = SEEDED_BUNDLE.digest
        if case.method == "PUT":
            try:
                path["digest"] = ConfigBundle.from_mapping(case.body).digest  # type: ignore[arg-type]
            except YoiError:
                case.body = json.loads(SEEDED_BUNDLE.encode())
        yield case


def test_the_fuzzed_document_is_the_one_the_server_serves(base_url: str) -> None:
    served = httpx.get(f"{base_url}/openapi.json", headers=AUTH, timeout=10)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
@FUZZ
def test_every_answer_keeps_the_contract(case: Case, base_url: str) -> None:
    for variant in variants(case):
        response = variant.call(base_url=base_url, headers=AUTH, timeout=10)
        variant.validate_response(response, checks=CHECKS)
        assert_envelope(response)


@schema.parametrize()
@settings(FUZZ, max_examples=5)
def test_without_the_token_only_health_answers(case: Case, base_url: str) -> None:
    response = case.call(base_url=base_url, timeout=10)
    assert_envelope(response)
    if case.path == "/v1/health":
        assert response.status_code == (200 if case.method in ("GET", "HEAD") else 405)
    else:
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
