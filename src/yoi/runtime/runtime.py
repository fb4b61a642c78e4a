"""The front door: a runtime that hosts many named, long-lived workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from itertools import islice
from types import TracebackType

import yoi
from yoi.engine.model import Model
from yoi.engine.retry import RetryingModel, RetryPolicy
from yoi.engine.run import Engine, EngineLimits
from yoi.engine.tool import Tool
from yoi.engine.tool_calls import ToolLimits
from yoi.errors import (
    ConfigBundleMissing,
    DuplicateWorker,
    InvalidRequest,
    LimitTooLarge,
    RuntimeUnavailable,
    StoreCorrupt,
    StoreError,
    StoreMissing,
    UnsupportedOperation,
    WorkerNotFound,
    WorkerUnavailable,
    YoiError,
)
from yoi.ids import IdGenerator, validate_id
from yoi.providers.scripted import OfflineModel
from yoi.runtime import observation
from yoi.runtime.approvals import ApprovalAck, Approvals
from yoi.runtime.bundles import BundleSummary, ConfigBundle, check_digest
from yoi.runtime.catalog import CheckedCreate, check_create
from yoi.runtime.events import WorkerCreated
from yoi.runtime.limits import RuntimeLimits
from yoi.runtime.profiles import ProfileCatalog, system_prompt
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.requests import (
    ConfigBundleRef,
    CreateWorkerRequest,
    GrantRequest,
    Input,
    Intent,
    RoleIntent,
)
from yoi.runtime.runner import drive
from yoi.runtime.status import WorkerStatus
from yoi.runtime.stores.memory import MemoryStore
from yoi.runtime.stores.protocol import Store, StoredWorker
from yoi.runtime.subscription import Subscription
from yoi.runtime.toolbox import Toolbox, WorkerTools
from yoi.runtime.transcript import TranscriptPage
from yoi.runtime.views import (
    CancelAck,
    Diagnostic,
    EventPage,
    InputAck,
    RuntimeSummary,
    StopAck,
    WorkerDetail,
    WorkerPage,
)
from yoi.runtime.workdirs import Workdirs
from yoi.runtime.worker import Worker
from yoi.tools.sandbox import Sandbox
from yoi.tools.scope import Grant
from yoi.tools.shell import MAX_TIMEOUT

__all__ = ["CAPABILITIES", "Runtime"]

# A tool's own limit fires first: bash's longest timeout, then time for it to kill and report.
_TOOL_LIMITS = ToolLimits(timeout=MAX_TIMEOUT + 60.0)

CAPABILITIES = (
    "workers",
    "input.on_busy.reject",
    "input.on_busy.enqueue",
    "input.on_busy.interrupt",
    "observe.subscribe",
    "observe.resume",
    "profiles.builtin",
    "profiles.named",
    "config_bundles",
)


class Runtime:
    """Hosts workers. Use it as an async context manager::

    async with Runtime() as runtime:
        worker = await runtime.create_worker(CreateWorkerRequest())
        await runtime.send_input(worker.worker_id, Input("hello"))
    """

    def __init__(
        self,
        *,
        runtime_id: str | None = None,
        display_name: str | None = None,
        store: Store | None = None,
        model: Model | None = None,
        tools: Sequence[Tool] = (),
        profiles: ProfileCatalog | None = None,
        limits: RuntimeLimits | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        workdirs: Workdirs | None = None,
        sandbox: Sandbox | None = None,
        workspace_tools: Sequence[Tool] = (),
        workspace_reading: Sequence[Tool] = (),
        role_models: Mapping[str, Model] = {},
    ) -> None:
        """``tools`` are offered by name (a request asks for them and its profile grants
        them); ``workdirs`` lets workers reach a repository through file, search, shell and git
        tools as far as their grant says; ``sandbox`` confines their ``bash``;
        ``workspace_tools`` go to workers whose profile's workspace access is ``write`` (the
        Companion), ``workspace_reading`` (the ones that only read) to those with ``read``;
        ``role_models`` answer the workers whose intent is that role, ``model`` all others."""
        self._requested_id = None if runtime_id is None else validate_id(runtime_id)
        self._display_name = display_name
        self._store: Store = store if store is not None else MemoryStore()
        self._base_model: Model = model if model is not None else OfflineModel()
        self._model = RetryingModel(self._base_model, retry)
        self._role_models = {role: RetryingModel(m, retry) for role, m in role_models.items()}
        self._toolbox = Toolbox(
            workdirs=workdirs,
            sandbox=sandbox,
            workspace=workspace_tools,
            workspace_reading=workspace_reading,
            named=tools,
        )
        self._worker_tools: dict[str, WorkerTools] = {}
        self._profiles = profiles or ProfileCatalog()
        self.limits = limits or RuntimeLimits()
        self._clock = clock
        self._worker_ids = IdGenerator("w", clock=clock)
        self._run_ids = IdGenerator("r", clock=clock)
        self._workers: dict[str, Worker] = {}
        self._bundles: dict[str, ConfigBundle] = {}
        self._unavailable: dict[str, Diagnostic] = {}
        self._problems: list[Diagnostic] = []
        self._record: RuntimeRecord | None = None
        self._closed = False
        self.workdirs = workdirs
        """The runtime's workdirs; ``None`` when it makes none (the workdir routes say 501)."""

    # -- lifecycle ---------------------------------------------------------

    async def __aenter__(self) -> Runtime:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the store and bring back every worker it holds.

        Runs that were in flight when the process last stopped end ``failed``
        with code ``interrupted``; inputs that were queued behind them run
        again, in order. Workers the store cannot read are reported
        by :meth:`diagnostics` and refuse work with ``worker_unavailable``.
        """
        runtime_id = self._requested_id or IdGenerator("rt", clock=self._clock).new()
        fresh = RuntimeRecord(runtime_id, self._display_name or runtime_id, self._clock())
        state = await self._store.open(fresh, id_requested=self._requested_id is not None)
        self._record = state.runtime
        for problem in state.problems:
            self._problems.append(Diagnostic(problem.code, problem.message, problem.worker_id))
            if problem.worker_id is not None and problem.code != "store_repaired":
                self._unavailable[problem.worker_id] = self._problems[-1]
        self._load_bundles(state.bundles)
        try:
            await self._open_workdirs()
            for stored in state.workers:
                await self._restore(stored)
        except BaseException:
            await self.close()  # releases the store (and its lock) for the next attempt
            raise

    async def _open_workdirs(self) -> None:
        """Open the workdirs and report what their sweep finds; nothing is deleted."""
        if self.workdirs is None:
            return
        await self.workdirs.open()
        for problem in self.workdirs.problems:
            message = f"workdir record {problem.name} is unreadable: {problem.message}"
            self._problems.append(Diagnostic("store_corrupt", message))
        for name in self.workdirs.sweep():
            message = f"worktree {name} has no workdir record; it is kept for a person to check"
            self._problems.append(Diagnostic("workdir_orphan", message))

    async def _restore(self, stored: StoredWorker) -> None:
        record = stored.record
        request = CreateWorkerRequest(
            display_name=record.display_name,
            intent=record.intent,
            profile=record.profile,
            requested_capabilities=record.capabilities,
            config_bundle=None
            if record.config_bundle is None
            else ConfigBundleRef(record.config_bundle),
            workdir=record.workdir,
            grant=None if record.grant is None else _asked(record.grant),
        )
        try:
            checked = self._check(request)
        except YoiError as error:
            message = f"worker {record.worker_id} cannot be restored: {error.message}"
            self._unavailable[record.worker_id] = Diagnostic(error.code, message, record.worker_id)
            self._problems.append(self._unavailable[record.worker_id])
            return
        held = await self._tools_of(record.worker_id, checked, record.workdir)
        for note in held.notes:
            self._problems.append(Diagnostic("worker_tools", note, record.worker_id))
        worker = self._build_worker(record, checked, held, restored=True)
        self._workers[record.worker_id] = worker
        await worker.recover(stored.active_run, stored.queued)

    def _load_bundles(self, stored: Mapping[str, bytes]) -> None:
        for digest, content in stored.items():
            try:
                bundle = ConfigBundle.decode(content)
                bundle.check(digest)
            except YoiError as error:
                message = f"config bundle {digest} is unreadable: {error.message}"
                self._problems.append(Diagnostic("store_corrupt", message))
                continue
            self._bundles[digest] = bundle

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(worker.close() for worker in self._workers.values()))
        for held in self._worker_tools.values():
            held.close()
        if self.workdirs is not None:
            await self.workdirs.close()
        await self._store.close()

    @property
    def runtime_id(self) -> str:
        return self._ready().runtime_id

    # -- management --------------------------------------------------------

    async def summary(self) -> RuntimeSummary:
        record = self._ready()
        busy = sum(1 for w in self._workers.values() if w.status is WorkerStatus.RUNNING)
        return RuntimeSummary(
            runtime_id=record.runtime_id,
            display_name=record.display_name,
            status="ready",
            store=self._store.kind,
            model=self._model.name,
            worker_count=len(self._workers) - len(self._unavailable.keys() & self._workers.keys()),
            busy_count=busy,
            capabilities=CAPABILITIES,
            limits=self.limits.to_dict(),
            version=yoi.__version__,
            tools=self._toolbox.offered(),
            sandbox=self._toolbox.sandbox_view(),
            requestable_tools=tuple(sorted(tool.name for tool in self._toolbox.named)),
        )

    async def diagnostics(self) -> list[Diagnostic]:
        self._ready()
        found = list(self._problems)
        if isinstance(self._base_model, OfflineModel):
            found.append(
                Diagnostic("offline_model", "no model is configured: workers answer offline")
            )
        sandbox = self._toolbox.sandbox_view()
        if sandbox is not None and sandbox.diagnostic:
            code = "sandbox_unavailable" if not sandbox.available else "sandbox_none"
            found.append(Diagnostic(code, sandbox.diagnostic))
        return found

    # -- catalog and lifecycle ----------------------------------------------

    async def create_worker(self, request: CreateWorkerRequest | None = None) -> WorkerDetail:
        request = request or CreateWorkerRequest()
        record = self._ready()
        checked = self._check(request)
        initial = None if request.initial_input is None else Input(request.initial_input)
        if initial is not None:
            Worker.check_content(initial.content, self.limits)
        worker_id = request.worker_id or self._worker_ids.new()
        if worker_id in self._workers or worker_id in self._unavailable:
            raise DuplicateWorker(f"worker {worker_id} already exists in {record.runtime_id}")
        workdir, made = await self._toolbox.workdir_for(request.workdir)
        try:
            return await self._create(request, checked, worker_id, workdir, initial)
        except BaseException:
            created = self._workers.get(worker_id)
            if (
                made
                and workdir is not None
                and (created is None or created.record.workdir != workdir)
            ):
                await self._toolbox.discard(workdir)
            raise

    async def _create(
        self,
        request: CreateWorkerRequest,
        checked: CheckedCreate,
        worker_id: str,
        workdir: str | None,
        initial: Input | None,
    ) -> WorkerDetail:
        if worker_id in self._workers:  # taken while the workdir was being made
            raise DuplicateWorker(f"worker {worker_id} already exists in {self.runtime_id}")
        held = await self._tools_of(worker_id, checked, workdir)
        worker_record = WorkerRecord(
            worker_id=worker_id,
            display_name=checked.display_name or worker_id,
            intent=request.intent,
            profile=checked.profile_ref,
            created_at=self._clock(),
            capabilities=request.requested_capabilities,
            tools=tuple(tool.name for tool in held.tools),
            config_bundle=None if request.config_bundle is None else request.config_bundle.digest,
            workdir=workdir,
            grant=checked.grant if workdir is not None else None,
        )
        worker = self._build_worker(worker_record, checked, held, restored=False)
        self._workers[worker_id] = worker  # holds the id while the store creates its files
        try:
            await self._store.save_worker(worker_record)
        except StoreError:
            del self._workers[worker_id]
            self._worker_tools.pop(worker_id).close()
            raise
        created = WorkerCreated(
            worker_record.display_name, _intent_dict(request), checked.profile_ref
        )
        await worker.emit(created)
        if initial is not None:
            await worker.accept(initial)
        return self._detail(worker)

    async def get_worker(self, worker_id: str) -> WorkerDetail:
        return self._detail(self._worker(worker_id))

    async def list_workers(
        self,
        *,
        status: WorkerStatus | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> WorkerPage:
        self._ready()
        size = self._page_size(limit)
        ids = iter(self._workers)
        if after is not None:
            validate_id(after, field="after")
            if after not in self._workers:
                raise InvalidRequest(f"no worker {after} to list after", details={"field": "after"})
            for worker_id in ids:
                if worker_id == after:
                    break
        workers = map(self._workers.__getitem__, ids)
        matches = (
            w
            for w in workers
            if (status is None or w.status is status) and w.worker_id not in self._unavailable
        )
        found = [self._detail(worker) for worker in islice(matches, size + 1)]
        next_after = found[size - 1].worker_id if len(found) > size else None
        return WorkerPage(tuple(found[:size]), next_after)

    async def stop_worker(self, worker_id: str, reason: str | None = None) -> StopAck:
        worker = self._worker(worker_id)
        return StopAck(worker_id, await worker.stop(reason))

    async def reopen_worker(self, worker_id: str) -> bool:
        """Make a stopped worker idle again, transcript and history kept (False when it was
        not stopped). Only the backend's own Companion is reopened; it is no API operation."""
        return await self._worker(worker_id).reopen()

    async def cancel_worker(self, worker_id: str) -> CancelAck:
        worker = self._worker(worker_id)
        return CancelAck(worker_id, await worker.cancel())

    async def delete_workdir(self, workdir_id: str, *, force: bool = False) -> dict[str, object]:
        """Remove a workdir and its branch (``workdir_unmerged`` for commits nothing else
        holds, unless ``force``); ``unsupported_operation`` for a runtime without workdirs."""
        if self.workdirs is None:
            raise UnsupportedOperation("this runtime makes no workdirs")
        return (await self.workdirs.delete(workdir_id, force=force)).to_dict()

    async def answer_approval(self, worker_id: str, approval_id: str, decision: str) -> ApprovalAck:
        """``allow`` or ``deny`` a tool call the worker's ``ask`` rule holds."""
        return await self._worker(worker_id).approvals.answer(approval_id, decision)

    # -- config bundles ----------------------------------------------------

    async def put_config_bundle(self, digest: str, bundle: ConfigBundle) -> BundleSummary:
        """Keep ``bundle`` under ``digest``, which must name its canonical encoding.

        Putting the same bundle again changes nothing.
        """
        self._ready()
        bundle.check(digest)
        if digest not in self._bundles:
            await self._store.save_bundle(digest, bundle.encode())
            self._bundles[digest] = bundle
        return self._bundles[digest].summary()

    async def config_bundles(self) -> tuple[BundleSummary, ...]:
        self._ready()
        return tuple(bundle.summary() for _, bundle in sorted(self._bundles.items()))

    async def config_bundle(self, digest: str) -> ConfigBundle:
        self._ready()
        bundle = self._bundles.get(check_digest(digest))
        if bundle is None:
            raise ConfigBundleMissing(
                f"this runtime has no config bundle {digest}", details={"digest": digest}
            )
        return bundle

    # -- interaction -------------------------------------------------------

    async def send_input(self, worker_id: str, item: Input | str) -> InputAck:
        worker = self._worker(worker_id)
        with self._faults(worker_id):
            return await worker.accept(Input(item) if isinstance(item, str) else item)

    # -- observation -------------------------------------------------------

    async def transcript(
        self, worker_id: str, start: int = 1, limit: int | None = None
    ) -> TranscriptPage:
        worker = self._worker(worker_id)
        size = self._page_size(limit)
        if not isinstance(start, int) or start < 1:
            raise InvalidRequest(
                "start must be a sequence number from 1", details={"field": "start"}
            )
        with self._faults(worker_id):
            items = await self._store.read_transcript(worker_id, start, size)
        total = worker.record.transcript_total
        begin = items[0].sequence if items else start
        last = items[-1].sequence if items else start - 1
        return TranscriptPage(items, total, begin, last + 1 if last < total else None)

    async def events(
        self, worker_id: str, *, after: str | None = None, limit: int | None = None
    ) -> EventPage:
        worker = self._worker(worker_id)
        size = self._page_size(limit)
        with self._faults(worker_id):
            return await observation.read_events(worker, after, size)

    async def subscribe(self, worker_id: str, cursor: str | None = None) -> Subscription:
        worker = self._worker(worker_id)
        with self._faults(worker_id):
            await worker.load_history()
            return await observation.subscribe(worker, self._detail(worker), cursor)

    # -- internals ---------------------------------------------------------

    @contextmanager
    def _faults(self, worker_id: str) -> Iterator[None]:
        """A worker whose stored records turn out unreadable becomes unavailable."""
        try:
            yield
        except (StoreCorrupt, StoreMissing) as error:
            diagnostic = Diagnostic(error.code, error.message, worker_id)
            self._problems.append(diagnostic)
            self._unavailable[worker_id] = diagnostic
            raise

    def _check(self, request: CreateWorkerRequest) -> CheckedCreate:
        return check_create(
            request,
            profiles=self._profiles,
            bundles=self._bundles,
            tools=self._toolbox.named,
            host=self._toolbox.host,
            max_display_name=self.limits.max_display_name,
        )

    async def _tools_of(
        self, worker_id: str, checked: CheckedCreate, workdir: str | None
    ) -> WorkerTools:
        held = await self._toolbox.tools_for(checked.profile, checked.grant, workdir, checked.tools)
        self._worker_tools[worker_id] = held
        return held

    def _build_worker(
        self, record: WorkerRecord, checked: CheckedCreate, held: WorkerTools, *, restored: bool
    ) -> Worker:
        timeout = self.limits.approval_timeout_seconds
        approvals = Approvals(checked.profile.rules, timeout=timeout, clock=self._clock)
        engine = Engine(
            self._model_for(record.intent),
            tools=held.tools,
            limits=EngineLimits(
                max_turns=checked.profile.model.max_turns,
                tools=_TOOL_LIMITS,
                max_output_tokens=checked.profile.model.max_output_tokens,
            ),
            gate=approvals,
        )
        return Worker(
            record,
            store=self._store,
            engine=engine,
            system_prompt=system_prompt(checked.profile, record.intent),
            limits=self.limits,
            clock=self._clock,
            run_ids=self._run_ids,
            driver=drive,
            restored=restored,
            approvals=approvals,
        )

    def _model_for(self, intent: Intent) -> RetryingModel:
        if isinstance(intent, RoleIntent):
            return self._role_models.get(intent.role, self._model)
        return self._model

    def _ready(self) -> RuntimeRecord:
        if self._record is None or self._closed:
            raise RuntimeUnavailable("the runtime is not open")
        return self._record

    def _worker(self, worker_id: str) -> Worker:
        record = self._ready()
        validate_id(worker_id, field="worker_id")
        worker = self._workers.get(worker_id)
        fault = self._unavailable.get(worker_id)
        if fault is not None:
            raise WorkerUnavailable(
                f"worker {worker_id} is unavailable ({fault.code}): {fault.message}",
                details={"worker_id": worker_id, "cause": fault.code},
            )
        if worker is None:
            raise WorkerNotFound(
                f"no worker {worker_id} in runtime {record.runtime_id}",
                details={"worker_id": worker_id},
            )
        return worker

    def _detail(self, worker: Worker) -> WorkerDetail:
        run = worker.live.state() if worker.live is not None else None
        return WorkerDetail.of(
            self.runtime_id,
            worker.record,
            model=self._model_for(worker.record.intent).name,
            queued=len(worker.queue),
            run=run,
        )

    def _page_size(self, limit: int | None) -> int:
        if limit is None:
            return self.limits.default_page
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidRequest("limit must be a positive integer", details={"field": "limit"})
        if limit > self.limits.max_page:
            raise LimitTooLarge(
                f"limit {limit} is over the maximum of {self.limits.max_page}",
                details={"limit": limit, "max": self.limits.max_page},
            )
        return limit


def _intent_dict(request: CreateWorkerRequest) -> dict[str, object]:
    return asdict(request.intent)


def _asked(grant: Grant) -> GrantRequest:
    """A stored grant as the request that narrows its profile to it again."""
    return GrantRequest(tuple(bit.value for bit in grant.capabilities), grant.paths)
