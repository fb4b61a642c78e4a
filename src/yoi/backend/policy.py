"""The one place every browser-originated operation passes through.

The registry asks its :class:`Policy` to admit each operation before routing
it, and to project each answer before it leaves. A permission policy (who
may stop which worker) or a redaction policy (hide some transcripts) plugs
in here; :class:`PassThrough`, the default, allows everything unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from yoi.backend.views import Projection

__all__ = ["Operation", "PassThrough", "Policy"]


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    """The registry method: ``list_runtimes``, ``create_worker``, ``observe`` ..."""
    runtime_id: str | None = None
    worker_id: str | None = None


class Policy(Protocol):
    async def admit(self, operation: Operation) -> None:
        """Raise a :class:`~yoi.errors.YoiError` to refuse ``operation``."""

    def project(self, operation: Operation, projection: Projection) -> Projection:
        """What of ``projection`` the caller may see (an event frame's body included)."""


class PassThrough:
    async def admit(self, operation: Operation) -> None:
        return None

    def project(self, operation: Operation, projection: Projection) -> Projection:
        return projection
