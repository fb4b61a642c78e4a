"""Who a change is by, when nobody says: the git user name, else ``$USER``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["FALLBACK_AUTHOR", "default_author"]

FALLBACK_AUTHOR = "yoi"


def default_author(workspace: Path) -> str:
    try:
        found = subprocess.run(
            ["git", "config", "user.name"],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        found = None
    name = found.stdout.strip() if found is not None and found.returncode == 0 else ""
    return name.splitlines()[0] if name else os.environ.get("USER") or FALLBACK_AUTHOR
