"""``git_commit`` in a worktree stopped mid-merge: it concludes the merge (two parents, the
merge state gone, a clean status) and refuses while conflict markers remain."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.git_repo import git
from tests.isolation import isolated_env

from yoi.engine.tool import ToolResult
from yoi.tools.git import GitCommit, git_tools
from yoi.tools.git_runner import GitSettings
from yoi.tools.scope import Capability, Grant, Scope

EVERYTHING = Grant(frozenset(Capability))


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    """A linked worktree on ``work`` whose merge of ``main`` stopped on a conflict in app.py."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('one')\n")
    (root / "notes.md").write_text("notes\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "First")
    work = tmp_path / "wt"
    git(root, "worktree", "add", "-q", "-b", "work", str(work))
    (work / "app.py").write_text("print('from work')\n")
    git(work, "commit", "-q", "-am", "Work side")
    (root / "app.py").write_text("print('from main')\n")
    (root / "notes.md").write_text("notes from main\n")
    git(root, "commit", "-q", "-am", "Main side")
    stopped = subprocess.run(
        ["git", "-C", str(work), "merge", "--no-commit", "--no-ff", "main"],
        env=isolated_env(GIT_COMMITTER_NAME="Ann", GIT_COMMITTER_EMAIL="ann@example.com"),
        capture_output=True,
        check=False,
    )
    assert stopped.returncode == 1, stopped.stderr
    assert "<<<<<<< " in (work / "app.py").read_text()
    return work


@pytest.fixture
def commit(worktree: Path) -> Iterator[GitCommit]:
    with Scope.open(worktree, EVERYTHING) as scope:
        settings = GitSettings(branch="work", author_name="Coder", author_email="c@x")
        tools = [tool for tool in git_tools(scope, settings) if isinstance(tool, GitCommit)]
        yield tools[0]


async def test_a_commit_with_the_conflict_resolved_concludes_the_merge(
    worktree: Path, commit: GitCommit
) -> None:
    main_head = git(worktree, "rev-parse", "main").strip()
    before = git(worktree, "rev-parse", "HEAD").strip()
    (worktree / "app.py").write_text("print('from both')\n")

    result = await commit.call({"message": "Merge main", "all": True})

    assert not result.is_error, result.summary
    assert "concluding the merge" in result.summary
    parents = git(worktree, "rev-list", "--parents", "-n1", "HEAD").split()
    assert parents[1:] == [before, main_head]
    assert git(worktree, "status", "--porcelain").strip() == ""
    git_dir = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    assert not (git_dir / "MERGE_HEAD").exists()
    assert not (git_dir / "MERGE_MSG").exists()
    assert git(worktree, "show", "HEAD:notes.md") == "notes from main\n"
    assert git(worktree, "show", "HEAD:app.py") == "print('from both')\n"


async def test_conflict_markers_left_in_a_path_refuse_the_commit(
    worktree: Path, commit: GitCommit
) -> None:
    before = git(worktree, "rev-parse", "HEAD").strip()

    result = await commit.call({"message": "Merge main", "all": True})

    assert result.is_error
    assert "conflict markers" in result.summary
    assert "app.py" in result.summary
    assert git(worktree, "rev-parse", "HEAD").strip() == before
    git_dir = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    assert (git_dir / "MERGE_HEAD").exists()


async def test_a_merge_that_keeps_the_branch_tree_still_records_both_parents(
    worktree: Path, commit: GitCommit
) -> None:
    (worktree / "app.py").write_text("print('from work')\n")
    (worktree / "notes.md").write_text("notes\n")

    result: ToolResult = await commit.call({"message": "Merge main, keep ours", "all": True})

    assert not result.is_error, result.summary
    assert len(git(worktree, "rev-list", "--parents", "-n1", "HEAD").split()) == 3
    assert git(worktree, "status", "--porcelain").strip() == ""


async def test_outside_a_merge_a_commit_has_one_parent(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('one')\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "First")
    (root / "app.py").write_text("<<<<<<< not a conflict in a plain commit\n")
    with Scope.open(root, EVERYTHING) as scope:
        tools = {tool.name: tool for tool in git_tools(scope, GitSettings(branch="main"))}
        result = await tools["git_commit"].call({"message": "Plain", "all": True})
    assert not result.is_error, result.summary
    assert len(git(root, "rev-list", "--parents", "-n1", "HEAD").split()) == 2
