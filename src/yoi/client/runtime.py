"""A typed async client for a runtime process: the REST commands and the observation stream.

Its methods mirror :class:`~yoi.runtime.Runtime`'s and answer with the same
views, so code written against an embedded runtime works against a remote
one. An error envelope is raised as the library's own error class (by its
code); a runtime that cannot be reached, or that answers with something other
than the API, is ``runtime_unavailable``. Messages never carry the runtime's
URL or token.
"""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import quote

from yoi.client.http import JsonApi, query
from yoi.client.observation import RemoteSubscription, connect_stream
from yoi.errors import RuntimeUnavailable
from yoi.ids import validate_id
from yoi.runtime import (
    BundleSummary,
    CancelAck,
    ConfigBundle,
    CreateWorkerRequest,
    Diagnostic,
    EventPage,
    Input,
    InputAck,
    RuntimeSummary,
    StopAck,
    TranscriptPage,
    WorkerDetail,
    WorkerPage,
    WorkerStatus,
    wire,
)
from yoi.runtime.bundles import check_digest
from yoi.runtime.requests import AssistantIntent

__all__ = ["RuntimeClient"]


class RuntimeClient(JsonApi):
    """Talk to ``yoi runtime serve`` at ``base_url``::

    async with RuntimeClient("http://127.0.0.1:7701", token=token) as client:
        worker = await client.create_worker()
        await client.send_input(worker.worker_id, "hello")

    ``transport`` replaces the network for REST calls (``httpx.ASGITransport``
    in tests); the observation stream always uses a real socket.
    """

    peer = "runtime"

    # -- runtime ---------------------------------------------------------------

    async def health(self) -> bool:
        """Whether the runtime answers its liveness check."""
        try:
            await self._call("GET", "/v1/health")
        except RuntimeUnavailable:
            return False
        return True

    async def summary(self) -> RuntimeSummary:
        return (await self.report())[0]

    async def diagnostics(self) -> list[Diagnostic]:
        return (await self.report())[1]

    async def report(self) -> tuple[RuntimeSummary, list[Diagnostic]]:
        """The summary and the diagnostics together, in one request."""
        body = await self._call("GET", "/v1/runtime")
        summary = self._read(wire.read_runtime_summary, body, "runtime")
        found = self._read(list, body, "diagnostics")
        return summary, [self._read(wire.read_diagnostic, item) for item in found]

    # -- workers ---------------------------------------------------------------

    async def create_worker(self, request: CreateWorkerRequest | None = None) -> WorkerDetail:
        body = await self._call("POST", "/v1/workers", json=_create_body(request))
        return self._read(wire.read_worker, body, "worker")

    async def get_worker(self, worker_id: str) -> WorkerDetail:
        body = await self._call("GET", _worker_path(worker_id))
        return self._read(wire.read_worker, body, "worker")

    async def list_workers(
        self,
        *,
        status: WorkerStatus | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> WorkerPage:
        params = query(status=None if status is None else str(status), limit=limit, after=after)
        body = await self._call("GET", "/v1/workers", params=params)
        return self._read(wire.read_worker_page, body)

    async def send_input(self, worker_id: str, item: Input | str) -> InputAck:
        item = Input(item) if isinstance(item, str) else item
        payload = {"kind": item.kind, "content": item.content, "on_busy": str(item.on_busy)}
        body = await self._call("POST", f"{_worker_path(worker_id)}/input", json=payload)
        return self._read(wire.read_input_ack, body, "ack")

    async def stop_worker(self, worker_id: str, reason: str | None = None) -> StopAck:
        payload = {} if reason is None else {"reason": reason}
        body = await self._call("POST", f"{_worker_path(worker_id)}/stop", json=payload)
        return self._read(wire.read_stop_ack, body, "ack")

    async def cancel_worker(self, worker_id: str) -> CancelAck:
        body = await self._call("POST", f"{_worker_path(worker_id)}/cancel")
        return self._read(wire.read_cancel_ack, body, "ack")

    # -- observation -----------------------------------------------------------

    async def transcript(
        self, worker_id: str, start: int = 1, limit: int | None = None
    ) -> TranscriptPage:
        params = query(start=start, limit=limit)
        path = f"{_worker_path(worker_id)}/transcript"
        body = await self._call("GET", path, params=params)
        return self._read(wire.read_transcript_page, body, "transcript")

    async def events(
        self, worker_id: str, *, after: str | None = None, limit: int | None = None
    ) -> EventPage:
        params = query(cursor=after, limit=limit)
        body = await self._call("GET", f"{_worker_path(worker_id)}/events", params=params)
        return self._read(wire.read_event_page, body)

    async def subscribe(self, worker_id: str, cursor: str | None = None) -> RemoteSubscription:
        """Open the observation stream: a snapshot, the backlog after ``cursor``, then live events.

        Refusals before the upgrade (an unknown worker, a bad token) raise at
        once; a diagnostic on the stream is raised by the iteration.
        """
        path = f"{_worker_path(worker_id)}/events/ws"
        url = self._stream_url(path)
        if cursor is not None:
            url += f"?cursor={quote(cursor, safe='')}"
        return await connect_stream(url, self._token, open_timeout=self._timeout)

    # -- config bundles --------------------------------------------------------

    async def put_config_bundle(self, bundle: ConfigBundle) -> BundleSummary:
        """Sync ``bundle`` to the runtime under its digest; doing it twice is harmless."""
        path = f"/v1/config-bundles/{bundle.digest}"
        body = await self._call("PUT", path, json=bundle.to_dict())
        return self._read(wire.read_bundle_summary, body, "config_bundle")

    async def config_bundles(self) -> tuple[BundleSummary, ...]:
        body = await self._call("GET", "/v1/config-bundles")
        found = self._read(list, body, "config_bundles")
        return tuple(self._read(wire.read_bundle_summary, item) for item in found)

    async def config_bundle(self, digest: str) -> ConfigBundle:
        body = await self._call("GET", f"/v1/config-bundles/{check_digest(digest)}")
        return self._read(ConfigBundle.from_mapping, body, "content")


def _worker_path(worker_id: str) -> str:
    return f"/v1/workers/{validate_id(worker_id, field='worker_id')}"


def _create_body(request: CreateWorkerRequest | None) -> dict[str, object]:
    request = request or CreateWorkerRequest()
    body: dict[str, object] = {"profile": request.profile}
    if request.worker_id is not None:
        body["worker_id"] = request.worker_id
    if request.display_name is not None:
        body["display_name"] = request.display_name
    if request.intent != AssistantIntent():
        body["intent"] = asdict(request.intent)
    if request.config_bundle is not None:
        body["config_bundle"] = {"digest": request.config_bundle.digest}
    if request.requested_capabilities:
        body["requested_capabilities"] = [
            {"name": item.name, "reason": item.reason} for item in request.requested_capabilities
        ]
    if request.initial_input is not None:
        body["initial_input"] = request.initial_input
    return body
