"""Plain git for a test's own repositories, run as a person at the terminal would run it."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.isolation import isolated_env

__all__ = ["git"]


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
