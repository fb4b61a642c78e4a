"""The facts of a work branch, from real repositories: what a report claims is checked
against what git holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.git_repo import git, tagged_repo

from yoi.errors import WorkdirFailed
from yoi.orchestrator.branch_facts import branch_facts


@pytest.fixture
def worktree(tmp_path: Path) -> tuple[Path, str]:
    repo = tagged_repo(tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD").strip()
    path = tmp_path / "wd"
    git(repo, "worktree", "add", "-q", "-b", "work/t-1", str(path), base)
    return path, base


async def test_a_branch_with_no_commit_holds_nothing_a_report_could_claim(
    worktree: tuple[Path, str],
) -> None:
    path, base = worktree
    facts = await branch_facts(path, base)
    assert facts.commits == ()
    assert facts.changes == ()
    assert facts.clean
    assert facts.head == base
    assert facts.unclaimed_by_git(("app.py",)) == ("app.py",)


async def test_commits_diffstat_and_a_dirty_tree_are_what_git_says(
    worktree: tuple[Path, str],
) -> None:
    path, base = worktree
    (path / "app.py").write_text("print('two')\nprint('three')\n")
    (path / "data.bin").write_bytes(b"\0\1\2")
    git(path, "add", "app.py", "data.bin")
    git(path, "commit", "-q", "-m", "Two and three")
    (path / "notes.md").write_text("x\n")
    git(path, "add", "notes.md")
    git(path, "commit", "-q", "-m", "Notes")
    (path / "stray.txt").write_text("left behind\n")
    facts = await branch_facts(path, base)
    assert [commit.subject for commit in facts.commits] == ["Two and three", "Notes"]
    assert facts.head == git(path, "rev-parse", "HEAD").strip()
    changes = {change.path: (change.added, change.deleted) for change in facts.changes}
    assert changes == {"app.py": (2, 1), "data.bin": (None, None), "notes.md": (1, 0)}
    assert not facts.clean
    assert facts.dirty == ("?? stray.txt",)
    assert facts.unclaimed_by_git(("app.py", "other.py")) == ("other.py",)
    assert facts.complete


async def test_a_base_that_is_not_a_commit_or_a_missing_worktree_is_a_typed_error(
    worktree: tuple[Path, str], tmp_path: Path
) -> None:
    path, _ = worktree
    with pytest.raises(WorkdirFailed):
        await branch_facts(path, "no-such-base")
    with pytest.raises(WorkdirFailed):
        await branch_facts(tmp_path / "gone", "HEAD")
