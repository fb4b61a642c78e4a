"""Plain git for a test's own repositories, run as a person at the terminal would run it."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.isolation import isolated_env

__all__ = ["git", "tagged_repo"]


def git(root: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run ``git -C root *args`` with the test's own environment and author; its stdout."""
    environment = isolated_env(
        GIT_AUTHOR_NAME="Ann", GIT_AUTHOR_EMAIL="ann@example.com",
        GIT_COMMITTER_NAME="Ann", GIT_COMMITTER_EMAIL="ann@example.com",
        **(env or {}),
    )  # fmt: skip
    done = subprocess.run(
        ["git", "-C", str(root), *args], env=environment, capture_output=True, check=True
    )
    return done.stdout.decode()


def tagged_repo(root: Path) -> Path:
    """A repository at ``root`` on ``main`` with one commit of ``app.py``, tagged ``v1``."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('one')\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "First")
    git(root, "tag", "v1")
    return root
