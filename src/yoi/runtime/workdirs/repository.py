"""The git a workdir needs, run on an allowed repository through the tools' guarded runner.

Every call goes through :class:`yoi.tools.git_runner.GitRunner`: argument lists, a cleared
environment, hooks, filters and the fsmonitor off. What a request names (a base, a branch)
reaches git only after ``--end-of-options`` or as the value of a check git makes itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from yoi.errors import InvalidRequest, ScopeError, WorkdirFailed
from yoi.runtime.workdirs.admin_lock import worktree_admin
from yoi.tools.git_runner import GitFailed, GitOutput, GitRunner, GitSettings
from yoi.tools.scope import Grant, Scope

__all__ = ["REMOVING", "Repository", "Worktree"]

_LIST_LIMIT = 4_000_000
REMOVING = ".removing-"
"""The name a removed worktree's folder has while its files are deleted."""


@dataclass(frozen=True, slots=True)
class Worktree:
    """A worktree as ``git worktree list`` shows it; ``prunable`` when its files are gone."""

    path: str
    head: str | None
    branch: str | None
    prunable: bool


class Repository:
    """One allowed repository (the top of a non-bare checkout)."""

    def __init__(self, root: Path, settings: GitSettings | None = None) -> None:
        self.root = root
        self._settings = settings or GitSettings(timeout=300.0)
        self._common: Path | None = None

    async def resolve(self, base: str) -> str:
        """The commit ``base`` (a branch, tag, commit or other revision) names."""
        found = await self._run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{base}^{{commit}}"
        )
        commit = found.text.strip()
        if found.code != 0 or not commit:
            raise InvalidRequest(f"base {base!r} names no commit of the repository")
        return commit

    async def check_branch(self, branch: str) -> None:
        """Refuse a branch name git would refuse, one it would rewrite, or one that exists."""
        checked = await self._run("check-ref-format", "--branch", branch)
        if checked.code != 0 or checked.text.strip() != branch:
            raise InvalidRequest(f"branch {branch!r} is not a valid branch name")
        exists = await self._run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
        if exists.code == 0:
            raise InvalidRequest(f"branch {branch!r} already exists")

    async def add(self, path: Path, commit: str, branch: str | None) -> None:
        place = ["--no-track", "-b", branch] if branch is not None else ["--detach"]
        await self._add(path, *place, at=commit)
        await Repository(path, self._settings)._ok("checkout", "reset", "--quiet", "--hard")

    async def common_dir(self) -> Path:
        """The repository's git directory, shared by all its worktrees."""
        if self._common is not None:
            return self._common
        found = await self._run("rev-parse", "--path-format=absolute", "--git-common-dir")
        text = found.text.strip()
        if found.code != 0 or not text.startswith("/"):
            raise WorkdirFailed(found.failure("git cannot name the repository's git directory"))
        self._common = Path(text)
        return self._common

    async def park(self, path: Path, spare: Path) -> None:
        """Keep the files of the worktree at ``path`` as ``spare``, a plain folder: the
        worktree itself is gone (git no longer lists it, its branch is free), its files stay
        for :meth:`reuse`."""
        try:
            await asyncio.to_thread(_unhook, path, spare)
        except OSError as error:
            raise WorkdirFailed(f"cannot keep the worktree's files: {error.strerror}") from None
        await self.prune()

    async def reuse(self, spare: Path, path: Path, commit: str, branch: str | None) -> None:
        """A worktree at ``path`` at ``commit`` (on a new ``branch``, or detached) made of
        the files of ``spare``: only the files that differ are written, and every file git
        does not track, ignored ones included, is removed."""
        place = ["-b", branch] if branch is not None else ["--detach"]
        await self._add(path, *place, at=commit)
        try:
            await asyncio.to_thread(_move_in, spare, path)
        except OSError as error:
            raise WorkdirFailed(f"cannot move the spare's files: {error.strerror}") from None
        here = Repository(path, self._settings)
        await here._ok("reset", "reset", "--quiet", "--mixed")  # the index, files untouched
        await here._ok("reset", "reset", "--quiet", "--hard")  # only what differs written
        await here._ok("clean", "clean", "-ffdxq")

    async def remove(self, path: Path) -> None:
        """The worktree at ``path`` gone, uncommitted work and all: its folder is moved aside
        at once, its entry pruned under the worktree lock, and its files deleted after."""
        trash = path.with_name(f"{REMOVING}{path.name}-{secrets.token_hex(4)}")
        try:
            await asyncio.to_thread(_unhook, path, trash)
        except OSError as error:
            raise WorkdirFailed(f"cannot remove the worktree: {error.strerror}") from None
        await self.prune()
        await asyncio.to_thread(shutil.rmtree, trash, True)

    async def prune(self) -> None:
        async with self._admin():
            await self._ok("worktree prune", "worktree", "prune")

    async def _add(self, path: Path, *place: str, at: str) -> None:
        """The worktree's entry and its HEAD at ``at``, made under the worktree lock; its
        files are written after, outside it."""
        async with self._admin():
            add = ("worktree", "add", "--no-checkout", *place, str(path), at)
            await self._ok("worktree add", *add)

    @contextlib.asynccontextmanager
    async def _admin(self) -> AsyncIterator[None]:
        """The worktree lock: held by whatever changes the worktree list or reads every
        entry of it, since git writes an entry's files one after another."""
        async with worktree_admin(await self.common_dir(), within=self._settings.timeout):
            yield

    async def delete_branch(self, branch: str) -> bool:
        async with self._admin():  # git reads every worktree's HEAD to refuse a checked-out one
            output = await self._run("branch", "--delete", "--force", "--end-of-options", branch)
        return output.code == 0

    async def worktrees(self) -> dict[str, Worktree]:
        """Every worktree git knows of, by path."""
        async with self._admin():
            output = await self._run("worktree", "list", "--porcelain", "-z", limit=_LIST_LIMIT)
        if output.code != 0 or output.truncated:
            raise WorkdirFailed(output.failure("git worktree list failed"))
        found: dict[str, Worktree] = {}
        for block in output.stdout.decode("utf-8", "surrogateescape").split("\0\0"):
            fields = [line.partition(" ") for line in block.split("\0") if line]
            values = {key: value for key, _, value in fields}
            if "worktree" in values:
                branch = values.get("branch")
                found[values["worktree"]] = Worktree(
                    values["worktree"],
                    values.get("HEAD"),
                    branch.removeprefix("refs/heads/") if branch else None,
                    "prunable" in values,
                )
        return found

    async def unmerged(self, head: str, base: str, branch: str | None) -> int:
        """How many commits ``head`` holds that neither ``base`` nor any branch (but
        ``branch``), tag or remote-tracking ref does."""
        own = [f"--exclude={branch}"] if branch is not None else []
        output = await self._run(
            "rev-list", "--count", head, "--not", base, *own, "--branches", "--remotes", "--tags"
        )
        if output.code != 0:
            raise WorkdirFailed(output.failure("counting the workdir's unmerged commits failed"))
        return int(output.text.strip() or "0")

    # -- for an integration branch and its worktree -----------------------------

    async def branch_tip(self, branch: str) -> str | None:
        """The commit ``branch`` points at; ``None`` when there is no such branch."""
        found = await self._run(
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"refs/heads/{branch}^{{commit}}",
        )
        return (found.text.strip() or None) if found.code == 0 else None

    async def branches(self, prefix: str) -> dict[str, str]:
        """Every branch under ``prefix`` (``work/``), with the commit it points at."""
        output = await self._run(
            "for-each-ref", "--format=%(refname)%00%(objectname)", f"refs/heads/{prefix}",
            limit=_LIST_LIMIT,
        )  # fmt: skip
        if output.code != 0 or output.truncated:
            raise WorkdirFailed(output.failure("git for-each-ref failed"))
        found: dict[str, str] = {}
        for line in output.text.splitlines():
            ref, _, commit = line.partition("\0")
            found[ref.removeprefix("refs/heads/")] = commit
        return found

    async def attach(self, path: Path, branch: str) -> None:
        """A worktree at ``path`` with the existing ``branch`` checked out."""
        await self._add(path, at=branch)
        await Repository(path, self._settings)._ok("checkout", "reset", "--quiet", "--hard")

    async def parents(self, commit: str) -> tuple[str, ...]:
        found = await self._run("rev-list", "--parents", "-n", "1", "--end-of-options", commit)
        if found.code != 0:
            raise WorkdirFailed(found.failure(f"git cannot read commit {commit}"))
        return tuple(found.text.split()[1:])

    async def is_ancestor(self, commit: str, of: str) -> bool:
        """Whether ``commit`` is ``of`` or one of its ancestors."""
        found = await self._run("merge-base", "--is-ancestor", "--end-of-options", commit, of)
        if found.code not in (0, 1):
            raise WorkdirFailed(found.failure("git merge-base failed"))
        return found.code == 0

    async def merges(self, tip: str, most: int) -> list[tuple[str, ...]]:
        """The last ``most`` merges of ``tip``'s first-parent line, each with its parents."""
        output = await self._run(
            "rev-list", "--first-parent", "--merges", "--parents", f"--max-count={most}",
            "--end-of-options", tip, limit=_LIST_LIMIT,
        )  # fmt: skip
        if output.code != 0:
            raise WorkdirFailed(output.failure("git rev-list failed"))
        return [tuple(line.split()) for line in output.text.splitlines() if line]

    async def move_branch(self, branch: str, new: str, old: str) -> bool:
        """Point ``branch`` at ``new`` only while it still points at ``old``; whether it moved."""
        output = await self._run("update-ref", f"refs/heads/{branch}", new, old)
        return output.code == 0

    async def switch(self, branch: str | None) -> None:
        """Check out ``branch`` here, discarding changes to tracked files (``None``: detach
        HEAD where it is)."""
        where = ["--detach"] if branch is None else ["--force", branch]
        await self._ok("checkout", "checkout", "--quiet", "--no-recurse-submodules", *where)

    async def merge(self, commit: str, message: str) -> GitOutput:
        """Merge ``commit`` into HEAD as a merge commit, authored as the settings say."""
        return await self._run(
            "merge", "--no-ff", "--no-edit", "--no-rerere-autoupdate", "--no-verify",
            "-m", message, "--end-of-options", commit, env=self._author(),
        )  # fmt: skip

    async def merge_for_resolution(self, commit: str) -> tuple[str, ...]:
        """Merge ``commit`` into HEAD without committing (a merge already in progress is
        left as it is), for someone to resolve and commit; the paths in conflict."""
        merging = await self._run("rev-parse", "--verify", "--quiet", "MERGE_HEAD")
        if merging.code != 0:
            merged = await self._run(
                "merge", "--no-ff", "--no-commit", "--no-rerere-autoupdate", "--no-verify",
                "--end-of-options", commit, env=self._author(),
            )  # fmt: skip
            left = await self.unmerged_paths()
            if merged.code not in (0, 1) or (merged.code == 1 and not left):
                raise WorkdirFailed(merged.failure("git merge failed"))
            return left
        return await self.unmerged_paths()

    def _author(self) -> dict[str, str]:
        """Who git says made a merge: the settings' author, as author and committer."""
        settings = self._settings
        return {
            f"GIT_{role}_{key}": value
            for role in ("AUTHOR", "COMMITTER")
            for key, value in (("NAME", settings.author_name), ("EMAIL", settings.author_email))
        }

    async def unmerged_paths(self) -> tuple[str, ...]:
        """The paths the index holds in conflict, each once, in order."""
        output = await self._run("ls-files", "--unmerged", "-z", limit=_LIST_LIMIT)
        if output.code != 0:
            raise WorkdirFailed(output.failure("git ls-files failed"))
        entries = output.stdout.decode("utf-8", "surrogateescape").split("\0")
        paths = (entry.partition("\t")[2] for entry in entries if "\t" in entry)
        return tuple(dict.fromkeys(paths))

    async def abort_merge(self) -> None:
        """Give up a merge in progress, if there is one."""
        merging = await self._run("rev-parse", "--verify", "--quiet", "MERGE_HEAD")
        if merging.code == 0:
            await self._ok("merge --abort", "merge", "--abort")

    async def tidy(self) -> None:
        """Make the worktree match HEAD: tracked files reset, untracked ones removed (ignored
        ones stay: caches a validation command keeps)."""
        await self._ok("reset", "reset", "--quiet", "--hard", "HEAD")
        await self._ok("clean", "clean", "-ffdq")

    async def changes(self) -> tuple[str, ...]:
        """``git status --porcelain`` entries of what is not committed here."""
        output = await self._run("status", "--porcelain", "-z", "--untracked-files=all")
        if output.code != 0:
            raise WorkdirFailed(output.failure("git status failed"))
        return tuple(entry for entry in output.text.split("\0") if entry)

    async def _ok(self, what: str, *args: str) -> None:
        output = await self._run(*args)
        if output.code != 0:
            raise WorkdirFailed(output.failure(f"git {what} failed"))

    async def _run(
        self, *args: str, limit: int | None = None, env: Mapping[str, str] | None = None
    ) -> GitOutput:
        try:
            with Scope.open(self.root, Grant(frozenset())) as scope:
                return await GitRunner(scope, self._settings).run(*args, limit=limit, env=env)
        except ScopeError:
            raise WorkdirFailed("the repository cannot be opened") from None
        except GitFailed as error:
            raise WorkdirFailed(error.message) from None


def _unhook(path: Path, spare: Path) -> None:
    os.rename(path, spare)
    link = spare / ".git"
    if link.is_file() and not link.is_symlink():
        link.unlink()


def _move_in(spare: Path, path: Path) -> None:
    for entry in os.listdir(spare):
        if entry != ".git":
            os.rename(spare / entry, path / entry)
    shutil.rmtree(spare, ignore_errors=True)
