"""The workdirs of one runtime: git worktrees of allowed repositories, made and removed on request.

A workdir's files live at ``<folder>/<workdir_id>``; its record is kept by a ledger (one
JSON file each for an fs store, so workdirs survive a restart; in memory otherwise). A
worktree is made before its record is written, so a crash between the two leaves a folder
no record owns, which :meth:`Workdirs.sweep` reports at the next start; nothing is
deleted on a guess. Without a durable ledger the workdirs end with the runtime: closing
deletes each one that holds no unmerged commits and keeps (and logs) the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from yoi.errors import (
    InvalidRequest,
    StoreError,
    WorkdirExists,
    WorkdirFailed,
    WorkdirNotFound,
    WorkdirUnmerged,
)
from yoi.ids import IdGenerator, validate_id
from yoi.runtime.stores.fs.store import FsStore
from yoi.runtime.stores.protocol import Store
from yoi.runtime.workdirs.disk_use import DiskUse, measure
from yoi.runtime.workdirs.git_files import exclude_folder, gitdir_of
from yoi.runtime.workdirs.ledger import FsLedger, LedgerProblem, MemoryLedger, WorkdirLedger
from yoi.runtime.workdirs.record import DeletedWorkdir, Workdir, WorkdirRecord, WorktreeState
from yoi.runtime.workdirs.repository import REMOVING, Repository, Worktree

__all__ = ["Placement", "Workdirs"]

log = logging.getLogger(__name__)

_MAX_TEXT = 1024
_SPARE = ".spare-"


@dataclass(frozen=True, slots=True)
class Placement:
    """What a worker's tools need to know of their workdir; paths stay inside the runtime."""

    path: Path
    branch: str | None
    git_common_dir: Path
    git_dir: Path


