"""What leaves the backend: browser-safe projections of runtimes, workers and listings.

Each is built from named fields only. Nothing here knows how the backend
reaches a runtime, so no URL, token or path can be in a view by construction;
:mod:`yoi.backend.sanitize` is the second line for free-text messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from yoi.runtime import Diagnostic, RuntimeSummary, WorkerDetail

__all__ = [
    "Availability",
    "ListingProblem",
    "Projection",
    "RuntimeView",
    "SourceKind",
    "profile_name",
    "project_worker",
    "project_worker_dict",
]

Availability = Literal["available", "unavailable"]
SourceKind = Literal["embedded", "remote", "local"]
Projection = dict[str, object]
"""A JSON object ready for a browser."""


@dataclass(frozen=True, slots=True)
class RuntimeView:
    runtime_id: str
    display_name: str
    kind: SourceKind
    status: Availability
    capabilities: tuple[str, ...]
    tools: tuple[str, ...]
    """The tools the runtime offers its workers (by grant, profile or request)."""
    requestable_tools: tuple[str, ...]
    """The tools a create request may ask for by name (its requested capabilities)."""
    worker_count: int | None
    """None while the runtime has never answered."""
    busy_count: int | None
    model: str | None
    diagnostics: tuple[Diagnostic, ...]

    @classmethod
    def of(
        cls,
        runtime_id: str,
        kind: SourceKind,
        status: Availability,
        *,
        display_name: str | None,
        summary: RuntimeSummary | None,
        diagnostics: tuple[Diagnostic, ...],
    ) -> RuntimeView:
        return cls(
            runtime_id=runtime_id,
            display_name=display_name or (summary.display_name if summary else runtime_id),
            kind=kind,
            status=status,
            capabilities=summary.capabilities if summary else (),
            tools=summary.tools if summary else (),
            requestable_tools=summary.requestable_tools if summary else (),
            worker_count=summary.worker_count if summary else None,
            busy_count=summary.busy_count if summary else None,
            model=summary.model if summary else None,
            diagnostics=diagnostics,
        )

    def to_dict(self) -> Projection:
        return {
            "runtime_id": self.runtime_id,
            "display_name": self.display_name,
            "kind": self.kind,
            "status": self.status,
            "capabilities": list(self.capabilities),
            "tools": list(self.tools),
            "requestable_tools": list(self.requestable_tools),
            "worker_count": self.worker_count,
            "busy_count": self.busy_count,
            "model": self.model,
            "diagnostics": [item.to_dict() for item in self.diagnostics],
        }


@dataclass(frozen=True, slots=True)
class ListingProblem:
    """A runtime that could not answer a listing; the others still did."""

    runtime_id: str
    code: str
    message: str

    def to_dict(self) -> Projection:
        return {"runtime_id": self.runtime_id, "code": self.code, "message": self.message}


def project_worker(detail: WorkerDetail, runtime_id: str) -> Projection:
    """A worker as the browser sees it, under the runtime id the backend knows it by."""
    return project_worker_dict(detail.to_dict(), runtime_id)


def project_worker_dict(body: dict[str, object], runtime_id: str) -> Projection:
    """A worker's JSON form (a view or a snapshot's), keyed by the backend's runtime id.

    A remote runtime may call itself something else; the backend's
    configuration names it, so that name is the authority. The profile is
    named as the backend API names profiles (``coder``), not by the runtime's
    reference to it (``named:coder``, ``builtin:coder``).
    """
    body["runtime_id"] = runtime_id
    body["display_ref"] = f"{body.get('display_name')}@{runtime_id}"
    profile = body.get("profile")
    if isinstance(profile, str):
        body["profile"] = profile_name(profile)
    return body


def profile_name(reference: str) -> str:
    """``named:coder`` and ``builtin:coder`` → ``coder``: the name a create request takes."""
    kind, colon, name = reference.partition(":")
    return name if colon and kind in ("named", "builtin") and name else reference
