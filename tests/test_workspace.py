"""Finding the workspace root: the nearest git repository, else the folder itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from yoi.workspace import config_path, workspace_root


def test_the_root_is_the_nearest_folder_with_git(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert workspace_root(nested) == tmp_path.resolve()
    assert config_path(nested) == tmp_path.resolve() / ".yoi" / "config.toml"


def test_a_git_file_marks_a_worktree_root(tmp_path: Path) -> None:
    (tmp_path / "outer" / ".git").mkdir(parents=True)
    worktree = tmp_path / "outer" / "worktree"
    worktree.mkdir()
    (worktree / ".git").write_text("gitdir: ../.git/worktrees/w\n", encoding="utf-8")
    assert workspace_root(worktree / ".") == worktree.resolve()


def test_outside_a_repository_the_folder_itself_is_the_root(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    if any((parent / ".git").exists() for parent in (folder, *folder.parents)):
        pytest.skip("the temporary folder lives inside a git repository")
    assert workspace_root(folder) == folder.resolve()
