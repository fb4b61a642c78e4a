import pytest

from yoi.errors import (
    ConfigBundleMissing,
    DuplicateWorker,
    InvalidProfile,
    InvalidRequest,
    LimitTooLarge,
    PayloadTooLarge,
    WorkerNotFound,
    YoiError,
)
from yoi.providers.script import Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import (
    CapabilityRequest,
    ConfigBundleRef,
    CreateWorkerRequest,
    RoleIntent,
    Runtime,
    RuntimeLimits,
    TaskIntent,
    WorkerStatus,
)
from yoi.testing.observe import event_types, until


async def test_an_empty_request_makes_an_idle_assistant_on_the_default_profile() -> None:
    async with Runtime(runtime_id="rt-a") as runtime:
        worker = await runtime.create_worker()
        assert worker.status is WorkerStatus.IDLE
        assert worker.profile == "builtin:default"
        assert worker.intent.kind == "assistant"
        assert worker.display_ref == f"{worker.worker_id}@rt-a"
        assert worker.tools == ()
        assert await runtime.get_worker(worker.worker_id) == worker


async def test_generated_ids_are_unique_and_sort_by_creation() -> None:
    async with Runtime() as runtime:
        ids = [(await runtime.create_worker()).worker_id for _ in range(300)]
    assert len(set(ids)) == 300
    assert ids == sorted(ids)
    assert all(len(worker_id) <= 16 for worker_id in ids)


async def test_a_chosen_id_is_kept_and_cannot_be_taken_twice() -> None:
    async with Runtime() as runtime:
        worker = await runtime.create_worker(CreateWorkerRequest(worker_id="alice"))
        assert worker.worker_id == "alice"
        with pytest.raises(DuplicateWorker):
            await runtime.create_worker(CreateWorkerRequest(worker_id="alice"))
        assert (await runtime.summary()).worker_count == 1


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (CreateWorkerRequest(worker_id="Bad Id"), InvalidRequest),
        (CreateWorkerRequest(worker_id="-leading"), InvalidRequest),
        (CreateWorkerRequest(worker_id="x" * 65), InvalidRequest),
        (CreateWorkerRequest(profile="builtin:nope"), InvalidProfile),
        (CreateWorkerRequest(profile="named:team"), InvalidProfile),
        (CreateWorkerRequest(profile="whatever"), InvalidProfile),
        (CreateWorkerRequest(intent=TaskIntent(objective="  ")), InvalidRequest),
        (CreateWorkerRequest(intent=RoleIntent(role="")), InvalidRequest),
        (CreateWorkerRequest(display_name=" "), InvalidRequest),
        (CreateWorkerRequest(config_bundle=ConfigBundleRef("ab" * 32)), ConfigBundleMissing),
        (CreateWorkerRequest(initial_input="   "), InvalidRequest),
        (CreateWorkerRequest(initial_input="x" * 300), PayloadTooLarge),
        (CreateWorkerRequest(requested_capabilities=(CapabilityRequest(""),)), InvalidRequest),
    ],
)
async def test_bad_create_requests_are_refused_and_record_nothing(
    request_: CreateWorkerRequest, error: type[YoiError]
) -> None:
    async with Runtime(limits=RuntimeLimits(max_content_bytes=256)) as runtime:
        with pytest.raises(error) as raised:
            await runtime.create_worker(request_)
        assert raised.value.code == error.code
        assert (await runtime.summary()).worker_count == 0


async def test_each_builtin_profile_can_be_chosen() -> None:
    async with Runtime() as runtime:
        for name in ("default", "companion", "coder", "reviewer", "orchestrator", "intake"):
            worker = await runtime.create_worker(CreateWorkerRequest(profile=f"builtin:{name}"))
            assert worker.profile == f"builtin:{name}"


