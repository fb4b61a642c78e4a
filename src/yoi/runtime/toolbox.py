"""The tools one worker holds: built from its profile, its grant and its workdir.

:class:`Toolbox` is what a runtime offers (its workdirs, its sandbox, its workspace tools);
:func:`build_tools` hands one worker its share.

A worker sees only the tools its grant allows: a reviewer is never offered ``write_file``,
so a refusal is not something it can argue with. Each tool still checks its capability on
every call (the scope does), so a tool handed out by mistake refuses all the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from yoi.engine.tool import Tool
from yoi.errors import InvalidRequest, UnsupportedOperation, YoiError
from yoi.runtime.profiles import Profile, WorkspaceAccess
from yoi.runtime.requests import NewWorkdir
from yoi.runtime.views import SandboxView
from yoi.runtime.workdirs import Placement, Workdirs
from yoi.tools import (
    BashTool,
    Capability,
    FileTools,
    GitSettings,
    GlobTool,
    Grant,
    GrepTool,
    ListFilesTool,
    Sandbox,
    Scope,
    SubmitIntent,
    SubmitReport,
    SubmitReview,
    git_tools,
)
from yoi.tools.sandbox import GitAuthor

__all__ = ["WORKDIR_TOOLS", "Toolbox", "WorkerTools", "build_tools"]

_NEEDS: dict[str, Capability] = {
    "read_file": Capability.READ,
    "write_file": Capability.WRITE,
    "edit_file": Capability.EDIT,
    "glob": Capability.GLOB,
    "list_files": Capability.GLOB,
    "grep": Capability.GREP,
    "bash": Capability.COMMAND,
    "git_status": Capability.READ,
    "git_diff": Capability.READ,
    "git_log": Capability.READ,
    "git_show": Capability.READ,
    "git_commit": Capability.COMMIT,
}
WORKDIR_TOOLS = tuple(_NEEDS)
"""Every tool a workdir can give, in the order a worker is offered them."""

_AUTHOR = GitAuthor("yoi worker", "worker@yoi.invalid")
_REPORTS: dict[str, type[SubmitReport] | type[SubmitReview] | type[SubmitIntent]] = {
    SubmitReport.name: SubmitReport,
    SubmitReview.name: SubmitReview,
    SubmitIntent.name: SubmitIntent,
}


@dataclass(slots=True)
class WorkerTools:
    """A worker's tools and the scope they share; close it when the worker is done with them."""

    tools: tuple[Tool, ...] = ()
    scope: Scope | None = None
    notes: tuple[str, ...] = field(default=())
    """Why a tool the grant allows is missing (no sandbox): shown in the worker's detail."""

    def close(self) -> None:
        if self.scope is not None:
            self.scope.close()
            self.scope = None


