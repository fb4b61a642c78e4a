"""Where the workspace is: the root of the current git repository, else the directory itself."""

from __future__ import annotations

from pathlib import Path

__all__ = ["config_path", "workspace_root"]


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