async def test_the_intent_reaches_the_system_prompt() -> None:
    model = ScriptedModel([[Text("on it")]])
    async with Runtime(model=model) as runtime:
        request = CreateWorkerRequest(
            intent=TaskIntent(objective="count the tickets"),
            profile="builtin:coder",
            initial_input="go",
        )
        worker = await runtime.create_worker(request)
        async with await runtime.subscribe(worker.worker_id) as subscription:
            await until(subscription, "run_finished")
    assert "Your task: count the tickets" in model.requests[0].system
    assert "coder worker" in model.requests[0].system


async def test_initial_input_starts_a_run_at_once() -> None:
    async with Runtime(model=ScriptedModel([[Text("hello")]])) as runtime:
        worker = await runtime.create_worker(CreateWorkerRequest(initial_input="hi"))
        assert worker.status is WorkerStatus.RUNNING
        async with await runtime.subscribe(worker.worker_id) as subscription:
            events = await until(subscription, "run_finished")
        assert events[-1].event.to_dict()["result"] == "completed"
        page = await runtime.transcript(worker.worker_id)
        assert [(item.role, item.content) for item in page.items] == [
            ("user", "hi"),
            ("assistant", "hello"),
        ]


async def test_listing_pages_through_workers_in_creation_order() -> None:
    async with Runtime() as runtime:
        made = [(await runtime.create_worker()).worker_id for _ in range(7)]
        first = await runtime.list_workers(limit=3)
        second = await runtime.list_workers(limit=3, after=first.next_after)
        third = await runtime.list_workers(limit=3, after=second.next_after)
        listed = [w.worker_id for page in (first, second, third) for w in page.items]
        assert listed == made
        assert third.next_after is None
        exact = await runtime.list_workers(limit=7)
        assert exact.next_after is None


async def test_listing_filters_by_status() -> None:
    async with Runtime() as runtime:
        kept = await runtime.create_worker()
        gone = await runtime.create_worker()
        await runtime.stop_worker(gone.worker_id)
        stopped = await runtime.list_workers(status=WorkerStatus.STOPPED)
        idle = await runtime.list_workers(status=WorkerStatus.IDLE)
        assert [w.worker_id for w in stopped.items] == [gone.worker_id]
        assert [w.worker_id for w in idle.items] == [kept.worker_id]


async def test_paging_limits_are_checked() -> None:
    async with Runtime() as runtime:
        with pytest.raises(LimitTooLarge):
            await runtime.list_workers(limit=runtime.limits.max_page + 1)
        with pytest.raises(InvalidRequest):
            await runtime.list_workers(limit=0)
        with pytest.raises(InvalidRequest):
            await runtime.list_workers(after="missing")


async def test_unknown_and_malformed_worker_ids() -> None:
    async with Runtime() as runtime:
        with pytest.raises(WorkerNotFound):
            await runtime.get_worker("nobody")
        with pytest.raises(InvalidRequest):
            await runtime.get_worker("../etc/passwd")
        with pytest.raises(WorkerNotFound):
            await runtime.send_input("nobody", "hi")


async def test_creation_is_the_first_event() -> None:
    async with Runtime() as runtime:
        worker = await runtime.create_worker(CreateWorkerRequest(display_name="Ada"))
        page = await runtime.events(worker.worker_id)
        assert event_types(list(page.events)) == ["worker_created"]
        assert page.events[0].event.to_dict()["display_name"] == "Ada"


async def test_summary_reports_counts_limits_and_store() -> None:
    async with Runtime(runtime_id="rt-s", display_name="Sandbox") as runtime:
        await runtime.create_worker()
        summary = await runtime.summary()
        assert (summary.runtime_id, summary.display_name) == ("rt-s", "Sandbox")
        assert (summary.worker_count, summary.busy_count, summary.store) == (1, 0, "memory")
        assert summary.limits["max_content_bytes"] == 256 * 1024
        assert "input.on_busy.enqueue" in summary.capabilities
        diagnostics = await runtime.diagnostics()
        assert [d.code for d in diagnostics] == ["offline_model"]
