"""Files git keeps for worktrees, read and written without running git.

:func:`gitdir_of` finds the directory the repository keeps for one worktree (git names it
after the worktree's folder, with a number added when that name is taken, so it cannot be
guessed); :func:`exclude_folder` keeps a folder of worktrees out of ``git status`` through
the repository's ``info/exclude``, never through a tracked ``.gitignore``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from yoi.runtime.stores.fs.disk import OsDisk
from yoi.runtime.stores.fs.files import write_atomic

__all__ = ["exclude_folder", "gitdir_of"]


def gitdir_of(common: Path, path: Path) -> Path | None:
    """The gitdir the repository (whose common git directory is ``common``) keeps for the
    worktree at ``path``: the one whose ``gitdir`` file names ``path/.git``."""
    wanted = str(path / ".git")
    try:
        entries = list(os.scandir(common / "worktrees"))
    except OSError:
        return None
    for entry in entries:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if Path(entry.path, "gitdir").read_text(encoding="utf-8").strip() == wanted:
                return Path(entry.path)
    return None


def exclude_folder(common: Path, folder: str) -> None:
    """Add ``/<folder>/`` to the repository's ``info/exclude`` unless it is there."""
    _add_line(common / "info" / "exclude", f"/{folder}/")


def _add_line(path: Path, line: str) -> None:
    """Add ``line`` to the text file at ``path`` unless it holds it, by an atomic rename."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    if line in text.splitlines():
        return
    if text and not text.endswith("\n"):
        text += "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, f"{text}{line}\n".encode(), OsDisk())
