"""The integration branch and the tickets' worktrees: where approved work is merged, one ticket
at a time, and where each ticket's work is done.

The integration branch (``orchestration`` unless configured) lives in its own worktree,
``.worktree/<branch>``; each ticket works in ``.worktree/<ID>-<slug>`` on ``work/<ID>-<slug>``,
made from the integration branch's commit. ``.worktree/`` is ignored through the repository's
own ``info/exclude``, never its tracked ``.gitignore``. The person's checkout is never touched:
git runs there only to read, and to add or remove the orchestrator's own worktrees and branches.

A merge happens on a detached HEAD in the integration worktree, so the branch holds only
validated work: :meth:`Integration.merge` makes the merge commit, the caller validates the
worktree, then :meth:`Integration.advance` moves the branch to it (green) or
:meth:`Integration.undo` drops it (red). A merge waiting for that verdict survives a restart:
:meth:`Integration.pending` finds it. The branch is only ever moved by compare-and-set, from
the commit this module saw to the one it made.

Every git call goes through :class:`~yoi.runtime.workdirs.repository.Repository`, whose runner
switches off hooks, filters and the fsmonitor; in a worktree, the git directory is pinned to
the one the repository lists for it, never read from the worktree's ``.git`` file.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from yoi.errors import (
    IntegrationBranchBusy,
    InvalidRequest,
    StateConflict,
    WorkdirFailed,
    WorkdirUnmerged,
)
from yoi.orchestrator.integration_names import WORK_PREFIX, candidate_names, work_branch
from yoi.runtime.workdirs.git_files import exclude_folder, gitdir_of
from yoi.runtime.workdirs.repository import Repository, Worktree
from yoi.tickets.ids import ticket_id as canonical_ticket_id
from yoi.tools.git_runner import GitSettings

__all__ = [
    "AUTHOR",
    "DEFAULT_BRANCH",
    "FOLDER",
    "Integration",
    "KeptWork",
    "MergeConflict",
    "MergeOutcome",
    "Merged",
    "RemovedTicket",
    "SweepReport",
    "TicketWorkdir",
]

DEFAULT_BRANCH = "orchestration"
FOLDER = ".worktree"
AUTHOR = ("yoi-orchestrator", "yoi-orchestrator@localhost")
MERGE_LOOKBACK = 1000  # merges on the branch searched for one that already holds a commit


@dataclass(frozen=True, slots=True)
class TicketWorkdir:
    """A ticket's worktree as made: where, on which branch, from which integration commit."""

    ticket_id: str
    name: str
    path: Path
    branch: str
    base_commit: str


@dataclass(frozen=True, slots=True)
class Merged:
    """A merge commit on the integration worktree: ``commit`` merges ``merged`` into
    ``previous`` (the integration branch's commit when it was made)."""

    commit: str
    previous: str
    merged: str
    kind: Literal["merged"] = "merged"


@dataclass(frozen=True, slots=True)
class MergeConflict:
    """The merge could not be made: these paths conflict. The worktree is back at the branch."""

    merged: str
    paths: tuple[str, ...]
    kind: Literal["conflict"] = "conflict"


MergeOutcome = Merged | MergeConflict


@dataclass(frozen=True, slots=True)
class RemovedTicket:
    worktree_removed: bool
    branch_deleted: bool


@dataclass(frozen=True, slots=True)
class KeptWork:
    """Left in place by a sweep: it holds commits that nothing else holds, or changes not
    committed. ``path`` is ``None`` for a branch with no worktree."""

    branch: str | None
    path: Path | None
    unmerged: int
    uncommitted: int


@dataclass(frozen=True, slots=True)
class SweepReport:
    removed: tuple[str, ...]
    """Work branches (or, for a detached worktree, folder names) removed."""
    kept: tuple[KeptWork, ...]
    strays: tuple[str, ...]
    """Names in ``.worktree/`` that are no worktree of the repository: reported, not deleted."""


