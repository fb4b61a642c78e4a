"""What a work branch really holds: its commits since the base, their diffstat, and whether its
worktree is clean — the git side of an implementation report.

A coder's report says what it did; these facts say what the branch holds. Where they disagree
(a report of changed files on a branch with no commit, a tree left dirty) the orchestrator sends
the work back instead of believing the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from yoi.errors import ScopeError, WorkdirFailed
from yoi.tools.git_runner import GitFailed, GitRunner, GitSettings
from yoi.tools.scope import Grant, Scope

__all__ = ["BranchFacts", "Commit", "FileChange", "branch_facts"]

MAX_COMMITS = 500
_OUTPUT = 2_000_000


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    subject: str


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    added: int | None
    """Lines added; ``None`` for a binary file."""
    deleted: int | None


@dataclass(frozen=True, slots=True)
class BranchFacts:
    base: str
    head: str
    commits: tuple[Commit, ...]
    """Oldest first; at most :data:`MAX_COMMITS`."""
    changes: tuple[FileChange, ...]
    """Every file that differs between ``base`` and ``head``."""
    dirty: tuple[str, ...]
    """``git status --porcelain`` lines of what is not committed (untracked files included)."""
    complete: bool = True
    """False when git said more than the bound: the lists hold what fit."""

    @property
    def clean(self) -> bool:
        return not self.dirty

    @property
    def changed_paths(self) -> frozenset[str]:
        return frozenset(change.path for change in self.changes)

    def unclaimed_by_git(self, claimed: tuple[str, ...]) -> tuple[str, ...]:
        """The files a report claims to have changed that the branch does not change."""
        return tuple(path for path in claimed if path not in self.changed_paths)


async def branch_facts(worktree: Path, base: str, head: str = "HEAD") -> BranchFacts:
    """The facts of the branch checked out at ``worktree`` since commit ``base`` (up to
    ``head``, its checked-out commit unless named)."""
    try:
        with Scope.open(worktree, Grant(frozenset())) as scope:
            git = GitRunner(scope, GitSettings(max_output=_OUTPUT, timeout=120.0))
            head = (await git.ok("rev-parse", "--verify", f"{head}^{{commit}}")).strip()
            span = f"{base}..{head}"
            log = await git.ok(
                "log", "--reverse", f"--max-count={MAX_COMMITS}", "--format=%H%x00%s", span
            )
            numstat = await git.run("diff", "--numstat", "-z", "--no-renames", base, head)
            status = await git.run("status", "--porcelain=v1", "--untracked-files=all")
    except (GitFailed, ScopeError) as error:
        raise WorkdirFailed(f"cannot read the branch at {worktree.name}: {error.message}") from None
    if numstat.code != 0 or status.code != 0:
        raise WorkdirFailed(
            numstat.failure("git diff failed")
            if numstat.code
            else status.failure("git status failed")
        )
    return BranchFacts(
        base=base,
        head=head,
        commits=_commits(log),
        changes=_changes(numstat.stdout),
        dirty=tuple(line for line in status.text.splitlines() if line.strip()),
        complete=not (numstat.truncated or status.truncated),
    )


def _commits(log: str) -> tuple[Commit, ...]:
    found = []
    for line in log.splitlines():
        sha, _, subject = line.partition("\0")
        if sha:
            found.append(Commit(sha, subject))
    return tuple(found)


def _changes(raw: bytes) -> tuple[FileChange, ...]:
    """``--numstat -z`` records: ``added\\tdeleted\\tpath\\0`` (``-`` for binary files)."""
    found = []
    for record in raw.decode("utf-8", errors="surrogateescape").split("\0"):
        if not record:
            continue
        fields = record.split("\t", 2)
        if len(fields) == 3 and all(_is_count(text) for text in fields[:2]):
            added, deleted, path = fields
            found.append(FileChange(path, _count(added), _count(deleted)))
    return tuple(found)


def _is_count(text: str) -> bool:
    return text == "-" or text.isdigit()


def _count(text: str) -> int | None:
    return None if text == "-" else int(text)
