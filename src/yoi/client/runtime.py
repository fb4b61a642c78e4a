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
    ApprovalAck,
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
from yoi.runtime.requests import AssistantIntent, NewWorkdir

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

    async def answer_approval(self, worker_id: str, approval_id: str, decision: str) -> ApprovalAck:
        """``allow`` or ``deny`` a tool call the worker's ``ask`` rule holds."""
        approval = validate_id(approval_id, field="approval_id")
        path = f"{_worker_path(worker_id)}/approvals/{approval}"
        body = await self._call("POST", path, json={"decision": decision})
        return self._read(wire.read_approval_ack, body, "ack")

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

    # -- workdirs --------------------------------------------------------------

    async def create_workdir(
        self, repository: str, base: str = "HEAD", *, branch: str | None = None
    ) -> dict[str, object]:
        """Make a workdir of ``repository`` (a path the runtime allows) at ``base``; the body
        of ``GET /v1/workdirs/{id}`` (ARCHITECTURE §4.6)."""
        payload: dict[str, object] = {"repository": repository, "base": base}
        if branch is not None:
            payload["branch"] = branch
        body = await self._call("POST", "/v1/workdirs", json=payload)
        return self._read(_object, body, "workdir")

    async def list_workdirs(self) -> list[dict[str, object]]:
        body = await self._call("GET", "/v1/workdirs")
        return [self._read(_object, item) for item in self._read(list, body, "workdirs")]

    async def get_workdir(self, workdir_id: str) -> dict[str, object]:
        body = await self._call("GET", _workdir_path(workdir_id))
        return self._read(_object, body, "workdir")

    async def delete_workdir(self, workdir_id: str, *, force: bool = False) -> dict[str, object]:
        """Remove a workdir and its branch; ``workdir_unmerged`` unless ``force`` when it holds
        commits no branch, tag or remote holds."""
        params = query(force="true" if force else None)
        body = await self._call("DELETE", _workdir_path(workdir_id), params=params)
        return self._read(_object, body, "deleted")

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


def _workdir_path(workdir_id: str) -> str:
    return f"/v1/workdirs/{validate_id(workdir_id, field='workdir_id')}"


def _object(raw: object) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    return {str(key): value for key, value in raw.items()}


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
    workdir = request.workdir
    if isinstance(workdir, NewWorkdir):
        made = {
            "base": workdir.base,
            "repository": workdir.repository,
            "branch": workdir.branch,
            "workdir_id": workdir.workdir_id,
        }
        body["workdir"] = {key: value for key, value in made.items() if value is not None}
    elif workdir is not None:
        body["workdir"] = workdir
    if request.grant is not None:
        grant: dict[str, object] = {"paths": list(request.grant.paths)}
        if request.grant.capabilities is not None:
            grant["capabilities"] = list(request.grant.capabilities)
        body["grant"] = grant
    return body
