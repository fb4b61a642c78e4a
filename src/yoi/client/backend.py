"""A typed async client for the workspace backend (``yoi serve``): its ``/api`` and its streams.

Every worker is addressed by ``runtime_id + worker_id``, and answers come
back as the runtime's own views (:class:`~yoi.runtime.WorkerDetail`, acks,
transcript pages) or as the small backend views defined here. An error
envelope is raised as the library's error class (by its code); a backend
that cannot be reached is ``runtime_unavailable`` ("cannot reach the
backend"), one that is too slow ``runtime_timeout``. Messages never carry
the backend's URL or token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import quote

from yoi.client.http import query
from yoi.client.observation import RemoteSubscription, connect_stream
from yoi.client.orchestrator_events import OrchestratorEvents, connect_orchestrator_events
from yoi.client.tickets import TicketsApi
from yoi.errors import InvalidRequest, RuntimeUnavailable
from yoi.ids import validate_id
from yoi.runtime import (
    ApprovalAck,
    AssistantIntent,
    CancelAck,
    CapabilityRequest,
    Diagnostic,
    GrantRequest,
    InputAck,
    Intent,
    NewWorkdir,
    OnBusy,
    StopAck,
    TranscriptPage,
    WorkerDetail,
    WorkerStatus,
    wire,
)
from yoi.runtime.wire import (
    read_bool,
    read_optional_int,
    read_optional_str,
    read_str,
)
from yoi.tickets.ids import ticket_id as canonical_id

__all__ = [
    "BackendClient",
    "CompanionInfo",
    "ListingDiagnostic",
    "ProfileInfo",
    "RuntimeInfo",
    "WorkerListing",
    "WorkspaceInfo",
]

_PEER = "backend"
_KINDS = ("embedded", "remote", "local")


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    """A profile of the workspace's bundle, which a new worker may be created with."""

    name: str
    description: str | None
    tools: tuple[str, ...]

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> ProfileInfo:
        return cls(
            name=read_str(raw["name"]),
            description=read_optional_str(raw.get("description")),
            tools=tuple(read_str(tool) for tool in raw.get("tools", ())),
        )

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "description": self.description, "tools": list(self.tools)}


@dataclass(frozen=True, slots=True)
class WorkspaceInfo:
    name: str
    version: str
    model: str
    offline: bool
    companion_runtime_id: str
    companion_worker_id: str
    profiles: tuple[ProfileInfo, ...] = ()
    """Empty from a backend older than the profiles listing."""
    workspace_id: str | None = None
    """The workspace's stable id (``yoi.serving``); None from a backend that has none."""

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> WorkspaceInfo:
        companion = raw["companion"]
        return cls(
            name=read_str(raw["name"]),
            workspace_id=read_optional_str(raw.get("id")),
            version=read_str(raw["version"]),
            model=read_str(raw["model"]),
            offline=read_bool(raw["offline"]),
            companion_runtime_id=read_str(companion["runtime_id"]),
            companion_worker_id=read_str(companion["worker_id"]),
            profiles=tuple(ProfileInfo.read(item) for item in raw.get("profiles", ())),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "id": self.workspace_id,
            "version": self.version,
            "model": self.model,
            "offline": self.offline,
            "companion": {
                "runtime_id": self.companion_runtime_id,
                "worker_id": self.companion_worker_id,
            },
            "profiles": [profile.to_dict() for profile in self.profiles],
        }


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """A runtime as the backend shows it: never how the backend reaches it."""

    runtime_id: str
    display_name: str
    kind: Literal["embedded", "remote", "local"]
    status: Literal["available", "unavailable"]
    capabilities: tuple[str, ...]
    worker_count: int | None
    busy_count: int | None
    model: str | None
    diagnostics: tuple[Diagnostic, ...]
    tools: tuple[str, ...] = ()
    """The tools the runtime offers its workers; empty from an older backend."""
    requestable_tools: tuple[str, ...] = ()
    """What a new worker there may ask for as capabilities; empty from an older backend."""

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> RuntimeInfo:
        kind, status = raw["kind"], raw["status"]
        if kind not in _KINDS or status not in ("available", "unavailable"):
            raise ValueError("not a runtime view")
        return cls(
            runtime_id=read_str(raw["runtime_id"]),
            display_name=read_str(raw["display_name"]),
            kind=kind,
            status=status,
            capabilities=tuple(read_str(name) for name in raw["capabilities"]),
            worker_count=read_optional_int(raw["worker_count"]),
            busy_count=read_optional_int(raw["busy_count"]),
            model=read_optional_str(raw["model"]),
            diagnostics=tuple(wire.read_diagnostic(item) for item in raw["diagnostics"]),
            tools=tuple(read_str(name) for name in raw.get("tools", ())),
            requestable_tools=tuple(read_str(name) for name in raw.get("requestable_tools", ())),
        )

    def to_dict(self) -> dict[str, object]:
        body = asdict(self)
        body["capabilities"] = list(self.capabilities)
        body["tools"] = list(self.tools)
        body["requestable_tools"] = list(self.requestable_tools)
        body["diagnostics"] = [item.to_dict() for item in self.diagnostics]
        return body


