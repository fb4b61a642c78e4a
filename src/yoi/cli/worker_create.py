"""What ``yoi worker create`` asks for, and which runtime a worker that needs a workdir lands on.

A coder or reviewer is only useful on a runtime that makes workdirs: the
backend's embedded runtime makes none, so its workers get no file, shell or
git tools. Without ``--runtime``, such a worker (or any ``--workdir``) goes to
the backend's ``local`` runtime when it is available, else to the usual
default; :func:`workdir_note` says plainly when it would land without tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from yoi.runtime import CapabilityRequest, GrantRequest, Intent, NewWorkdir, WorkerDetail

if TYPE_CHECKING:
    from yoi.client.backend import BackendClient, RuntimeInfo

__all__ = [
    "DEFAULT_RUNTIME",
    "LOCAL_RUNTIME",
    "WORKDIR_PROFILES",
    "Created",
    "Order",
    "choose_runtime",
    "grant_request",
    "place_and_create",
    "workdir_note",
    "workdir_spec",
]

DEFAULT_RUNTIME = "backend-internal"
"""The backend's embedded runtime (``yoi.backend.EMBEDDED_RUNTIME_ID``)."""
LOCAL_RUNTIME = "local"
"""The runtime ``yoi serve`` starts for the workspace (``yoi.backend.config.LOCAL_RUNTIME_ID``)."""
WORKDIR_PROFILES = frozenset({"coder", "reviewer", "builtin:coder", "builtin:reviewer"})
"""Profiles whose workers work in a workdir."""
_WORKDIR_TOOL = "read_file"
"""A runtime that makes workdirs offers it; one that makes none offers no file tool at all."""


@dataclass(frozen=True, slots=True)
class Order:
    """A worker to create, as the command line asked for it; ``runtime_id`` None lets
    :func:`choose_runtime` decide."""

    runtime_id: str | None = None
    worker_id: str | None = None
    display_name: str | None = None
    profile: str | None = None
    intent: Intent | None = None
    capabilities: tuple[CapabilityRequest, ...] = ()
    initial_input: str | None = None
    workdir: str | NewWorkdir | None = None
    grant: GrantRequest | None = None

    @property
    def wants_workdir(self) -> bool:
        return self.workdir is not None or self.profile in WORKDIR_PROFILES


@dataclass(frozen=True, slots=True)
class Created:
    detail: WorkerDetail
    notes: tuple[str, ...] = field(default=())


def workdir_spec(
    workdir: str | None, base: str | None, branch: str | None
) -> str | NewWorkdir | None:
    """``--workdir new`` (with ``--base``, default ``HEAD``, and ``--branch``) as a new workdir;
    any other value names an existing one, and takes neither."""
    if workdir == "new":
        return NewWorkdir(base or "HEAD", None, branch)
    if base is not None or branch is not None:
        raise click.UsageError("--base and --branch go with --workdir new")
    return workdir


def grant_request(bits: str | None, paths: Sequence[str]) -> GrantRequest | None:
    """``--grant read,glob`` and ``--grant-path P`` as a grant request: the backend checks the
    bits, so one that is not a capability, or that widens the profile's, is its refusal."""
    if bits is None:
        return None if not paths else GrantRequest(None, tuple(paths))
    names = tuple(name.strip() for name in bits.split(","))
    if not all(names):
        raise click.UsageError("--grant is a comma-separated list of capabilities, e.g. read,glob")
    return GrantRequest(names, tuple(paths))


def choose_runtime(order: Order, runtimes: Sequence[RuntimeInfo]) -> str:
    """The runtime named, else ``local`` for a worker that wants a workdir when that runtime
    is available, else the backend's embedded one."""
    if order.runtime_id is not None:
        return order.runtime_id
    if order.wants_workdir and any(
        _up(info) and info.runtime_id == LOCAL_RUNTIME for info in runtimes
    ):
        return LOCAL_RUNTIME
    return DEFAULT_RUNTIME


def workdir_note(order: Order, runtime: RuntimeInfo | None) -> str | None:
    """What to tell someone whose coder or reviewer would get no workdir tools there."""
    if runtime is None or order.profile not in WORKDIR_PROFILES or not _up(runtime):
        return None  # an unknown or unreachable runtime is the backend's error to report
    worker = order.profile.removeprefix("builtin:")
    if _WORKDIR_TOOL not in runtime.tools:
        return (
            f"runtime {runtime.runtime_id} makes no workdirs: this {worker} gets no file, shell "
            f"or git tools (the backend's {LOCAL_RUNTIME} runtime does; name one with --runtime)"
        )
    if order.workdir is None:
        return f"no --workdir: this {worker} gets no file, shell or git tools (--workdir new)"
    return None


async def place_and_create(client: BackendClient, order: Order) -> Created:
    """Create the worker on the runtime :func:`choose_runtime` picks, with notes for people."""
    notes: list[str] = []
    runtime_id = order.runtime_id or DEFAULT_RUNTIME
    if order.wants_workdir:
        runtimes = await client.runtimes()
        runtime_id = choose_runtime(order, runtimes)
        found = next((info for info in runtimes if info.runtime_id == runtime_id), None)
        note = workdir_note(order, found)
        if note is not None:
            notes.append(note)
    detail = await client.create_worker(
        runtime_id,
        worker_id=order.worker_id,
        display_name=order.display_name,
        profile=order.profile,
        intent=order.intent,
        capabilities=order.capabilities,
        initial_input=order.initial_input,
        workdir=order.workdir,
        grant=order.grant,
    )
    return Created(detail, tuple(notes))


def _up(runtime: RuntimeInfo) -> bool:
    return runtime.status == "available"
