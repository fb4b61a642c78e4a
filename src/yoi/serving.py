"""Who serves a workspace: its id, and where its ``yoi serve`` listens.

``.yoi/state/workspace-id`` names the workspace for clients: a random id made
by the first ``yoi serve``, never a path (it goes to browsers). The backend
shows it in ``/api/workspace``, so a client can tell a backend of another
workspace from its own.

``.yoi/state/backend.json`` is the record of the ``yoi serve`` running now:
its URL, pid, workspace id and start time, and no token. It is written once
the server listens (write, fsync, rename) and removed when it stops; a record
whose process is gone is stale and ignored. Clients inside the workspace use
it to find their backend.
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from yoi.workspace import Workspace

__all__ = [
    "RECORD_NAME",
    "ServeRecord",
    "ensure_workspace_id",
    "pid_alive",
    "read_record",
    "read_workspace_id",
    "remove_record",
    "write_record",
]

RECORD_NAME = "backend.json"
_ID_NAME = "workspace-id"
_ID_PREFIX = "ws-"


@dataclass(frozen=True, slots=True)
class ServeRecord:
    url: str
    pid: int
    workspace_id: str
    started_at: str
    """ISO 8601, UTC."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True) + "\n"

    @classmethod
    def parse(cls, text: str) -> ServeRecord | None:
        """The record in ``text``; None for anything else (a torn write, an older format)."""
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
            return None
        if not isinstance(raw, dict):
            return None
        url, pid = raw.get("url"), raw.get("pid")
        workspace_id, started_at = raw.get("workspace_id"), raw.get("started_at")
        if not (isinstance(url, str) and isinstance(workspace_id, str)):
            return None
        if not (isinstance(started_at, str) and type(pid) is int and pid > 0):
            return None
        return cls(url, pid, workspace_id, started_at)


def read_workspace_id(workspace: Workspace) -> str | None:
    """The workspace's id; None before any ``yoi serve`` made one."""
    try:
        text = (workspace.state / _ID_NAME).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return text if text.startswith(_ID_PREFIX) else None


def ensure_workspace_id(workspace: Workspace) -> str:
    """The workspace's id, made (and kept for good) when it has none."""
    found = read_workspace_id(workspace)
    if found is not None:
        return found
    made = _ID_PREFIX + secrets.token_hex(8)
    with suppress(FileExistsError):  # another process made it first: theirs is the id
        _write_atomically(workspace.state / _ID_NAME, made + "\n", replace=False)
    found = read_workspace_id(workspace)
    assert found is not None
    return found


def read_record(workspace: Workspace) -> ServeRecord | None:
    """The record of the ``yoi serve`` running for ``workspace``; None when there is none,
    it cannot be read, or its process is gone."""
    try:
        text = (workspace.state / RECORD_NAME).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
    record = ServeRecord.parse(text)
    if record is None or not pid_alive(record.pid):
        return None
    return record


def write_record(workspace: Workspace, record: ServeRecord) -> None:
    _write_atomically(workspace.state / RECORD_NAME, record.to_json(), replace=True)


def remove_record(workspace: Workspace, pid: int) -> None:
    """Remove the record if it is the one process ``pid`` wrote (a newer serve's stays)."""
    path = workspace.state / RECORD_NAME
    try:
        record = ServeRecord.parse(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, UnicodeDecodeError):
        return
    if record is not None and record.pid == pid:
        path.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive all the same
    return True


def _write_atomically(path: Path, text: str, *, replace: bool) -> None:
    """Write ``text`` to ``path`` whole or not at all; without ``replace``, an existing file
    wins (``FileExistsError``)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