@dataclass(frozen=True, slots=True)
class ListingDiagnostic:
    """A runtime that could not answer a listing; the others still did."""

    runtime_id: str
    code: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class WorkerListing:
    """One page of workers across runtimes; ``next_after`` asks for the next one."""

    workers: tuple[WorkerDetail, ...]
    diagnostics: tuple[ListingDiagnostic, ...]
    next_after: str | None

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> WorkerListing:
        return cls(
            workers=tuple(wire.read_worker(item) for item in raw["workers"]),
            diagnostics=tuple(
                ListingDiagnostic(
                    read_str(item["runtime_id"]), read_str(item["code"]), read_str(item["message"])
                )
                for item in raw["diagnostics"]
            ),
            next_after=read_optional_str(raw["next_after"]),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "workers": [item.to_dict() for item in self.workers],
            "diagnostics": [item.to_dict() for item in self.diagnostics],
            "next_after": self.next_after,
        }


@dataclass(frozen=True, slots=True)
class CompanionInfo:
    runtime_id: str
    worker_id: str
    display_name: str
    status: WorkerStatus
    model: str
    """A label for people, such as ``openai:gpt-4o-mini``."""
    offline: bool

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> CompanionInfo:
        return cls(
            runtime_id=read_str(raw["runtime_id"]),
            worker_id=read_str(raw["worker_id"]),
            display_name=read_str(raw["display_name"]),
            status=WorkerStatus(raw["status"]),
            model=read_str(raw["model"]),
            offline=read_bool(raw["offline"]),
        )

    def to_dict(self) -> dict[str, object]:
        body = asdict(self)
        body["status"] = str(self.status)
        return body


