"""How records are written as JSON lines and read back.

Every log line starts with ``{"seq":N,`` so a reader can find a record's key
without parsing the whole line. Decoding checks shapes strictly: a line that
does not decode raises :class:`BadRecord`, which the store turns into a
``store_corrupt`` diagnostic naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from yoi.errors import InvalidRequest
from yoi.runtime import events as ev
from yoi.runtime.grants import grant_dict, read_grant
from yoi.runtime.records import WorkerRecord
from yoi.runtime.requests import (
    AssistantIntent,
    CapabilityRequest,
    Intent,
    RoleIntent,
    TaskIntent,
)
from yoi.runtime.transcript import Role, ToolEntry, TranscriptEntry

__all__ = [
    "BadRecord",
    "decode_body",
    "decode_event",
    "decode_identity",
    "decode_intent",
    "decode_transcript",
    "encode_event",
    "encode_identity",
    "encode_transcript",
    "is_delta",
    "line_key",
]

_KEY_PREFIX = b'{"seq":'
_DELTAS = (b'"event":{"type":"text_delta"', b'"event":{"type":"thinking_delta"')

_BODIES: dict[str, type[ev.EventBody]] = {
    body.type: body
    for body in (
        ev.WorkerCreated,
        ev.StatusChanged,
        ev.InputAccepted,
        ev.RunStarted,
        ev.TextDeltaEvent,
        ev.TextDoneEvent,
        ev.ThinkingDeltaEvent,
        ev.ThinkingDoneEvent,
        ev.ToolCallStartedEvent,
        ev.ToolCallFinishedEvent,
        ev.ApprovalRequested,
        ev.ApprovalResolved,
        ev.UsageEvent,
        ev.RunFinished,
        ev.WorkerStoppedEvent,
        ev.ErrorEvent,
    )
}

_FIELDS = {kind: tuple(item.name for item in fields(kind)) for kind in _BODIES.values()}


class BadRecord(ValueError):
    """A stored line that does not decode into the record it should hold."""


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _loads(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRecord("not valid JSON") from error
    if not isinstance(value, dict):
        raise BadRecord("not a JSON object")
    return value


def line_key(line: bytes) -> int:
    """The ``seq`` of a stored line, read from its prefix alone."""
    if not line.startswith(_KEY_PREFIX):
        raise BadRecord('does not start with {"seq":')
    end = line.find(b",", len(_KEY_PREFIX))
    try:
        return int(line[len(_KEY_PREFIX) : end])
    except ValueError as error:
        raise BadRecord("has no integer seq") from error


# -- events ---------------------------------------------------------------


def is_delta(line: bytes) -> bool:
    """Whether a stored event line is a text or thinking delta, without parsing it.

    JSON escapes every quote inside a string, so these bytes can only be the
    record's own structure, never text inside it.
    """
    return any(marker in line for marker in _DELTAS)


def encode_event(event: ev.Event) -> bytes:
    body = event.event.to_dict()
    return _dumps({"seq": event.seq, "at": event.at, "worker_id": event.worker_id, "event": body})


def decode_event(line: bytes, worker_id: str) -> ev.Event:
    raw = _loads(line)
    seq, at, owner, body = raw.get("seq"), raw.get("at"), raw.get("worker_id"), raw.get("event")
    if not isinstance(seq, int) or not isinstance(at, int | float) or not isinstance(body, dict):
        raise BadRecord("is not an event record")
    if owner != worker_id:
        raise BadRecord(f"belongs to worker {owner!r}, not {worker_id}")
    return ev.Event(seq, float(at), owner, decode_body(body))


def decode_body(body: Mapping[str, Any]) -> ev.EventBody:
    """A logged event body from its JSON object (never a ``snapshot``, which is not logged)."""
    kind = _BODIES.get(str(body.get("type")))
    if kind is None:
        raise BadRecord(f"has an unknown event type {body.get('type')!r}")
    values: dict[str, Any] = {name: body[name] for name in _FIELDS[kind] if name in body}
    try:
        return kind(**values)
    except TypeError as error:
        raise BadRecord(f"is not a valid {kind.type} event") from error


# -- transcript -----------------------------------------------------------


def encode_transcript(entry: TranscriptEntry, worker_id: str) -> bytes:
    tool = entry.tool
    record: dict[str, object] = {
        "seq": entry.sequence,
        "worker_id": worker_id,
        "role": str(entry.role),
        "content": entry.content,
        "at": entry.at,
        "run_id": entry.run_id,
        "tool": None
        if tool is None
        else [tool.call_id, tool.name, tool.result, tool.is_error, tool.summary]
        + ([True] if tool.truncated else []),  # five fields, as in older records, unless cut
    }
    if entry.cut is not None:  # absent, as in records older than the field
        record["cut"] = entry.cut
    return _dumps(record)


def decode_transcript(line: bytes, worker_id: str) -> TranscriptEntry:
    raw = _loads(line)
    if raw.get("worker_id") != worker_id:
        raise BadRecord(f"belongs to worker {raw.get('worker_id')!r}, not {worker_id}")
    try:
        tool = raw["tool"]
        entry = TranscriptEntry(
            _int(raw["seq"]),
            Role(raw["role"]),
            _str(raw["content"]),
            float(raw["at"]),
            _optional_str(raw["run_id"]),
            None if tool is None else _tool(tool),
            _optional_str(raw.get("cut")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise BadRecord("is not a transcript entry") from error
    return entry


def _tool(value: object) -> ToolEntry:
    if not isinstance(value, list) or len(value) not in (5, 6):
        raise TypeError("tool")
    call_id, name, result, is_error, summary = value[:5]
    truncated = len(value) == 6 and value[5] is True
    return ToolEntry(
        _str(call_id), _str(name), bool(result), bool(is_error), _optional_str(summary), truncated
    )


# -- worker identity --------------------------------------------------------


def encode_identity(runtime_id: str, record: WorkerRecord) -> dict[str, object]:
    """What never changes about a worker: who it is and what it was created with."""
    intent = record.intent
    return {
        "runtime_id": runtime_id,
        "worker_id": record.worker_id,
        "display_name": record.display_name,
        "intent": {item.name: getattr(intent, item.name) for item in fields(intent)},
        "profile": record.profile,
        "created_at": record.created_at,
        "capabilities": [[c.name, c.reason] for c in record.capabilities],
        "tools": list(record.tools),
        "config_bundle": record.config_bundle,
        "workdir": record.workdir,
        "grant": None if record.grant is None else grant_dict(record.grant),
    }


def decode_identity(raw: Mapping[str, Any], runtime_id: str, worker_id: str) -> WorkerRecord:
    if raw.get("runtime_id") != runtime_id:
        raise BadRecord(f"belongs to runtime {raw.get('runtime_id')!r}, not {runtime_id}")
    if raw.get("worker_id") != worker_id:
        raise BadRecord(f"belongs to worker {raw.get('worker_id')!r}, not {worker_id}")
    try:
        return WorkerRecord(
            worker_id=worker_id,
            display_name=_str(raw["display_name"]),
            intent=decode_intent(raw["intent"]),
            profile=_str(raw["profile"]),
            created_at=float(raw["created_at"]),
            capabilities=tuple(
                CapabilityRequest(_str(name), _optional_str(reason))
                for name, reason in raw["capabilities"]
            ),
            tools=tuple(_str(name) for name in raw["tools"]),
            config_bundle=_optional_str(raw["config_bundle"]),
            # Records written before workdirs existed have neither field.
            workdir=_optional_str(raw.get("workdir")),
            grant=None if raw.get("grant") is None else read_grant(raw["grant"]),
        )
    except (KeyError, TypeError, ValueError, InvalidRequest) as error:
        raise BadRecord("is not a worker record") from error


def decode_intent(raw: object) -> Intent:
    if not isinstance(raw, dict):
        raise TypeError("intent")
    match raw.get("kind"):
        case "assistant":
            return AssistantIntent(purpose=_optional_str(raw.get("purpose")))
        case "task":
            return TaskIntent(objective=_str(raw["objective"]))
        case "role":
            return RoleIntent(role=_str(raw["role"]), purpose=_optional_str(raw.get("purpose")))
    raise ValueError("intent kind")


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("int")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("str")
    return value


def _optional_str(value: object) -> str | None:
    return None if value is None else _str(value)
