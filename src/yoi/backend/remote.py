"""A runtime process the backend drives over HTTP and WebSocket, through :class:`RuntimeClient`.

The runtime may be down when the backend starts, may go away and may come
back: a background probe watches it (every few seconds while it answers,
with a growing backoff while it does not), keeps its last known summary for
the view, and hands it the workspace's config bundle whenever it (re)appears.
An operation that finds it gone wakes the probe at once.

Failures come out in the backend's vocabulary, with messages the backend
writes itself (no URL, no token, no echo of what came back): connection
failure → ``runtime_unavailable``, timeout → ``runtime_timeout``, a refused
credential → ``runtime_auth_failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from yoi.backend.config import RemoteRuntimeSettings
from yoi.backend.sources import Observation, RuntimeApi, RuntimeSource
from yoi.backend.views import Availability, RuntimeView
from yoi.cancelling import cancel_and_wait
from yoi.client import RuntimeClient
from yoi.errors import (
    ConfigBundleMissing,
    ForbiddenOrigin,
    MethodNotAllowed,
    RouteNotFound,
    RuntimeAuthFailed,
    RuntimeTimeout,
    RuntimeUnavailable,
    Unauthorized,
    YoiError,
    error_class,
)
from yoi.runtime import (
    ConfigBundle,
    ConfigBundleRef,
    CreateWorkerRequest,
    Diagnostic,
    Event,
    RuntimeSummary,
    WorkerDetail,
)

__all__ = ["Probing", "RemoteSource"]

log = logging.getLogger("yoi.backend")

_FIRST_PROBE_SECONDS = 3.0
"""How long start-up waits for a runtime's first answer before going on without it."""

T = TypeVar("T")


class Probing:
    """How often a remote runtime is checked: ``interval`` while up, backoff while down."""

    def __init__(
        self, interval: float = 5.0, first_backoff: float = 0.25, max_backoff: float = 10.0
    ) -> None:
        self.interval = interval
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff


