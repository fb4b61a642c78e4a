"""The RuntimeRegistry: every worker operation routed by ``runtime_id + worker_id``.

Runtimes are kept in order (the embedded one first). Each operation is
admitted by the :class:`~yoi.backend.policy.Policy`, handed to the source
that holds the runtime, and answered with a browser-safe projection; every
error that leaves is scrubbed of anything the backend knows to be secret.
Listings span all runtimes: one that cannot answer becomes a diagnostic
and the others still answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

from yoi.backend.cursor import ListingCursor
from yoi.backend.policy import Operation, PassThrough, Policy
from yoi.backend.sanitize import Scrubber
from yoi.backend.sources import RuntimeSource
from yoi.backend.views import ListingProblem, Projection, RuntimeView, project_worker
from yoi.errors import (
    ConfigBundleMissing,
    InvalidCursor,
    InvalidRequest,
    LimitTooLarge,
    RuntimeNotFound,
    YoiError,
)
from yoi.ids import validate_id
from yoi.runtime import CreateWorkerRequest, Input, WorkerPage, WorkerStatus

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "RuntimeRegistry", "with_bundle"]

DEFAULT_PAGE = 100
MAX_PAGE = 500


class RuntimeRegistry:
    def __init__(
        self,
        sources: Iterable[RuntimeSource] = (),
        *,
        policy: Policy | None = None,
        scrubber: Scrubber | None = None,
    ) -> None:
        self._sources: dict[str, RuntimeSource] = {}
        self.policy: Policy = policy or PassThrough()
        self.scrubber = scrubber or Scrubber()
        for source in sources:
            self.add(source)

    def add(self, source: RuntimeSource) -> None:
        if source.runtime_id in self._sources:
            raise InvalidRequest(f"two runtimes are called {source.runtime_id}")
        self._sources[source.runtime_id] = source

    @property
    def sources(self) -> Sequence[RuntimeSource]:
        return tuple(self._sources.values())

    def source(self, runtime_id: str) -> RuntimeSource:
        validate_id(runtime_id, field="runtime_id")
        found = self._sources.get(runtime_id)
        if found is None:
            raise RuntimeNotFound(
                f"there is no runtime {runtime_id}", details={"runtime_id": runtime_id}
            )
        return found

    # -- runtimes ----------------------------------------------------------------

    async def list_runtimes(self) -> list[Projection]:
        operation = Operation("list_runtimes")
        async with self._outgoing(operation):
            views = await asyncio.gather(*(source.describe() for source in self.sources))
            return [self._project(operation, self._view(view)) for view in views]

    async def get_runtime(self, runtime_id: str) -> Projection:
        operation = Operation("get_runtime", runtime_id)
        async with self._outgoing(operation):
            view = await self.source(runtime_id).describe()
            return self._project(operation, self._view(view))

    # -- workers -----------------------------------------------------------------

    async def list_workers(
        self,
        *,
        runtime_id: str | None = None,
        status: WorkerStatus | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Projection:
        """Workers across runtimes, in runtime order, a page at a time (``next_after``)."""
        operation = Operation("list_workers", runtime_id)
        async with self._outgoing(operation):
            size = _page_size(limit)
            sources = [self.source(runtime_id)] if runtime_id is not None else list(self.sources)
            start = None if after is None else ListingCursor.decode(after)
            sources = _from(sources, start)
            pages = await asyncio.gather(
                *(self._page(source, status, size, start) for source in sources)
            )
            listing = _Listing(size)
            for source, page in zip(sources, pages, strict=True):
                listing.take(source.runtime_id, page)
            body: Projection = {
                "workers": listing.workers,
                "diagnostics": [self._problem(problem) for problem in listing.problems],
                "next_after": listing.next_after,
            }
            return self._project(operation, body)

    async def _page(
        self,
        source: RuntimeSource,
        status: WorkerStatus | None,
        size: int,
        start: ListingCursor | None,
    ) -> WorkerPage | YoiError:
        if source.status == "unavailable":
            return source.unavailable_error()
        after = start.after if start is not None and start.runtime_id == source.runtime_id else ""
        try:
            return await source.call(
                lambda api: api.list_workers(status=status, limit=size, after=after or None)
            )
        except InvalidRequest as error:
            if error.details.get("field") == "after":
                raise InvalidCursor(
                    f"the listing cursor names a worker runtime {source.runtime_id} no longer "
                    "has; list again from the start",
                    details={"field": "after"},
                ) from error
            return error
        except YoiError as error:
            return error

    async def create_worker(self, runtime_id: str, request: CreateWorkerRequest) -> Projection:
        """Create a worker; a workspace profile name gets the workspace bundle's reference."""
        operation = Operation("create_worker", runtime_id, request.worker_id)
        async with self._outgoing(operation):
            source = self.source(runtime_id)
            detail = await source.create_worker(with_bundle(source, request))
            return self._project(operation, project_worker(detail, runtime_id))

    async def get_worker(self, runtime_id: str, worker_id: str) -> Projection:
        operation = Operation("get_worker", runtime_id, worker_id)
        async with self._outgoing(operation):
            detail = await self.source(runtime_id).call(lambda api: api.get_worker(worker_id))
            return self._project(operation, project_worker(detail, runtime_id))

    async def send_input(self, runtime_id: str, worker_id: str, item: Input) -> Projection:
        operation = Operation("send_input", runtime_id, worker_id)
        async with self._outgoing(operation):
            ack = await self.source(runtime_id).call(lambda api: api.send_input(worker_id, item))
            return self._project(operation, ack.to_dict())

    async def stop_worker(
        self, runtime_id: str, worker_id: str, reason: str | None = None
    ) -> Projection:
        operation = Operation("stop_worker", runtime_id, worker_id)
        async with self._outgoing(operation):
            source = self.source(runtime_id)
            ack = await source.call(lambda api: api.stop_worker(worker_id, reason))
            return self._project(operation, ack.to_dict())

    async def cancel_worker(self, runtime_id: str, worker_id: str) -> Projection:
        operation = Operation("cancel_worker", runtime_id, worker_id)
        async with self._outgoing(operation):
            ack = await self.source(runtime_id).call(lambda api: api.cancel_worker(worker_id))
            return self._project(operation, ack.to_dict())

    async def answer_approval(
        self, runtime_id: str, worker_id: str, approval_id: str, decision: str
    ) -> Projection:
        operation = Operation("answer_approval", runtime_id, worker_id)
        async with self._outgoing(operation):
            source = self.source(runtime_id)
            ack = await source.call(
                lambda api: api.answer_approval(worker_id, approval_id, decision)
            )
            return self._project(operation, ack.to_dict())

    async def transcript(
        self, runtime_id: str, worker_id: str, start: int = 1, limit: int | None = None
    ) -> Projection:
        operation = Operation("transcript", runtime_id, worker_id)
        async with self._outgoing(operation):
            source = self.source(runtime_id)
            page = await source.call(lambda api: api.transcript(worker_id, start, limit))
            return self._project(operation, page.to_dict())

    async def admit_observation(self, runtime_id: str, worker_id: str) -> RuntimeSource:
        """The source to observe ``worker_id`` on, once the policy admits it."""
        validate_id(worker_id, field="worker_id")
        async with self._outgoing(Operation("observe", runtime_id, worker_id)):
            return self.source(runtime_id)

    # -- the way out -------------------------------------------------------------

    @asynccontextmanager
    async def _outgoing(self, operation: Operation) -> AsyncIterator[None]:
        """Admit ``operation``; whatever error leaves, leaves scrubbed."""
        try:
            await self.policy.admit(operation)
            yield
        except YoiError as error:
            raise self.scrubber.error(error) from None

    def _project(self, operation: Operation, projection: Projection) -> Projection:
        return self.policy.project(operation, projection)

    def _view(self, view: RuntimeView) -> Projection:
        """A runtime's view; its diagnostics are free text from the runtime, so scrubbed."""
        body = view.to_dict()
        body["diagnostics"] = self.scrubber.value(body["diagnostics"])
        return body

    def _problem(self, problem: ListingProblem) -> Projection:
        return {**problem.to_dict(), "message": self.scrubber.text(problem.message)}


