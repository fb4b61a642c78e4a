"""The workspace: its root (the nearest git repository, else the folder itself) and ``.yoi/``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from yoi.workspace import Workspace, config_path, workspace_root


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


# -- Workspace -------------------------------------------------------------------


def test_a_workspace_names_its_folders(tmp_path: Path) -> None:
    (tmp_path / "proj" / ".git").mkdir(parents=True)
    workspace = Workspace.find(tmp_path / "proj")
    dot = tmp_path.resolve() / "proj" / ".yoi"
    assert workspace.root == tmp_path.resolve() / "proj"
    assert workspace.name == "proj"
    assert (workspace.dot, workspace.config, workspace.state) == (
        dot,
        dot / "config.toml",
        dot / "state",
    )
    assert (workspace.profiles, workspace.tickets) == (dot / "profiles", dot / "tickets")
    assert Workspace(Path("/")).name == "workspace"


def test_ensure_creates_the_state_folder_and_a_gitignore(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "proj")
    workspace.ensure()
    assert workspace.state.is_dir()
    assert (workspace.dot / ".gitignore").read_text(encoding="utf-8") == "state/\n"
    assert not workspace.config.exists()
    assert not workspace.profiles.exists()


def test_ensure_twice_changes_nothing(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.ensure()
    (workspace.state / "kept").write_text("x", encoding="utf-8")
    workspace.ensure()
    assert (workspace.dot / ".gitignore").read_text(encoding="utf-8") == "state/\n"
    assert (workspace.state / "kept").read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("*.log\n", "*.log\nstate/\n"),
        ("*.log", "*.log\nstate/\n"),
        ("", "state/\n"),
        ("state/\n*.log\n", "state/\n*.log\n"),
        ("/state\n", "/state\n"),
    ],
    ids=["other lines", "no final newline", "empty", "already", "anchored"],
)
def test_ensure_keeps_an_existing_gitignore(tmp_path: Path, before: str, after: str) -> None:
    workspace = Workspace(tmp_path)
    workspace.dot.mkdir()
    (workspace.dot / ".gitignore").write_text(before, encoding="utf-8")
    workspace.ensure()
    assert (workspace.dot / ".gitignore").read_text(encoding="utf-8") == after
    assert workspace.state.is_dir()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_ignores_the_state_but_not_the_config(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    workspace = Workspace.find(tmp_path)
    workspace.ensure()
    workspace.config.write_text("", encoding="utf-8")
    (workspace.state / "runtime.json").write_text("{}", encoding="utf-8")

    def ignored(path: Path) -> bool:
        found = subprocess.run(
            ["git", "-C", str(tmp_path), "check-ignore", "-q", str(path)], check=False
        )
        return found.returncode == 0

    assert ignored(workspace.state / "runtime.json")
    assert not ignored(workspace.config)