class BackendClient(TicketsApi):
    """Talk to ``yoi serve`` at ``base_url``::

    async with BackendClient("http://127.0.0.1:8787", token=token) as client:
        worker = await client.create_worker("backend-internal")
        async with await client.subscribe(worker.runtime_id, worker.worker_id) as events:
            await client.send_input(worker.runtime_id, worker.worker_id, "hello")
            ...

    ``transport`` replaces the network for REST calls (``httpx.ASGITransport``
    in tests); the observation stream always uses a real socket.
    """

    peer = _PEER
    unreachable_hint = "; is `yoi serve` running?"

    # -- the backend -----------------------------------------------------------

    async def health(self) -> bool:
        """Whether a backend answers its liveness check."""
        try:
            body = await self._call("GET", "/api/health")
        except RuntimeUnavailable:
            return False
        return body.get("status") == "ok"

    async def workspace(self) -> WorkspaceInfo:
        body = await self._call("GET", "/api/workspace")
        return self._read(WorkspaceInfo.read, body, "workspace")

    async def runtimes(self) -> tuple[RuntimeInfo, ...]:
        body = await self._call("GET", "/api/runtimes")
        found = self._read(list, body, "runtimes")
        return tuple(self._read(RuntimeInfo.read, item) for item in found)

    async def runtime(self, runtime_id: str) -> RuntimeInfo:
        body = await self._call("GET", _runtime_path(runtime_id))
        return self._read(RuntimeInfo.read, body, "runtime")

    # -- workers ---------------------------------------------------------------

    async def workers(
        self,
        runtime_id: str | None = None,
        status: WorkerStatus | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> WorkerListing:
        """A page of workers, of one runtime or of all in order; a runtime that is down
        becomes one of the listing's diagnostics."""
        if runtime_id is not None:
            validate_id(runtime_id, field="runtime_id")
        params = query(
            runtime_id=runtime_id,
            status=None if status is None else str(status),
            limit=limit,
            after=after,
        )
        body = await self._call("GET", "/api/workers", params=params)
        return self._read(WorkerListing.read, body)

    async def create_worker(
        self,
        runtime_id: str,
        *,
        worker_id: str | None = None,
        display_name: str | None = None,
        profile: str | None = None,
        intent: Intent | None = None,
        capabilities: Sequence[CapabilityRequest] = (),
        initial_input: str | None = None,
        workdir: str | NewWorkdir | None = None,
        grant: GrantRequest | None = None,
    ) -> WorkerDetail:
        """Create a worker; ``profile`` names a workspace profile (``default`` when None)
        or ``builtin:<name>``. ``workdir`` is an existing workdir's id or a new one of the
        runtime's own repository (its ``repository`` must be None: the backend names no
        paths); ``grant`` narrows the profile's grant on it."""
        payload: dict[str, object] = {}
        if worker_id is not None:
            payload["worker_id"] = validate_id(worker_id, field="worker_id")
        if display_name is not None:
            payload["display_name"] = display_name
        if profile is not None:
            payload["profile"] = profile
        if intent is not None and intent != AssistantIntent():
            payload["intent"] = asdict(intent)
        if capabilities:
            payload["requested_capabilities"] = [asdict(item) for item in capabilities]
        if initial_input is not None:
            payload["initial_input"] = initial_input
        if workdir is not None:
            payload["workdir"] = _workdir_body(workdir)
        if grant is not None:
            payload["grant"] = _grant_body(grant)
        path = f"{_runtime_path(runtime_id)}/workers"
        body = await self._call("POST", path, json=payload)
        return self._read(wire.read_worker, body, "worker")

    async def get_worker(self, runtime_id: str, worker_id: str) -> WorkerDetail:
        body = await self._call("GET", _worker_path(runtime_id, worker_id))
        return self._read(wire.read_worker, body, "worker")

    async def send_input(
        self, runtime_id: str, worker_id: str, content: str, on_busy: OnBusy = OnBusy.REJECT
    ) -> InputAck:
        payload = {"kind": "user", "content": content, "on_busy": str(on_busy)}
        path = f"{_worker_path(runtime_id, worker_id)}/input"
        body = await self._call("POST", path, json=payload)
        return self._read(wire.read_input_ack, body, "ack")

    async def stop_worker(
        self, runtime_id: str, worker_id: str, reason: str | None = None
    ) -> StopAck:
        payload = {} if reason is None else {"reason": reason}
        path = f"{_worker_path(runtime_id, worker_id)}/stop"
        body = await self._call("POST", path, json=payload)
        return self._read(wire.read_stop_ack, body, "ack")

    async def cancel_worker(self, runtime_id: str, worker_id: str) -> CancelAck:
        path = f"{_worker_path(runtime_id, worker_id)}/cancel"
        body = await self._call("POST", path, json={})
        return self._read(wire.read_cancel_ack, body, "ack")

    async def answer_approval(
        self, runtime_id: str, worker_id: str, approval_id: str, decision: str
    ) -> ApprovalAck:
        """Answer a tool call an ``ask`` rule holds: ``decision`` is ``allow`` or ``deny``."""
        approval = validate_id(approval_id, field="approval_id")
        path = f"{_worker_path(runtime_id, worker_id)}/approvals/{approval}"
        body = await self._call("POST", path, json={"decision": decision})
        return self._read(wire.read_approval_ack, body, "ack")

    async def transcript(
        self, runtime_id: str, worker_id: str, start: int = 1, limit: int | None = None
    ) -> TranscriptPage:
        path = f"{_worker_path(runtime_id, worker_id)}/transcript"
        body = await self._call("GET", path, params=query(start=start, limit=limit))
        return self._read(wire.read_transcript_page, body, "transcript")

    async def subscribe(
        self, runtime_id: str, worker_id: str, cursor: str | None = None
    ) -> RemoteSubscription:
        """Open the worker's stream: a snapshot, the events after ``cursor``, then live ones.

        The subscription's ``cursor`` is the backend cursor of the last event
        it yielded; ``Event.cursor`` is a runtime's and means nothing here.
        Refusals before the upgrade raise at once; diagnostics raise from the
        iteration; the backend shutting down ends it.
        """
        url = self._stream_url(f"{_worker_path(runtime_id, worker_id)}/events/ws")
        if cursor is not None:
            url += f"?cursor={quote(cursor, safe='')}"
        return await connect_stream(url, self._token, peer=_PEER)

    # -- the Companion -----------------------------------------------------------

    async def companion(self) -> CompanionInfo:
        body = await self._call("GET", "/api/companion")
        return self._read(CompanionInfo.read, body, "companion")

    async def send_to_companion(self, content: str, on_busy: OnBusy = OnBusy.REJECT) -> InputAck:
        payload = {"content": content, "on_busy": str(on_busy)}
        body = await self._call("POST", "/api/companion/messages", json=payload)
        return self._read(wire.read_input_ack, body, "ack")

    # -- the orchestrator ----------------------------------------------------------

    async def orchestrator(self) -> dict[str, Any]:
        """Its runs with their phases, the queued tickets that wait and why, its problems."""
        return await self._call("GET", "/api/orchestrator")

    async def explain(self, ticket_id: str) -> dict[str, Any]:
        """Why the ticket has not started: a sentence and structured reasons."""
        return await self._call("GET", f"{_ticket_path(ticket_id)}/explain")

    async def stop_run(self, ticket_id: str, by: str | None = None) -> dict[str, Any]:
        """Stop the ticket's run (its worktree is kept); the run as it is now."""
        return await self._run_command(ticket_id, "stop", by)

    async def retry_run(self, ticket_id: str, by: str | None = None) -> dict[str, Any]:
        """Start the ticket's stopped or failed run again; the new attempt."""
        return await self._run_command(ticket_id, "retry", by)

    async def decide_gate(
        self,
        ticket_id: str,
        gate: str,
        decision: str,
        *,
        note: str | None = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        """Approve or reject the ticket's run waiting at ``gate``; the run as it is now."""
        path = f"/api/orchestrator/runs/{canonical_id(ticket_id)}/gate"
        body: dict[str, object] = {"gate": gate, "decision": decision, "note": note}
        if by is not None:
            body["by"] = by
        return await self._call("POST", path, json=body)

    async def orchestrator_events(self, cursor: str | None = None) -> OrchestratorEvents:
        """Open the board's stream: a snapshot of the status, then every run's transitions;
        with ``cursor``, the transitions after it (see :mod:`yoi.client.orchestrator_events`)."""
        return await connect_orchestrator_events(self._stream_url(""), self._token, cursor=cursor)

    async def _run_command(self, ticket_id: str, verb: str, by: str | None) -> dict[str, Any]:
        path = f"/api/orchestrator/runs/{canonical_id(ticket_id)}/{verb}"
        return await self._call("POST", path, json={} if by is None else {"by": by})


def _runtime_path(runtime_id: str) -> str:
    return f"/api/runtimes/{validate_id(runtime_id, field='runtime_id')}"


def _ticket_path(ticket_id: str) -> str:
    return f"/api/tickets/{canonical_id(ticket_id)}"


def _worker_path(runtime_id: str, worker_id: str) -> str:
    return f"{_runtime_path(runtime_id)}/workers/{validate_id(worker_id, field='worker_id')}"


def _workdir_body(workdir: str | NewWorkdir) -> object:
    if isinstance(workdir, str):
        return validate_id(workdir, field="workdir")
    if workdir.repository is not None:
        raise InvalidRequest(
            "a backend makes workdirs of its runtime's own repository: it takes no path",
            details={"field": "workdir"},
        )
    made: dict[str, object] = {"base": workdir.base}
    if workdir.branch is not None:
        made["branch"] = workdir.branch
    return made


def _grant_body(grant: GrantRequest) -> dict[str, object]:
    body: dict[str, object] = {"paths": list(grant.paths)}
    if grant.capabilities is not None:
        body["capabilities"] = list(grant.capabilities)
    return body