class Toolbox:
    """What a runtime's host offers its workers. Without workdirs it offers no file, search,
    shell or git tool at all (the backend's embedded runtime); without a working sandbox it
    offers no ``bash``."""

    def __init__(
        self,
        *,
        workdirs: Workdirs | None = None,
        sandbox: Sandbox | None = None,
        workspace: Sequence[Tool] = (),
        workspace_reading: Sequence[Tool] = (),
        named: Sequence[Tool] = (),
    ) -> None:
        self.workdirs = workdirs
        self.sandbox = sandbox
        self.workspace = {
            WorkspaceAccess.NONE: (),
            WorkspaceAccess.READ: tuple(workspace_reading),
            WorkspaceAccess.WRITE: tuple(workspace),
        }
        self.named = tuple(named)

    @property
    def host(self) -> frozenset[Capability]:
        """The capability bits a grant here can hold."""
        return frozenset(Capability) if self.workdirs is not None else frozenset()

    def offered(self) -> tuple[str, ...]:
        """Every tool name a worker here could be given."""
        workspace = (tool for tools in self.workspace.values() for tool in tools)
        names = {tool.name for tool in (*self.named, *workspace)}
        names |= {SubmitReport.name, SubmitReview.name, SubmitIntent.name}
        if self.workdirs is not None:
            names |= {name for name in WORKDIR_TOOLS if name != "bash"}
            if _runs_commands(self.sandbox):
                names.add("bash")
        return tuple(sorted(names))

    def sandbox_view(self) -> SandboxView | None:
        if self.workdirs is None or self.sandbox is None:
            return None
        status = self.sandbox.status
        return SandboxView(status.mode.value, status.available, status.diagnostic)

    async def workdir_for(self, spec: str | NewWorkdir | None) -> tuple[str | None, bool]:
        """The workdir a create request names, made when it asks for a new one; the flag says
        whether it was made now (and should be removed if the worker is not created)."""
        if spec is None:
            return None, False
        workdirs = self._workdirs()
        if isinstance(spec, str):
            return workdirs.record(spec).workdir_id, False
        repository = spec.repository
        if repository is None:
            if not workdirs.repositories:
                raise InvalidRequest("this runtime has no repository to make a workdir of")
            repository = str(workdirs.repositories[0])
        made = await workdirs.create(
            repository, spec.base, branch=spec.branch, workdir_id=spec.workdir_id
        )
        return made.record.workdir_id, True

    async def discard(self, workdir_id: str) -> None:
        """Remove a workdir made for a worker that was then not created."""
        with contextlib.suppress(YoiError):
            await self._workdirs().delete(workdir_id)

    async def tools_for(
        self, profile: Profile, grant: Grant, workdir_id: str | None, named: Sequence[Tool]
    ) -> WorkerTools:
        """A worker's tools. A workdir that cannot be reached (its worktree deleted by hand)
        leaves the worker its other tools and a note that says why."""
        if workdir_id is not None:
            try:
                placement = await self._workdirs().placement(workdir_id)
                return self._build(profile, grant, placement, named)
            except YoiError as error:
                found = self._build(profile, grant, None, named)
                found.notes = (f"workdir {workdir_id} is unusable: {error.message}", *found.notes)
                return found
        return self._build(profile, grant, None, named)

    def _build(
        self, profile: Profile, grant: Grant, placement: Placement | None, named: Sequence[Tool]
    ) -> WorkerTools:
        return build_tools(
            profile,
            grant,
            placement,
            sandbox=self.sandbox,
            workspace=self.workspace[profile.workspace],
            named=named,
        )

    def _workdirs(self) -> Workdirs:
        if self.workdirs is None:
            raise UnsupportedOperation(
                "this runtime makes no workdirs", details={"field": "workdir"}
            )
        return self.workdirs


def build_tools(
    profile: Profile,
    grant: Grant,
    placement: Placement | None,
    *,
    sandbox: Sandbox | None,
    workspace: Sequence[Tool] = (),
    named: Sequence[Tool] = (),
) -> WorkerTools:
    """The tools of a worker: ``named`` ones its create request asked for, its workdir's
    tools as far as ``grant`` reaches, the ``workspace`` tools its profile's access gives, and
    its profile's report tool last."""
    tools: list[Tool] = list(named)
    notes: list[str] = []
    scope = None
    if placement is not None and grant.capabilities:
        scope = Scope.open(placement.path, grant)
        offered = _workdir_tools(scope, placement, sandbox)
        tools += [tool for tool in offered if _NEEDS[tool.name] in grant.capabilities]
        if Capability.COMMAND in grant.capabilities and not _runs_commands(sandbox):
            reason = "no sandbox" if sandbox is None else sandbox.status.diagnostic
            notes.append(f"bash is unavailable: {reason}")
    tools += workspace
    report = _REPORTS.get(profile.report or "")
    if report is not None:
        tools.append(report())
    return WorkerTools(tuple(tools), scope, tuple(notes))


def _workdir_tools(scope: Scope, placement: Placement, sandbox: Sandbox | None) -> list[Tool]:
    files = FileTools(scope)
    settings = GitSettings(branch=placement.branch, git_dir=placement.git_dir)
    tools: list[Tool] = [*files.tools, GlobTool(scope), ListFilesTool(scope), GrepTool(scope)]
    if sandbox is not None and _runs_commands(sandbox):
        tools.append(
            BashTool(scope, sandbox, git_common_dir=placement.git_common_dir, author=_AUTHOR)
        )
    tools += git_tools(scope, settings)
    order = {name: index for index, name in enumerate(WORKDIR_TOOLS)}
    return sorted(tools, key=lambda tool: order[tool.name])


def _runs_commands(sandbox: Sandbox | None) -> bool:
    return sandbox is not None and sandbox.status.available