class _Listing:
    """Assembles one page from the runtimes' answers, in order."""

    def __init__(self, size: int) -> None:
        self._room = size
        self.workers: list[Projection] = []
        self.problems: list[ListingProblem] = []
        self.next_after: str | None = None

    def take(self, runtime_id: str, page: WorkerPage | YoiError) -> None:
        if isinstance(page, YoiError):
            self.problems.append(ListingProblem(runtime_id, page.code, page.message))
            return
        if self.next_after is not None:
            return
        if self._room == 0:
            if page.items:
                self.next_after = ListingCursor(runtime_id, "").encode()
            return
        items = page.items[: self._room]
        self.workers.extend(project_worker(item, runtime_id) for item in items)
        self._room -= len(items)
        if len(items) < len(page.items) or page.next_after is not None:
            self.next_after = ListingCursor(runtime_id, items[-1].worker_id).encode()


def _from(sources: list[RuntimeSource], start: ListingCursor | None) -> list[RuntimeSource]:
    if start is None:
        return sources
    for index, source in enumerate(sources):
        if source.runtime_id == start.runtime_id:
            return sources[index:]
    raise InvalidCursor("the listing cursor names no runtime here", details={"field": "after"})


def _page_size(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_PAGE
    if limit < 1:
        raise InvalidRequest("limit must be a positive integer", details={"field": "limit"})
    if limit > MAX_PAGE:
        raise LimitTooLarge(
            f"limit {limit} is over the maximum of {MAX_PAGE}",
            details={"limit": limit, "max": MAX_PAGE},
        )
    return limit


def with_bundle(source: RuntimeSource, request: CreateWorkerRequest) -> CreateWorkerRequest:
    """A browser names a workspace profile; the runtime resolves it in the workspace bundle."""
    profile = request.profile
    if profile.startswith("builtin:"):
        return request
    name = "default" if profile == "runtime_default" else profile.removeprefix("named:")
    if source.status == "unavailable":
        raise source.unavailable_error()
    if source.bundle is None:
        raise ConfigBundleMissing(
            f"runtime {source.runtime_id} does not hold the workspace's profiles yet; "
            "see its diagnostics",
            details={"runtime_id": source.runtime_id},
        )
    return replace(request, profile=f"named:{name}", config_bundle=source.bundle)
