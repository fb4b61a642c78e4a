"""A workspace: the project folder and its ``.yoi/`` (ARCHITECTURE §7).

The root is the nearest folder holding ``.git`` at or above where yoi starts,
else that folder itself. Under ``.yoi/``: ``config.toml`` and ``tickets/``
are tracked, ``state/`` (the embedded runtime's store, backend data) is not,
and ``profiles/`` holds the workspace's profile overrides.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Workspace", "config_path", "workspace_root"]

_IGNORED = "state/"


def workspace_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding ``.git``; ``start`` when there is none."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def config_path(start: Path) -> Path:
    """The workspace's ``.yoi/config.toml`` (which may not exist)."""
    return workspace_root(start) / ".yoi" / "config.toml"


@dataclass(frozen=True, slots=True)
class Workspace:
    root: Path

    @classmethod
    def find(cls, start: Path) -> Workspace:
        return cls(workspace_root(start))

    @property
    def name(self) -> str:
        """A label for people: the folder's name, never its path."""
        return self.root.name or "workspace"

    @property
    def dot(self) -> Path:
        return self.root / ".yoi"

    @property
    def config(self) -> Path:
        return self.dot / "config.toml"

    @property
    def state(self) -> Path:
        return self.dot / "state"

    @property
    def worktrees(self) -> Path:
        """Where workdirs and the orchestrator's worktrees go (kept out of ``git status``)."""
        return self.root / ".worktree"

    @property
    def profiles(self) -> Path:
        return self.dot / "profiles"

    @property
    def tickets(self) -> Path:
        return self.dot / "tickets"

    @property
    def in_git(self) -> bool:
        """Whether the root is a git repository (or worktree), so tickets are versioned."""
        return (self.root / ".git").exists()

    def ensure(self) -> bool:
        """Create ``.yoi/`` and ``state/`` when missing, and keep ``state/`` out of git;
        True when ``.yoi/`` was created now.

        An existing ``.yoi/.gitignore`` is kept, with the ``state/`` line
        appended when it lacks one.
        """
        created = not self.dot.exists()
        self.state.mkdir(parents=True, exist_ok=True)
        self._ignore_state()
        return created

    def ignore_file_tracked(self) -> bool | None:
        """Whether git tracks ``.yoi/.gitignore``; None outside git or when git cannot say."""
        if not self.in_git:
            return None
        command = ["git", "-C", str(self.root), "ls-files", "--error-unmatch", ".yoi/.gitignore"]
        try:
            done = subprocess.run(command, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return {0: True, 1: False}.get(done.returncode)

    def _ignore_state(self) -> None:
        ignore = self.dot / ".gitignore"
        try:
            text = ignore.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        lines = {line.strip().strip("/") for line in text.splitlines()}
        if _IGNORED.strip("/") in lines:
            return
        prefix = "" if not text or text.endswith("\n") else "\n"
        with ignore.open("a", encoding="utf-8") as file:
            file.write(f"{prefix}{_IGNORED}\n")
            file.flush()
            os.fsync(file.fileno())