class Integration:
    """The integration branch of one repository and the worktrees of its tickets."""

    def __init__(self, root: Path, *, branch: str = DEFAULT_BRANCH, timeout: float = 300.0) -> None:
        """``root`` is the top of the person's checkout; ``timeout`` bounds each git call."""
        self.root = Path(os.path.realpath(root))
        self.branch = branch
        self.folder = self.root / FOLDER
        self.path = self.folder / branch.replace("/", "-")
        self._settings = GitSettings(timeout=timeout, author_name=AUTHOR[0], author_email=AUTHOR[1])
        self._repository = Repository(self.root, self._settings)
        self._lock = asyncio.Lock()
        self._common: Path | None = None

    # -- the integration branch ---------------------------------------------------

    async def ensure(self) -> str:
        """Make the branch (from ``HEAD``) and its worktree when missing; the branch's commit.
        Refuses, before anything is made, a branch checked out in any other worktree."""
        async with self._lock:
            await self._check_name()
            ours = await self._own_worktree()
            await self._exclude_folder()
            if ours is None:
                await self._make_worktree()
            elif ours.branch is None and await self._pending(ours) is None:
                await (await self._worktree()).switch(self.branch)
            return await self._tip()

    async def head(self) -> str:
        """The integration branch's commit: validated work only."""
        return await self._tip()

    async def holds(self, commit: str) -> bool:
        """Whether the integration branch holds ``commit`` (is it, or descends from it)."""
        tip = await self._tip()
        return tip == commit or await self._repository.is_ancestor(commit, tip)

    async def git_common_dir(self) -> Path:
        """The repository's git directory: what validation binds read-only."""
        if self._common is None:
            self._common = await self._repository.common_dir()
        return self._common

    async def pending(self) -> Merged | None:
        """The merge waiting in the integration worktree for its validation, if any."""
        async with self._lock:
            ours = await self._own_worktree()
            return None if ours is None else await self._pending(ours)

    async def merge(self, commit: str, message: str) -> MergeOutcome:
        """Merge ``commit`` on a detached HEAD at the branch's commit, for validation; a
        conflict leaves the worktree back on the branch, clean. A commit already merged on
        the branch, or waiting, gives that merge again instead of a second one."""
        async with self._lock:
            ours = await self._require_worktree()
            commit = await self._repository.resolve(commit)
            waiting = await self._pending(ours)
            if waiting is not None:
                if waiting.merged == commit:
                    return waiting
                raise StateConflict(
                    f"the merge of {waiting.merged[:12]} waits for its validation; "
                    "advance or undo it first",
                    details={"pending": waiting.commit},
                )
            tip = await self._tip()
            earlier = await self._merged_as(tip, commit)
            if earlier is not None:
                return earlier
            if await self._repository.is_ancestor(commit, tip):
                raise InvalidRequest(
                    f"commit {commit[:12]} holds nothing the integration branch lacks",
                    details={"commit": commit},
                )
            return await self._merge(commit, tip, message)

    async def advance(self, merged: Merged) -> None:
        """Move the branch to a validated merge and check it out again. Doing it twice is
        harmless; a branch that moved meanwhile is a ``state_conflict``."""
        async with self._lock:
            ours = await self._require_worktree()
            tip = await self._tip()
            moved = tip == merged.commit or await self._repository.move_branch(
                self.branch, merged.commit, merged.previous
            )
            if not moved:
                raise StateConflict(
                    f"branch {self.branch} moved since the merge was made; undo the merge",
                    details={"merge": merged.commit},
                )
            if ours.branch != self.branch:
                await (await self._worktree()).switch(self.branch)
            await (await self._worktree()).tidy()

    async def undo(self, merge_commit: str) -> bool:
        """Drop ``merge_commit`` when it is the merge waiting in the worktree, or the
        branch's own commit (then the branch goes back to its first parent); whether it did.
        Nothing else is ever rewritten."""
        async with self._lock:
            ours = await self._require_worktree()
            worktree = await self._worktree()
            if ours.branch is None and ours.head == merge_commit:
                await worktree.switch(self.branch)
                await worktree.tidy()
                return True
            if await self._tip() != merge_commit:
                return False
            parents = await self._repository.parents(merge_commit)
            if len(parents) != 2:
                raise InvalidRequest(f"commit {merge_commit[:12]} is not a merge to undo")
            if not await self._repository.move_branch(self.branch, parents[0], merge_commit):
                return False
            await worktree.switch(self.branch)
            await worktree.tidy()
            return True

    # -- ticket worktrees ------------------------------------------------------------

    async def prepare_ticket(
        self, ticket_id: str, title: str, *, used: Collection[str] = ()
    ) -> TicketWorkdir:
        """A worktree for the ticket on a new work branch from the integration branch's
        commit. ``used`` holds branches this ticket's runs had before: their names are never
        given again, even after the branch is gone."""
        async with self._lock:
            base = await self._tip()
            taken = set(used) | set(await self._repository.branches(WORK_PREFIX))
            listed = await self._repository.worktrees()
            for name in candidate_names(ticket_id, title):
                branch, path = work_branch(name), self.folder / name
                if branch in taken or str(path) in listed or _occupied(path):
                    continue
                await self._repository.check_branch(branch)
                await self._repository.add(path, base, branch)
                return TicketWorkdir(canonical_ticket_id(ticket_id), name, path, branch, base)
        raise AssertionError("unreachable: the candidate names never end")

    async def free_name(self, ticket_id: str, title: str, *, used: Collection[str] = ()) -> str:
        """The first ``<ID>-<slug>`` name whose work branch and folder (in either case) are
        free and that ``used`` (names this ticket had before) does not hold."""
        async with self._lock:
            taken = set(used) | set(await self._repository.branches(WORK_PREFIX))
            listed = await self._repository.worktrees()
            for name in candidate_names(ticket_id, title):
                branch, paths = work_branch(name), (self.folder / name, self.folder / name.lower())
                if branch in taken or name in used:
                    continue
                if any(str(path) in listed or _occupied(path) for path in paths):
                    continue
                return name
        raise AssertionError("unreachable: the candidate names never end")

    async def merge_into(self, worktree: Path, commit: str) -> tuple[str, ...]:
        """Merge ``commit`` into the ticket's ``worktree`` without committing, leaving conflict
        markers for its coder to resolve; the paths that conflict (none: it merged clean and
        waits for a commit all the same)."""
        pinned = await self._pinned(worktree)
        return await pinned.merge_for_resolution(commit)

    async def remove_ticket(self, path: Path, branch: str, *, force: bool = False) -> RemovedTicket:
        """Remove a ticket's worktree and its work branch. Commits that no other branch (the
        integration branch first of all), tag or remote holds are ``workdir_unmerged``
        unless ``force``; changes never committed go with the worktree."""
        path = self._ticket_path(path)
        if not branch.startswith(WORK_PREFIX):
            raise InvalidRequest(f"{branch!r} is not a work branch", details={"field": "branch"})
        async with self._lock:
            listed = (await self._repository.worktrees()).get(str(path))
            if not force:
                count = await self._unmerged(listed, branch)
                if count:
                    raise WorkdirUnmerged(
                        f"{branch} holds {count} commit(s) the integration branch does not; "
                        "remove it with force to drop them",
                        details={"unmerged": count},
                    )
            return await self._remove(listed, path, branch)

    async def sweep(self, active: Collection[str]) -> SweepReport:
        """Remove the worktrees and work branches of finished runs — all but ``active`` (the
        branches of runs in flight) — and report, keeping them, those holding unmerged commits
        or uncommitted changes, and folders in ``.worktree/`` git does not know."""
        async with self._lock:
            await self._repository.prune()
            listed = await self._repository.worktrees()
            branches = await self._repository.branches(WORK_PREFIX)
            mine = {
                Path(key): tree
                for key, tree in listed.items()
                if Path(key).parent == self.folder and Path(key) != self.path
            }
            claimed = {tree.branch for tree in listed.values()}  # checked out: not a leftover
            removed: list[str] = []
            kept: list[KeptWork] = []
            leftovers: list[tuple[Worktree | None, Path | None, str | None]] = [
                (tree, path, tree.branch)
                for path, tree in sorted(mine.items())
                if tree.branch is not None  # a detached one is a person's workdir
                and tree.branch.startswith(WORK_PREFIX)
                and tree.branch not in active
            ]
            leftovers += [
                (None, None, branch) for branch in sorted(set(branches) - claimed - set(active))
            ]
            for tree, path, branch in leftovers:
                outcome = await self._sweep_one(tree, path, branch)
                if isinstance(outcome, KeptWork):
                    kept.append(outcome)
                else:
                    removed.append(outcome)
            strays = self._strays(set(mine) | {self.path})
        return SweepReport(tuple(removed), tuple(kept), strays)

    # -- helpers ---------------------------------------------------------------------

    async def _check_name(self) -> None:
        if self.branch.startswith(WORK_PREFIX):
            raise InvalidRequest(
                f"the integration branch may not be under {WORK_PREFIX}",
                details={"field": "target_branch"},
            )
        if await self._repository.branch_tip(self.branch) is None:
            try:
                await self._repository.check_branch(self.branch)
            except InvalidRequest as error:
                raise InvalidRequest(error.message, details={"field": "target_branch"}) from None

    async def _make_worktree(self) -> None:
        listed = await self._repository.worktrees()
        self._refuse_busy(listed)
        if _occupied(self.path):
            raise WorkdirFailed(
                f"{FOLDER}/{self.path.name} exists but is no worktree of the repository; "
                "move it away so the integration worktree can be made there"
            )
        if await self._repository.branch_tip(self.branch) is None:
            try:
                head = await self._repository.resolve("HEAD")
            except InvalidRequest:
                raise InvalidRequest(
                    f"the repository has no commit to start branch {self.branch} from"
                ) from None
            await self._repository.add(self.path, head, self.branch)
        else:
            await self._repository.attach(self.path, self.branch)

    def _refuse_busy(self, listed: dict[str, Worktree]) -> None:
        for key, tree in listed.items():
            if tree.branch == self.branch and Path(key) != self.path and not tree.prunable:
                where = "the repository's own checkout" if Path(key) == self.root else key
                raise IntegrationBranchBusy(
                    f"branch {self.branch} is checked out in {where}; check out another "
                    "branch there, or configure another [orchestrator] target_branch",
                    details={"branch": self.branch},
                )

    async def _own_worktree(self) -> Worktree | None:
        listed = await self._repository.worktrees()
        self._refuse_busy(listed)
        ours = listed.get(str(self.path))
        if ours is not None and ours.prunable:
            await self._repository.prune()
            return None
        if ours is not None and ours.branch not in (None, self.branch):
            raise WorkdirFailed(
                f"{FOLDER}/{self.path.name} holds branch {ours.branch}, not {self.branch}; "
                "remove that worktree so the integration worktree can be made"
            )
        return ours

    async def _require_worktree(self) -> Worktree:
        ours = await self._own_worktree()
        if ours is None:
            raise WorkdirFailed("the integration worktree is missing; ensure() makes it")
        return ours

    async def _pending(self, ours: Worktree) -> Merged | None:
        if ours.branch is not None or ours.head is None:
            return None
        parents = await self._repository.parents(ours.head)
        if len(parents) == 2 and parents[0] == await self._tip():
            return Merged(ours.head, parents[0], parents[1])
        return None

    async def _merge(self, commit: str, tip: str, message: str) -> MergeOutcome:
        worktree = await self._worktree()
        await worktree.tidy()
        await worktree.switch(None)
        output = await worktree.merge(commit, message)
        if output.code == 0:
            made = await worktree.resolve("HEAD")
            parents = await worktree.parents(made)
            if parents == (tip, commit):
                return Merged(made, tip, commit)
            failure = f"the merge made {made[:12]}, which does not merge {commit[:12]}"
        else:
            failure = output.failure(f"git merge of {commit[:12]} failed")
        conflicts = await worktree.unmerged_paths()
        await worktree.abort_merge()
        await worktree.switch(self.branch)
        await worktree.tidy()
        if conflicts:
            return MergeConflict(commit, conflicts)
        raise WorkdirFailed(failure)

    async def _merged_as(self, tip: str, commit: str) -> Merged | None:
        for merge, *parents in await self._repository.merges(tip, MERGE_LOOKBACK):
            if len(parents) == 2 and parents[1] == commit:
                return Merged(merge, parents[0], commit)
        return None

    async def _unmerged(self, listed: Worktree | None, branch: str | None) -> int:
        tip = await self._tip()
        heads = {None if branch is None else await self._repository.branch_tip(branch)}
        if listed is not None:
            heads.add(listed.head)
        counts = [
            await self._repository.unmerged(head, tip, branch) for head in heads if head is not None
        ]
        return max(counts, default=0)

    async def _remove(self, listed: Worktree | None, path: Path, branch: str) -> RemovedTicket:
        removed = listed is not None and not listed.prunable
        if removed:
            await self._repository.remove(path)
        await self._repository.prune()
        deleted = await self._repository.delete_branch(branch)
        return RemovedTicket(removed, deleted)

    async def _sweep_one(
        self, tree: Worktree | None, path: Path | None, branch: str | None
    ) -> KeptWork | str:
        """Remove one leftover (its name), or keep it when that would lose work."""
        unmerged = await self._unmerged(tree, branch)
        present = tree is not None and path is not None and not tree.prunable
        uncommitted = len(await (await self._pinned(path)).changes()) if present and path else 0
        if unmerged or uncommitted:
            return KeptWork(branch, path, unmerged, uncommitted)
        if present and path is not None:
            await self._repository.remove(path)
        if branch is not None:
            await self._repository.delete_branch(branch)
        return branch or (path.name if path is not None else "")

    def _strays(self, known: Iterable[Path]) -> tuple[str, ...]:
        try:
            names = sorted(os.listdir(self.folder))
        except OSError:
            return ()
        known_names = {path.name for path in known if path.parent == self.folder}
        return tuple(  # a runtime's spare worktree files are its own, kept on purpose
            name for name in names if name not in known_names and not name.startswith(".spare-")
        )

    def _ticket_path(self, path: Path) -> Path:
        real = Path(os.path.realpath(path))
        if real.parent != self.folder or real == self.path:
            raise InvalidRequest(
                f"only a ticket's worktree in {FOLDER}/ is removed here",
                details={"field": "path"},
            )
        return real

    async def _tip(self) -> str:
        tip = await self._repository.branch_tip(self.branch)
        if tip is None:
            raise WorkdirFailed(
                f"the integration branch {self.branch} is missing; ensure() makes it"
            )
        return tip

    async def _worktree(self) -> Repository:
        return await self._pinned(self.path)

    async def _pinned(self, path: Path) -> Repository:
        gitdir = await asyncio.to_thread(gitdir_of, await self.git_common_dir(), path)
        if gitdir is None:
            raise WorkdirFailed(f"{FOLDER}/{path.name} is no worktree of the repository")
        settings = GitSettings(
            timeout=self._settings.timeout,
            author_name=AUTHOR[0],
            author_email=AUTHOR[1],
            git_dir=gitdir,
        )
        return Repository(path, settings)

    async def _exclude_folder(self) -> None:
        await asyncio.to_thread(exclude_folder, await self.git_common_dir(), FOLDER)


def _occupied(path: Path) -> bool:
    return path.exists() or path.is_symlink()