class Workdirs:
    """Makes, shows and removes the workdirs of one runtime. Open it before use."""

    def __init__(
        self,
        *,
        repositories: Sequence[str | os.PathLike[str]] = (),
        folder: Path | None = None,
        ledger: WorkdirLedger | None = None,
        clock: Callable[[], float] = time.time,
        shared: bool = False,
        spares: int = 0,
    ) -> None:
        """``repositories`` are the checkouts workdirs may be made of (absolute paths);
        ``folder`` is where worktrees go (``None``: a temporary folder made at open);
        ``shared`` says others keep worktrees in that folder too (a workspace's
        ``.worktree/``), so the sweep does not report what it finds there; ``spares`` is how
        many deleted worktrees of each repository are kept (detached, as ``.spare-*``) to be
        made the next workdir with a checkout of only what differs, instead of every file."""
        self._allowed = {_real(Path(path)) for path in repositories}
        self._folder = folder
        self._shared = shared
        self._spare_limit = max(0, spares)
        self._spares: dict[Path, list[Path]] = {}
        self._temporary = folder is None
        self._ledger = ledger if ledger is not None else MemoryLedger()
        self._clock = clock
        self._ids = IdGenerator("wd-", clock=clock)
        self._records: dict[str, WorkdirRecord] = {}
        self._claimed: set[str] = set()
        """Workdirs a create or delete is at work on: git runs outside any lock, so workdirs
        are made and removed side by side, and these claims keep two calls off one name."""
        self._claimed_branches: set[str] = set()
        self._parking: dict[Path, int] = {}
        """Spares being kept right now, by repository: they count against the limit."""
        self._excluding = asyncio.Lock()
        self._opened = False
        self.problems: tuple[LedgerProblem, ...] = ()

    @classmethod
    def beside(
        cls,
        store: Store,
        repositories: Sequence[str | os.PathLike[str]],
        *,
        folder: Path | None = None,
        spares: int = 0,
    ) -> Workdirs:
        """Workdirs kept next to ``store``: under an fs store's root (``worktrees/`` for the
        files, ``workdirs/`` for the records); for any other store, a temporary folder and
        records in memory. A ``folder`` given puts the files there instead, shared."""
        shared = folder is not None
        if isinstance(store, FsStore):
            ledger = FsLedger(store.root / "workdirs")
            files = folder if folder is not None else store.root / "worktrees"
            return cls(
                repositories=repositories,
                folder=files,
                ledger=ledger,
                shared=shared,
                spares=spares,
            )
        return cls(repositories=repositories, folder=folder, shared=shared, spares=spares)

    # -- lifecycle -------------------------------------------------------------

    async def open(self) -> None:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="yoi-worktrees-"))
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create the worktree folder: {error.strerror}") from None
        self._folder = _real(self._folder)
        records, problems = await self._ledger.load()
        self._records = {record.workdir_id: record for record in records}
        self.problems = tuple(problems)
        self._opened = True
        await asyncio.to_thread(_finish_removals, self._folder)
        await self._clear_stale_locks()
        if self._spare_limit:
            await self._find_spares()

    async def _clear_stale_locks(self) -> None:
        """Remove the ``index.lock`` a git command killed with the last runtime left in a
        workdir: until it goes, every commit there fails. Only this runtime works in its
        workdirs, and it has only just opened."""
        for workdir_id in self._records:
            with contextlib.suppress(WorkdirFailed, StoreError):
                placement = await self.placement(workdir_id)
                lock = placement.git_dir / "index.lock"
                if await asyncio.to_thread(lock.is_file):
                    await asyncio.to_thread(lock.unlink)
                    log.warning("workdir %s: removed a stale index.lock", workdir_id)

    async def close(self) -> None:
        if self._ledger.durable:
            return
        for workdir_id in list(self._records):
            try:
                await self.delete(workdir_id)
            except (WorkdirUnmerged, WorkdirFailed, StoreError) as error:
                log.warning("workdir %s is kept: %s", workdir_id, error.message)
        if self._temporary and self._folder is not None:
            with contextlib.suppress(OSError):
                self._folder.rmdir()  # only when empty: a kept worktree stays

    def sweep(self) -> tuple[str, ...]:
        """Names in the worktree folder that no record owns (reported, never deleted); none
        for a shared folder, where others' worktrees are not this runtime's to judge."""
        if self._shared:
            return ()
        try:
            names = sorted(os.listdir(self._ready()))
        except OSError:
            return ()
        return tuple(
            name for name in names if name not in self._records and not name.startswith(_SPARE)
        )

    def path(self, workdir_id: str) -> Path:
        """Where the files of the workdir live (for the runtime's tools, never for clients)."""
        return self._ready() / self._record(workdir_id).workdir_id

    @property
    def repositories(self) -> tuple[Path, ...]:
        """The repositories workdirs may be made of, in a stable order."""
        return tuple(sorted(self._allowed))

    def record(self, workdir_id: str) -> WorkdirRecord:
        """The record of a workdir (``workdir_not_found`` when there is none)."""
        return self._record(workdir_id)

    async def placement(self, workdir_id: str) -> Placement:
        """Where a worker's tools reach for this workdir: its files, its branch and the git
        directories a commit writes to. The git directories come from the repository, never
        from the worktree's own ``.git`` file, which a command inside it could rewrite."""
        record = self._record(workdir_id)
        path = self._ready() / workdir_id
        if not _is_directory(path):
            raise WorkdirFailed(f"the worktree of {workdir_id} is missing; delete the workdir")
        common = await Repository(Path(record.repository)).common_dir()
        gitdir = await asyncio.to_thread(gitdir_of, common, path)
        if gitdir is None:
            raise WorkdirFailed(f"git keeps no record of the worktree of {workdir_id}")
        return Placement(path, record.branch, common, gitdir)

    # -- operations ------------------------------------------------------------

    async def create(
        self,
        repository: str,
        base: str,
        *,
        branch: str | None = None,
        workdir_id: str | None = None,
    ) -> Workdir:
        """Make a worktree of ``repository`` at ``base`` (on a new ``branch``, or detached),
        named ``workdir_id`` when given: a name held already is ``workdir_exists``, and so
        is one whose folder is taken."""
        root = self._allowed_repository(repository)
        if workdir_id is not None:
            validate_id(workdir_id, field="workdir_id")
        base = _text(base, "base")
        if base.startswith("-"):
            raise InvalidRequest("base must not begin with '-'", details={"field": "base"})
        if branch is not None:
            branch = _text(branch, "branch")
        workdir_id = await self._claim(workdir_id, branch)
        try:
            record = await self._make(Repository(root), str(root), base, branch, workdir_id)
        finally:
            self._claimed.discard(workdir_id)
            if branch is not None:
                self._claimed_branches.discard(branch)
        return await self._inspect(record)

    async def get(self, workdir_id: str) -> Workdir:
        return await self._inspect(self._record(workdir_id))

    async def list(self) -> list[Workdir]:
        return [await self._inspect(record) for record in sorted(self._records.values(), key=_key)]

    async def delete(self, workdir_id: str, *, force: bool = False) -> DeletedWorkdir:
        """Remove the worktree and its branch, refusing to drop unmerged commits unless
        ``force``. A worktree deleted by hand is pruned and its record removed."""
        record = self._record(workdir_id)
        if workdir_id in self._claimed:
            raise WorkdirFailed(f"workdir {workdir_id} is being deleted already")
        self._claimed.add(workdir_id)
        try:
            repository = Repository(Path(record.repository))
            path = self._ready() / workdir_id
            worktree = await _listed(repository, path)
            if worktree is not None and worktree.head is not None and not force:
                await _refuse_unmerged(repository, record, worktree.head)
            removed = worktree is not None and not worktree.prunable
            if removed and not await self._park(repository, path):
                await repository.remove(path)
            branch_deleted = await _clean(repository, record.branch)
            await self._ledger.drop(workdir_id)
            self._records.pop(workdir_id, None)
        finally:
            self._claimed.discard(workdir_id)
        return DeletedWorkdir(workdir_id, removed, branch_deleted)

    # -- helpers ---------------------------------------------------------------

    async def _claim(self, named: str | None, branch: str | None) -> str:
        """The new workdir's id, held for this create (with its branch) until it is made."""
        workdir_id = self._ids.new() if named is None else named
        taken = await asyncio.to_thread(os.path.lexists, self._ready() / workdir_id)
        # From here to the claims there is no await: no other call can come between.
        if taken or workdir_id in self._records or workdir_id in self._claimed:
            raise WorkdirExists(
                f"workdir {workdir_id} exists already", details={"workdir_id": workdir_id}
            )
        if branch is not None and branch in self._claimed_branches:
            raise InvalidRequest(f"branch {branch!r} is being made for another workdir")
        self._claimed.add(workdir_id)
        if branch is not None:
            self._claimed_branches.add(branch)
        return workdir_id

    async def _make(
        self,
        repository: Repository,
        root: str,
        base: str,
        branch: str | None,
        workdir_id: str,
    ) -> WorkdirRecord:
        path = self._ready() / workdir_id
        commit = await repository.resolve(base)
        if branch is not None:
            await repository.check_branch(branch)
        await self._exclude(repository)
        if not await self._reuse(repository, path, commit, branch):
            await repository.add(path, commit, branch)
        record = WorkdirRecord(workdir_id, root, base, commit, branch, self._clock())
        try:
            await self._ledger.save(record)
        except StoreError:
            with contextlib.suppress(WorkdirFailed):
                await repository.remove(path)
                if branch is not None:
                    await repository.delete_branch(branch)
            raise
        self._records[workdir_id] = record
        return record

    async def _find_spares(self) -> None:
        """The spare folders a run before this one left, by repository."""
        try:
            names = await asyncio.to_thread(os.listdir, self._ready())
        except OSError:
            return
        for root in self._allowed:
            prefix = _spare_prefix(root)
            self._spares[root] = sorted(
                self._ready() / name for name in names if name.startswith(prefix)
            )

    async def _park(self, repository: Repository, path: Path) -> bool:
        """Keep a deleted worktree as a spare when there is room; whether it was kept."""
        root = _real(repository.root)
        spares = self._spares.setdefault(root, [])
        parking = self._parking.get(root, 0)
        if len(spares) + parking >= self._spare_limit:
            return False
        self._parking[root] = parking + 1
        spare = self._ready() / f"{_spare_prefix(root)}{self._ids.new().removeprefix('wd-')}"
        try:
            await repository.park(path, spare)
        except WorkdirFailed as error:
            log.info("a worktree is removed instead of kept: %s", error.message)
            return False
        finally:
            self._parking[root] -= 1
        spares.append(spare)
        return True

    async def _reuse(
        self, repository: Repository, path: Path, commit: str, branch: str | None
    ) -> bool:
        """Make a spare the new worktree; whether there was one that could be."""
        spares = self._spares.get(_real(repository.root), [])
        while spares:
            spare = spares.pop()
            try:
                await repository.reuse(spare, path, commit, branch)
                return True
            except WorkdirFailed as error:
                log.warning("a spare worktree cannot be used and is removed: %s", error.message)
                with contextlib.suppress(WorkdirFailed):
                    await repository.remove(path)
                await asyncio.to_thread(shutil.rmtree, spare, True)
                await asyncio.to_thread(shutil.rmtree, path, True)
                if branch is not None:
                    await repository.delete_branch(branch)
        return False

    async def _exclude(self, repository: Repository) -> None:
        """Keep the worktree folder out of ``git status`` when it lies inside the checkout."""
        folder = self._ready()
        if not folder.is_relative_to(_real(repository.root)):
            return
        inside = folder.relative_to(_real(repository.root))
        if inside.parts:
            common = await repository.common_dir()
            async with self._excluding:  # a read and a rewrite of one file
                await asyncio.to_thread(exclude_folder, common, inside.as_posix())

    async def _inspect(self, record: WorkdirRecord) -> Workdir:
        repository = Repository(Path(record.repository))
        path = self._ready() / record.workdir_id
        try:
            worktree = (await repository.worktrees()).get(str(path))
            head = worktree.head if worktree is not None else None
            unmerged = (
                None
                if head is None
                else await repository.unmerged(head, record.base_commit, record.branch)
            )
        except WorkdirFailed:
            worktree, head, unmerged = None, None, None
        present = worktree is not None and not worktree.prunable and _is_directory(path)
        disk = await asyncio.to_thread(measure, path) if present else DiskUse(0, True)
        state = WorktreeState.PRESENT if present else WorktreeState.MISSING
        return Workdir(record, state, head, disk.bytes, disk.complete, unmerged)

    def _allowed_repository(self, repository: object) -> Path:
        text = _text(repository, "repository")
        if not text.startswith("/"):
            raise InvalidRequest(
                "repository must be an absolute path", details={"field": "repository"}
            )
        root = _real(Path(text))
        if root not in self._allowed:
            raise InvalidRequest(
                "repository is not one this runtime may make workdirs of",
                details={"field": "repository"},
            )
        return root

    def _record(self, workdir_id: str) -> WorkdirRecord:
        validate_id(workdir_id, field="workdir_id")
        found = self._records.get(workdir_id)
        if found is None:
            raise WorkdirNotFound(f"no workdir {workdir_id}")
        return found

    def _ready(self) -> Path:
        if self._folder is None or not self._opened:
            raise WorkdirFailed("the workdirs are not open")
        return self._folder