class RemoteSource(RuntimeSource):
    kind = "remote"

    def __init__(
        self,
        settings: RemoteRuntimeSettings,
        client: RuntimeClient,
        *,
        probing: Probing | None = None,
    ) -> None:
        super().__init__(settings.runtime_id, settings.display_name)
        self._client = client
        self._timeout = settings.timeout
        self._probing = probing or Probing()
        self._status: Availability = "unavailable"
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._summary: RuntimeSummary | None = None
        self._diagnostics: tuple[Diagnostic, ...] = ()
        self._problem: Diagnostic | None = Diagnostic(
            "runtime_unavailable", "the runtime has not been reached yet"
        )
        self._content: ConfigBundle | None = None
        self._refused: Diagnostic | None = None
        """Why the runtime refused the workspace bundle, if it did."""
        self._watcher: asyncio.Task[None] | None = None
        self._probed = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------

    @property
    def status(self) -> Availability:
        return self._status

    async def start(self, bundle: ConfigBundle) -> None:
        """Start probing; returns after the first probe or ``timeout``, whichever is first."""
        self._content = bundle
        self._watcher = asyncio.create_task(self._watch(), name=f"probe {self.runtime_id}")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(self._timeout, _FIRST_PROBE_SECONDS)):
                await self._probed.wait()

    async def aclose(self) -> None:
        if self._watcher is not None:
            await cancel_and_wait(self._watcher)
        await self._client.aclose()

    async def until(self, status: Availability) -> None:
        """Wait until the runtime is ``status`` (tests and tools put a deadline on it)."""
        while self._status != status:
            changed = self._changed
            await changed.wait()

    # -- the runtime API ---------------------------------------------------------

    async def describe(self) -> RuntimeView:
        if self._status == "available":
            with contextlib.suppress(YoiError):
                await self._refresh()
        problems = tuple(p for p in (self._refused, self._problem) if p is not None)
        return RuntimeView.of(
            self.runtime_id,
            self.kind,
            self._status,
            display_name=self.display_name,
            summary=self._summary,
            diagnostics=(*self._diagnostics, *problems),
        )

    async def call(self, operation: Callable[[RuntimeApi], Awaitable[T]]) -> T:
        return await self._guarded(operation(self._client))

    async def create_worker(self, request: CreateWorkerRequest) -> WorkerDetail:
        try:
            return await super().create_worker(request)
        except ConfigBundleMissing:
            if request.config_bundle is None or self._content is None:
                raise
        # The runtime lost the bundle (a memory store that restarted): hand it over again.
        await self._guarded(self._sync_bundle())
        return await super().create_worker(request)

    async def subscribe(self, worker_id: str, cursor: str | None) -> Observation:
        stream = await self._guarded(self._client.subscribe(worker_id, cursor))
        return _Translated(stream, self._translate)

    def unavailable_error(self) -> YoiError:
        problem = self._problem
        if problem is None:
            return super().unavailable_error()
        return error_class(problem.code)(problem.message, details={"runtime_id": self.runtime_id})

    # -- probing -----------------------------------------------------------------

    async def _watch(self) -> None:
        backoff = self._probing.first_backoff
        while True:
            await self._probe()
            self._probed.set()
            if self._status == "available":
                delay, backoff = self._probing.interval, self._probing.first_backoff
            else:
                delay, backoff = backoff, min(backoff * 2, self._probing.max_backoff)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _probe(self) -> None:
        """Refresh the summary, hand over the bundle if needed, and only then say available."""
        try:
            await self._refresh()
            if self.bundle is None:
                await self._guarded(self._sync_bundle())
        except YoiError as error:
            log.debug("runtime %s: %s", self.runtime_id, error.code)
            return
        self._set_status("available", None)

    async def _refresh(self) -> None:
        summary, diagnostics = await self._guarded(self._client.report())
        self._summary = summary
        self._diagnostics = tuple(diagnostics)

    async def _sync_bundle(self) -> None:
        """Hand the runtime the workspace's bundle unless it already holds it."""
        bundle = self._content
        if bundle is None:
            return
        held = {summary.digest for summary in await self._client.config_bundles()}
        if bundle.digest not in held:
            try:
                await self._client.put_config_bundle(bundle)
            except (RuntimeUnavailable, Unauthorized, ForbiddenOrigin):
                raise
            except YoiError as error:
                message = f"the workspace profiles were refused: {error.message}"
                self._refused = Diagnostic(error.code, message)
                return
        self._refused = None
        self.bundle = ConfigBundleRef(bundle.digest)

    # -- failures ----------------------------------------------------------------

    async def _guarded(self, pending: Awaitable[T]) -> T:
        try:
            result = await pending
        except YoiError as error:
            raise self._translate(error) from error
        return result

    def _translate(self, error: YoiError) -> YoiError:
        where = f"runtime {self.runtime_id}"
        details = {"runtime_id": self.runtime_id}
        translated: YoiError
        if isinstance(error, RuntimeTimeout):
            translated = RuntimeTimeout(
                f"{where} did not answer within {self._timeout:g} s", details=details
            )
        elif isinstance(error, RuntimeUnavailable | RouteNotFound | MethodNotAllowed):
            translated = RuntimeUnavailable(f"{where} is unavailable", details=details)
        elif isinstance(error, Unauthorized | ForbiddenOrigin):
            translated = RuntimeAuthFailed(
                f"{where} refused the backend's credential; check its token_env in the "
                "backend's config",
                details=details,
            )
        else:
            return error
        self._set_status("unavailable", Diagnostic(translated.code, translated.message))
        return translated

    def _set_status(self, status: Availability, problem: Diagnostic | None) -> None:
        self._problem = problem
        if status == self._status:
            return
        if status == "unavailable":
            self.bundle = None  # it may come back without it
            self._wake.set()
        log.info("runtime %s is %s", self.runtime_id, status)
        self._status = status
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


class _Translated:
    """A remote observation whose failures read in the backend's vocabulary."""

    def __init__(self, inner: Observation, translate: Callable[[YoiError], YoiError]) -> None:
        self._inner = inner
        self._translate = translate

    def __aiter__(self) -> _Translated:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self._inner.__anext__()
        except YoiError as error:
            raise self._translate(error) from error

    async def aclose(self) -> None:
        await self._inner.aclose()
