"""Reading the runtime's views back from their JSON forms, for clients of a remote runtime.

Each ``to_dict`` of :mod:`yoi.runtime.views` and friends has its inverse here,
so a remote runtime answers with the very types an embedded one does. A body
that does not read raises :class:`WireError`; a client reports it as the
runtime being unusable, never as a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from yoi.errors import InvalidRequest
from yoi.runtime.approvals import DECISIONS, Approval, ApprovalAck
from yoi.runtime.bundles import BundleSummary
from yoi.runtime.events import Event, EventBody, Snapshot
from yoi.runtime.grants import read_grant
from yoi.runtime.requests import CapabilityRequest
from yoi.runtime.status import WorkerStatus
from yoi.runtime.stores.codec import BadRecord, decode_body, decode_intent
from yoi.runtime.transcript import Role, ToolEntry, TranscriptEntry, TranscriptPage
from yoi.runtime.views import (
    CancelAck,
    Diagnostic,
    EventPage,
    InputAck,
    RunState,
    RuntimeSummary,
    SandboxView,
    StopAck,
    WorkerDetail,
    WorkerPage,
)
from yoi.tools.scope import Grant

__all__ = [
    "WireError",
    "read_bool",
    "read_int",
    "read_optional_int",
    "read_optional_str",
    "read_str",
    "read_approval_ack",
    "read_bundle_summary",
    "read_cancel_ack",
    "read_diagnostic",
    "read_event",
    "read_event_page",
    "read_input_ack",
    "read_runtime_summary",
    "read_stop_ack",
    "read_transcript_page",
    "read_worker",
    "read_worker_page",
]

Raw = Mapping[str, Any]


class WireError(ValueError):
    """A body that is not the JSON form of what it should be."""


def read_worker(raw: Raw) -> WorkerDetail:
    run = raw["run"]
    return WorkerDetail(
        runtime_id=read_str(raw["runtime_id"]),
        worker_id=read_str(raw["worker_id"]),
        display_name=read_str(raw["display_name"]),
        status=WorkerStatus(raw["status"]),
        intent=decode_intent(raw["intent"]),
        profile=read_str(raw["profile"]),
        model=read_str(raw["model"]),
        created_at=_time(raw["created_at"]),
        capabilities=tuple(
            CapabilityRequest(read_str(item["name"]), item.get("reason"))
            for item in raw["capabilities"]
        ),
        tools=tuple(read_str(name) for name in raw["tools"]),
        last_seq=read_int(raw["last_seq"]),
        transcript_total=read_int(raw["transcript_total"]),
        runs=read_int(raw["runs"]),
        queued_inputs=read_int(raw["queued_inputs"]),
        usage={str(key): read_int(value) for key, value in raw["usage"].items()},
        run=None if run is None else _run_state(run),
        workdir=read_optional_str(raw.get("workdir")),
        grant=_grant(raw.get("grant")),
    )


def _grant(raw: object) -> Grant | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise WireError("grant is an object")
    try:
        return read_grant(raw)
    except InvalidRequest as error:
        raise WireError(error.message) from None


def _run_state(raw: Raw) -> RunState:
    return RunState(
        run_id=read_str(raw["run_id"]),
        started_at=_time(raw["started_at"]),
        text=read_str(raw["text"]),
        thinking=read_str(raw["thinking"]),
        tools_in_flight=tuple(read_str(name) for name in raw["tools_in_flight"]),
        approvals=tuple(_approval(item) for item in raw.get("approvals", ())),
    )


def _approval(raw: Raw) -> Approval:
    return Approval(
        approval_id=read_str(raw["approval_id"]),
        run_id=read_str(raw["run_id"]),
        call_id=read_str(raw["call_id"]),
        tool=read_str(raw["tool"]),
        arguments=read_str(raw["arguments"]),
        rule=read_str(raw["rule"]),
        expires_at=_time(raw["expires_at"]),
    )


def read_worker_page(raw: Raw) -> WorkerPage:
    items = tuple(read_worker(item) for item in raw["workers"])
    return WorkerPage(items, raw["next_after"])


def read_event(raw: Raw) -> Event:
    body = raw["event"]
    return Event(read_int(raw["seq"]), _time(raw["at"]), read_str(raw["worker_id"]), _body(body))


def _body(raw: Raw) -> EventBody:
    if raw.get("type") == "snapshot":
        return Snapshot(dict(raw["worker"]), list(raw["transcript_tail"]), raw["run"])
    try:
        return decode_body(raw)
    except BadRecord as error:
        raise WireError(f"an event {error}") from error


def read_event_page(raw: Raw) -> EventPage:
    events = tuple(read_event(item) for item in raw["events"])
    return EventPage(events, read_str(raw["next_cursor"]))


def read_transcript_page(raw: Raw) -> TranscriptPage:
    items = tuple(_entry(item) for item in raw["items"])
    return TranscriptPage(items, read_int(raw["total"]), read_int(raw["start"]), raw["next_start"])


def _entry(raw: Raw) -> TranscriptEntry:
    tool = raw.get("tool")
    return TranscriptEntry(
        sequence=read_int(raw["sequence"]),
        role=Role(raw["role"]),
        content=read_str(raw["content"]),
        at=_time(raw["at"]),
        run_id=raw["run_id"],
        tool=None if tool is None else ToolEntry(**tool),
        cut=read_optional_str(raw.get("cut")),
    )


def read_input_ack(raw: Raw) -> InputAck:
    return InputAck(
        worker_id=read_str(raw["worker_id"]),
        run_id=read_str(raw["run_id"]),
        transcript_sequence=raw["transcript_sequence"],
        event_seq=read_int(raw["event_seq"]),
        queued=bool(raw["queued"]),
    )


def read_stop_ack(raw: Raw) -> StopAck:
    return StopAck(read_str(raw["worker_id"]), bool(raw["stopped"]))


def read_cancel_ack(raw: Raw) -> CancelAck:
    return CancelAck(read_str(raw["worker_id"]), bool(raw["cancelled"]))


def read_approval_ack(raw: Raw) -> ApprovalAck:
    decision = read_str(raw["decision"])
    if decision not in DECISIONS:
        raise WireError(f"an approval's decision is allow or deny, not {decision!r}")
    return ApprovalAck(read_str(raw["approval_id"]), decision)


def read_runtime_summary(raw: Raw) -> RuntimeSummary:
    return RuntimeSummary(
        runtime_id=read_str(raw["runtime_id"]),
        display_name=read_str(raw["display_name"]),
        status=read_str(raw["status"]),
        store=read_str(raw["store"]),
        model=read_str(raw["model"]),
        worker_count=read_int(raw["worker_count"]),
        busy_count=read_int(raw["busy_count"]),
        capabilities=tuple(read_str(name) for name in raw["capabilities"]),
        limits=dict(raw["limits"]),
        version=read_str(raw["version"]),
        tools=tuple(read_str(name) for name in raw.get("tools", ())),
        sandbox=_sandbox(raw.get("sandbox")),
        requestable_tools=tuple(read_str(name) for name in raw.get("requestable_tools", ())),
    )


def _sandbox(raw: object) -> SandboxView | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise WireError("sandbox is an object")
    mode, available, diagnostic = raw.get("mode"), raw.get("available"), raw.get("diagnostic", "")
    return SandboxView(read_str(mode), read_bool(available), read_str(diagnostic))


def read_diagnostic(raw: Raw) -> Diagnostic:
    return Diagnostic(read_str(raw["code"]), read_str(raw["message"]), raw.get("worker_id"))


def read_bundle_summary(raw: Raw) -> BundleSummary:
    return BundleSummary(
        digest=read_str(raw["digest"]),
        revision=read_str(raw["revision"]),
        provenance={str(k): read_str(v) for k, v in raw["provenance"].items()},
        profiles=tuple(read_str(name) for name in raw["profiles"]),
        size=read_int(raw["size"]),
    )


def _time(value: object) -> float:
    return datetime.fromisoformat(read_str(value)).timestamp()


def read_int(value: object) -> int:
    """A JSON whole number (not a boolean), else :class:`WireError`."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"expected a whole number, got {type(value).__name__}")
    return value


def read_str(value: object) -> str:
    if not isinstance(value, str):
        raise WireError(f"expected a string, got {type(value).__name__}")
    return value


def read_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise WireError(f"expected true or false, got {type(value).__name__}")
    return value


def read_optional_int(value: object) -> int | None:
    return None if value is None else read_int(value)


def read_optional_str(value: object) -> str | None:
    return None if value is None else read_str(value)