async def _listed(repository: Repository, path: Path) -> Worktree | None:
    try:
        return (await repository.worktrees()).get(str(path))
    except WorkdirFailed:
        if _is_directory(repository.root):
            raise
        return None  # the repository itself is gone: only the record is left


async def _refuse_unmerged(repository: Repository, record: WorkdirRecord, head: str) -> None:
    count = await repository.unmerged(head, record.base_commit, record.branch)
    if count:
        raise WorkdirUnmerged(
            f"workdir {record.workdir_id} holds {count} commit(s) that no branch, tag or "
            "remote holds; delete it with force to drop them",
            details={"unmerged": count},
        )


async def _clean(repository: Repository, branch: str | None) -> bool:
    """Prune what git keeps of removed worktrees; whether ``branch`` was deleted."""
    if not _is_directory(repository.root):
        return False
    await repository.prune()
    return branch is not None and await repository.delete_branch(branch)


def _text(value: object, field: str) -> str:
    """A request's text as git may be given it: non-empty, bounded, no NUL, valid Unicode."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{field} must be a non-empty string", details={"field": field})
    if len(value) > _MAX_TEXT or "\x00" in value:
        raise InvalidRequest(f"{field} is too long or holds a NUL", details={"field": field})
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidRequest(f"{field} is not valid Unicode", details={"field": field}) from None
    return value


def _finish_removals(folder: Path) -> None:
    """Delete the files of worktrees whose removal a crash cut short (moved aside as
    ``.removing-*``, their git entries already gone or prunable)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            if name.startswith(REMOVING):
                shutil.rmtree(folder / name, ignore_errors=True)


def _spare_prefix(root: Path) -> str:
    """Spares are named after their repository, so several can share a folder."""
    return f"{_SPARE}{hashlib.sha256(str(root).encode()).hexdigest()[:12]}-"


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _is_directory(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _key(record: WorkdirRecord) -> tuple[float, str]:
    return (record.created_at, record.workdir_id)
