"""Text with a lone surrogate (a JSON escape can carry one) is refused as invalid_request.

No file can hold such text, so it must be stopped before anything is recorded;
it used to reach the store's encoder and answer 500 ``internal``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yoi.errors import InvalidRequest
from yoi.runtime import (
    AssistantIntent,
    CapabilityRequest,
    CreateWorkerRequest,
    FsStore,
    Input,
    RoleIntent,
    Runtime,
    TaskIntent,
)

LONE = "\ud800"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (CreateWorkerRequest(intent=TaskIntent(objective=f"fix {LONE}")), "intent"),
        (CreateWorkerRequest(intent=AssistantIntent(purpose=LONE)), "intent"),
        (CreateWorkerRequest(intent=RoleIntent(role=f"r{LONE}")), "intent"),
        (
            CreateWorkerRequest(requested_capabilities=(CapabilityRequest("x", f"{LONE}!"),)),
            "requested_capabilities",
        ),
        (CreateWorkerRequest(initial_input=f"hi {LONE}"), "content"),
    ],
)
async def test_a_create_request_with_a_lone_surrogate_is_invalid_and_creates_nothing(
    tmp_path: Path, request_: CreateWorkerRequest, field: str
) -> None:
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        with pytest.raises(InvalidRequest) as raised:
            await runtime.create_worker(request_)
        assert raised.value.details == {"field": field}
        assert (await runtime.list_workers()).items == ()


texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@settings(max_examples=40, deadline=None)
@given(before=texts, after=texts, surrogate=st.characters(categories=["Cs"]))
def test_content_with_a_lone_surrogate_anywhere_is_invalid_and_records_nothing(
    before: str, after: str, surrogate: str
) -> None:
    async def scenario() -> None:
        async with Runtime() as runtime:
            worker = await runtime.create_worker()
            with pytest.raises(InvalidRequest) as raised:
                await runtime.send_input(worker.worker_id, Input(f"x{before}{surrogate}{after}"))
            assert raised.value.details == {"field": "content"}
            detail = await runtime.get_worker(worker.worker_id)
            assert (detail.last_seq, detail.transcript_total) == (worker.last_seq, 0)

    asyncio.run(scenario())
