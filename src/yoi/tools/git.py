"""Git tools: read a workdir's history and changes, and commit to its one branch.

Git runs through :class:`GitRunner` (an argument list, never a shell, with everything the
repository's config could run switched off). Revisions a model writes are refused when
they start with ``-`` and must resolve with ``rev-parse --verify --end-of-options``; paths
pass the :class:`Scope` and reach git as literal, top-anchored pathspecs after ``--``.

``git_commit`` never rewrites history or touches another branch: it builds the commit
with ``commit-tree`` and moves only the branch the tool was made for (``settings.branch``;
``None`` means the workdir is a detached worktree and HEAD itself moves) from the parent
it read to the new commit, a compare-and-swap that fails if anything moved it meanwhile.
It refuses when HEAD is on another branch, or detached when a branch was expected. In a
worktree stopped mid-merge (``MERGE_HEAD`` in its git directory) the commit concludes the
merge: the merged heads are its further parents, a touched path that still holds conflict
markers refuses it, and the merge state is removed once the branch has moved.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from yoi.engine.tool import Tool, ToolResult
from yoi.errors import InvalidRequest, YoiError
from yoi.tools._arguments import Arguments
from yoi.tools.git_runner import (
    DIFF_FLAGS,
    GitFailed,
    GitOutput,
    GitRunner,
    GitSettings,
    one_line,
)
from yoi.tools.scope import Capability, Scope

__all__ = [
    "GitCommit",
    "GitDiff",
    "GitLog",
    "GitSettings",
    "GitShow",
    "GitStatus",
    "git_tools",
]

MAX_REVISION = 256
MAX_PATHS = 200
MAX_MESSAGE = 10_000
MAX_LOG = 200
_NOT_TICKETS = ":(top,exclude,icase).yoi/tickets"
_ROOT = PurePosixPath(".")

# -- arguments ------------------------------------------------------------------------------


def _checked_revision(revision: str) -> str:
    """A revision a model wrote, refused when it reads as an option or holds control characters."""
    if not revision or len(revision) > MAX_REVISION:
        raise InvalidRequest(f"a revision must be 1 to {MAX_REVISION} characters")
    if revision.startswith("-"):
        raise InvalidRequest(
            f"revision {one_line(revision)!r} starts with '-'; options are refused"
        )
    if any(ord(char) < 0x20 or char == "\x7f" for char in revision):
        raise InvalidRequest("a revision must not hold control characters")
    return revision


def _split_path(revision: str) -> tuple[str, str | None]:
    """``rev:path`` into its parts; ``:/text`` (a message search) has no path, and a colon
    inside ``@{…}`` or ``^{…}`` belongs to the revision."""
    if revision.startswith(":/"):
        return revision, None
    if len(revision) > 2 and revision[0] == ":" and revision[1] in "0123" and revision[2] == ":":
        return revision[:3], revision[3:]
    depth = 0
    for index, char in enumerate(revision):
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        elif char == ":" and depth == 0:
            return revision[: index + 1], revision[index + 1 :]
    return revision, None


def _bounded(output: GitOutput) -> str:
    text = output.text
    if output.truncated:
        text += f"\n[… output cut at {len(output.stdout)} bytes]"
    return text


# -- tools ---------------------------------------------------------------------------------


class _GitTool:
    """What every git tool shares: the runner, the capability it needs, the error boundary."""

    name = ""
    description = ""
    parameters: Mapping[str, object] = {}
    capability = Capability.READ

    def __init__(self, git: GitRunner) -> None:
        self._git = git

    @property
    def _scope(self) -> Scope:
        return self._git.scope

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        try:
            self._scope.require(self.capability)
            return await self._call(Arguments(arguments, quote_names=False))
        except YoiError as error:
            return ToolResult(f"{self.name} refused: {one_line(error.message)}", is_error=True)
        except OSError as error:
            return ToolResult(f"{self.name} failed: {error.strerror}", is_error=True)

    async def _call(self, arguments: Arguments) -> ToolResult:
        raise NotImplementedError

    def _pathspecs(self, paths: Sequence[str], *, write: bool = False) -> list[str]:
        """Literal, top-anchored pathspecs for checked paths; the grant's own paths when none
        are named, so a narrowed grant narrows what git shows."""
        checked = [self._scope.relative(path, write=write) for path in paths]
        if not checked:
            checked = [PurePosixPath(path) for path in self._scope.grant.paths]
        # "." names the whole workdir, which a literal pathspec would take as a file name.
        return [":(top)" if path == _ROOT else f":(top,literal){path}" for path in checked]

    async def _resolve(self, revision: str, *, peel: str = "") -> str:
        """The object id ``revision`` names (peeled to a commit with ``peel="^{commit}"``)."""
        checked = _checked_revision(revision)
        head, path = _split_path(checked)
        if path is not None:
            normal = self._scope.relative(path)
            checked = head + ("" if normal == _ROOT else str(normal))
        output = await self._git.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", checked + peel
        )
        if output.code not in (0, 1):  # --quiet: 1 is "no such object", the rest git failing
            raise GitFailed(output.failure("git rev-parse failed"))
        if output.code != 0:
            kind = "commit" if peel else "revision"
            raise InvalidRequest(f"{one_line(revision)!r} does not name a {kind} here")
        return output.text.strip()


_PATHS = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_PATHS}
_REVISION = {"type": "string", "minLength": 1, "maxLength": MAX_REVISION}


class GitStatus(_GitTool):
    name = "git_status"
    description = "Show the branch and the changed, staged and untracked files of the workdir."
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {"paths": _PATHS},
        "additionalProperties": False,
    }

    async def _call(self, arguments: Arguments) -> ToolResult:
        paths = arguments.strings("paths", most=MAX_PATHS)
        arguments.done()
        output = await self._git.run(
            "status", "--porcelain=v1", "--branch", "--untracked-files=all",
            "--ignore-submodules=all", "--", *self._pathspecs(paths),
        )  # fmt: skip
        if output.code != 0:
            return ToolResult(output.failure("git status failed"), is_error=True)
        lines = output.text.splitlines()
        branch = lines[0].removeprefix("## ") if lines else "?"
        changed = len(lines) - 1
        state = f"{changed} changed paths" if changed else "clean"
        return ToolResult(f"{one_line(branch)}: {state}", _bounded(output))


class GitDiff(_GitTool):
    name = "git_diff"
    description = (
        "Show changes as a patch with a stat: unstaged by default, staged with staged=true, "
        "against a base revision when given; optionally only for some paths."
    )
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {"staged": {"type": "boolean"}, "base": _REVISION, "paths": _PATHS},
        "additionalProperties": False,
    }

    async def _call(self, arguments: Arguments) -> ToolResult:
        staged = arguments.boolean("staged")
        base = arguments.optional_string("base")
        paths = arguments.strings("paths", most=MAX_PATHS)
        arguments.done()
        pathspecs = self._pathspecs(paths)
        target = [await self._resolve(base, peel="^{commit}")] if base is not None else []
        mode = ["--cached"] if staged else []
        stat = await self._git.run(
            "diff", *DIFF_FLAGS, "--shortstat", *mode, *target, "--", *pathspecs
        )
        if stat.code != 0:
            return ToolResult(stat.failure("git diff failed"), is_error=True)
        if not stat.text.strip():
            return ToolResult("no differences")
        patch = await self._git.run(
            "diff", *DIFF_FLAGS, "--patch-with-stat", *mode, *target, "--", *pathspecs
        )
        if patch.code != 0:
            return ToolResult(patch.failure("git diff failed"), is_error=True)
        cut = " (output cut)" if patch.truncated else ""
        return ToolResult(f"{one_line(stat.text)}{cut}", _bounded(patch))


class GitLog(_GitTool):
    name = "git_log"
    description = (
        f"List commits, newest first: max_count (1-{MAX_LOG}, default 20), from a revision "
        "(default HEAD), optionally only those touching a path."
    )
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {
            "max_count": {"type": "integer", "minimum": 1, "maximum": MAX_LOG},
            "revision": _REVISION,
            "path": {"type": "string"},
        },
        "additionalProperties": False,
    }

    async def _call(self, arguments: Arguments) -> ToolResult:
        count = arguments.integer("max_count", 20, 1, MAX_LOG)
        path = arguments.optional_string("path")
        revision = arguments.optional_string("revision")
        arguments.done()
        if revision is None and await self._unborn():
            return ToolResult("no commits yet")
        start = await self._resolve(revision or "HEAD", peel="^{commit}")
        output = await self._git.run(
            "log", "--no-decorate", "--no-show-signature", f"--max-count={count}",
            "--date=short", "--format=%h %ad %an  %s", start,
            "--", *self._pathspecs([path] if path is not None else []),
        )  # fmt: skip
        if output.code != 0:
            return ToolResult(output.failure("git log failed"), is_error=True)
        shown = len(output.text.splitlines())
        return ToolResult(f"{shown} commits", _bounded(output) or "(none)")

    async def _unborn(self) -> bool:
        return not await _head(self._git)


class GitShow(_GitTool):
    name = "git_show"
    description = (
        "Show a commit (message, stat and patch), a tag, a tree listing, or a file as it was "
        "at a commit with 'commit:path'."
    )
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {"revision": _REVISION},
        "required": ["revision"],
        "additionalProperties": False,
    }

    async def _call(self, arguments: Arguments) -> ToolResult:
        revision = arguments.optional_string("revision")
        arguments.done()
        if revision is None:
            raise InvalidRequest("revision is required (a commit, or commit:path)")
        oid = await self._resolve(revision)
        kind = (await self._git.ok("cat-file", "-t", oid)).strip()
        by_path = _split_path(_checked_revision(revision))[1] is not None
        if kind in {"blob", "tree"} and self._scope.grant.paths and not by_path:
            raise InvalidRequest("with a narrowed grant, name files and trees as commit:path")
        if kind == "blob":
            return await self._blob(revision, oid)
        if kind == "tree":
            output = await self._git.run("ls-tree", oid)
        else:
            output = await self._git.run(
                "show", *DIFF_FLAGS, "--no-show-signature", "--patch-with-stat",
                "--format=fuller", oid, "--", *self._pathspecs([]),
            )  # fmt: skip
        if output.code != 0:
            return ToolResult(output.failure("git show failed"), is_error=True)
        first = output.text.splitlines()[0] if output.text else kind
        return ToolResult(f"{kind} {one_line(first, 120)}", _bounded(output))

    async def _blob(self, revision: str, oid: str) -> ToolResult:
        output = await self._git.run("cat-file", "blob", oid)
        if output.code != 0:
            return ToolResult(output.failure("git show failed"), is_error=True)
        if b"\0" in output.stdout[:8_000]:
            return ToolResult(f"{one_line(revision)} is a binary file", is_error=True)
        lines = output.text.count("\n")
        cut = ", output cut" if output.truncated else ""
        return ToolResult(f"{one_line(revision)}: {lines} lines{cut}", _bounded(output))


class GitCommit(_GitTool):
    name = "git_commit"
    description = (
        "Commit on this workdir's branch: stage the named paths (or all changes with "
        "all=true), then commit what is staged with the message. Never pushes, amends or "
        "switches branches."
    )
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {
            "message": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE},
            "paths": {**_PATHS, "minItems": 1},
            "all": {"type": "boolean"},
        },
        "required": ["message"],
        "additionalProperties": False,
    }
    capability = Capability.COMMIT

    async def _call(self, arguments: Arguments) -> ToolResult:
        message = _message(arguments.optional_string("message"))
        paths = arguments.strings("paths", most=MAX_PATHS)
        everything = arguments.boolean("all")
        arguments.done()
        if bool(paths) == everything:
            raise InvalidRequest("give either paths to stage or all=true (not both)")
        ref = await self._branch_ref()
        parent = await _head(self._git)
        merge = await _Merge.find(self._git)
        await self._stage(paths)
        tree = (await self._git.ok("write-tree", what="git write-tree failed")).strip()
        changes = await self._changes(parent, tree)
        if merge.heads:
            await merge.refuse_markers(tree, changes)
        elif not changes:
            return ToolResult("nothing to commit: the staged tree equals HEAD", is_error=True)
        parents = [f"-p{commit}" for commit in (parent, *merge.heads) if commit]
        commit = await self._git.ok(
            "commit-tree", "--no-gpg-sign", *parents, "-F", "-", tree,
            stdin=message.encode("utf-8"), what="git commit-tree failed",
        )  # fmt: skip
        commit = commit.strip()
        subject = message.splitlines()[0]
        deref = ["--no-deref"] if ref == "HEAD" else []
        kind = "commit (merge)" if merge.heads else "commit"
        await self._git.ok(
            "update-ref", *deref, "-m", f"{kind}: {subject}", ref, commit, parent,
            what=f"{ref} moved while committing; nothing was changed",
        )  # fmt: skip
        merge.conclude()
        where = self._git.settings.branch or "detached HEAD"
        concluded = f", concluding the merge of {len(merge.heads)}" if merge.heads else ""
        return ToolResult(
            f"committed {commit[:12]} on {where}: {one_line(subject, 120)} "
            f"({len(changes)} files{concluded})",
            "\n".join(changes),
        )

    async def _branch_ref(self) -> str:
        """The ref this commit may move, refusing when HEAD is not where the tool expects."""
        output = await self._git.run("symbolic-ref", "--quiet", "HEAD")
        current = output.text.strip() if output.code == 0 else None
        expected = self._git.settings.branch
        if expected is None:
            if current is not None:
                raise InvalidRequest(
                    f"HEAD is on {current.removeprefix('refs/heads/')}, but this workdir is "
                    "detached: committing would move a branch"
                )
            return "HEAD"
        if current != f"refs/heads/{expected}":
            found = "detached" if current is None else current.removeprefix("refs/heads/")
            raise InvalidRequest(f"HEAD is {found}, not {expected}: commits go only to {expected}")
        return current

    async def _stage(self, paths: list[str]) -> None:
        pathspecs = self._pathspecs(paths, write=True)
        if not paths:
            pathspecs = [*(pathspecs or [":(top)"]), _NOT_TICKETS]
        await self._git.ok("add", "--all", "--", *pathspecs, what="git add failed")

    async def _changes(self, parent: str, tree: str) -> list[str]:
        """What the new tree changes, each path checked as a write: a change staged outside
        the tool (in the ticket store, outside the grant) refuses the whole commit."""
        if parent:
            listed = await self._git.ok(
                "diff-tree", "-r", "-z", "--no-renames", "--name-status", parent, tree
            )
            fields = listed.split("\0")
            pairs = list(zip(fields[::2], fields[1::2], strict=False))
        else:
            listed = await self._git.ok("ls-tree", "-r", "-z", "--name-only", tree)
            pairs = [("A", name) for name in listed.split("\0") if name]
        for _, path in pairs:
            self._scope.relative(path, write=True)
        return [f"{status}\t{path}" for status, path in pairs]


_MERGE_STATE = ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "MERGE_RR", "AUTO_MERGE")
_MARKER = "^<<<<<<< "


class _Merge:
    """A merge the worktree is in the middle of (``git merge`` stopped on a conflict): its
    other heads become the commit's further parents, and its state files go once the
    branch has moved, as ``git commit`` would do."""

    def __init__(self, git: GitRunner, git_dir: Path | None, heads: tuple[str, ...]) -> None:
        self._git = git
        self._git_dir = git_dir
        self.heads = heads

    @classmethod
    async def find(cls, git: GitRunner) -> _Merge:
        listed = await git.run("rev-parse", "--absolute-git-dir")
        if listed.code != 0:
            raise GitFailed(listed.failure("git rev-parse failed"))
        git_dir = Path(listed.text.strip())
        try:
            text = (git_dir / "MERGE_HEAD").read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return cls(git, git_dir, ())
        heads = []
        for line in text.split():
            checked = None
            if not line.startswith("-"):
                checked = await git.run(
                    "rev-parse", "--verify", "--quiet", "--end-of-options", f"{line}^{{commit}}"
                )
            if checked is None or checked.code != 0:
                raise InvalidRequest(f"MERGE_HEAD names {one_line(line)!r}, which is no commit")
            heads.append(checked.text.strip())
        return cls(git, git_dir, tuple(heads))

    async def refuse_markers(self, tree: str, changes: Sequence[str]) -> None:
        """Refuse a tree where a path the merge touched still holds conflict markers."""
        touched = [change.split("\t", 1)[1] for change in changes if not change.startswith("D")]
        if not touched:
            return
        found = await self._git.run(
            "grep", "-I", "-l", "--no-color", "--no-textconv", "-e", _MARKER, tree,
            "--", *(f":(top,literal){path}" for path in touched),
        )  # fmt: skip
        if found.code not in (0, 1):
            raise GitFailed(found.failure("git grep failed"))
        marked = [line.split(":", 1)[-1] for line in found.text.splitlines() if line]
        if marked:
            raise InvalidRequest(
                f"conflict markers are still in {', '.join(marked[:10])}: resolve them "
                "(no line may start with '<<<<<<< ') before committing the merge"
            )

    def conclude(self) -> None:
        if not self.heads or self._git_dir is None:
            return
        for name in _MERGE_STATE:
            with contextlib.suppress(FileNotFoundError):
                (self._git_dir / name).unlink()


async def _head(git: GitRunner) -> str:
    """HEAD's commit, or "" on an unborn branch; a workdir that is no repository fails."""
    output = await git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if output.code not in (0, 1):  # --quiet: 1 is a missing ref, anything else a failure
        raise GitFailed(output.failure("git rev-parse failed"))
    return output.text.strip() if output.code == 0 else ""


def _message(value: str | None) -> str:
    if value is None or not value.strip():
        raise InvalidRequest("message must be a non-empty string")
    if len(value) > MAX_MESSAGE:
        raise InvalidRequest(f"message is {len(value)} characters; at most {MAX_MESSAGE}")
    lines = [line.rstrip() for line in value.strip("\n").splitlines()]
    return "\n".join(lines).strip() + "\n"


def git_tools(scope: Scope, settings: GitSettings) -> list[Tool]:
    """The five git tools of one workdir; each checks its capability on every call."""
    git = GitRunner(scope, settings)
    return [GitStatus(git), GitDiff(git), GitLog(git), GitShow(git), GitCommit(git)]
