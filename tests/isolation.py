"""The environment of every process a test starts: only the test's own places are reachable.

A developer's shell may point yoi at their own backend (``YOI_BACKEND_URL``,
a record under their workspace's ``.yoi/state/``, ``yoi serve`` on the
default port), carry their model keys, hold their config under ``$HOME``, or
point git elsewhere (``GIT_DIR``, ``GIT_INDEX_FILE`` from a hook or a script).
:func:`isolated_env` drops all of that and points the backend variable at
a loopback port that refuses connections, so a test that forgets to name
its backend fails fast instead of talking to someone's Companion.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

__all__ = [
    "BACKEND_VARIABLE",
    "isolated",
    "isolated_env",
    "refused_url",
    "session_home",
    "workspace_env",
]

BACKEND_VARIABLE = "YOI_BACKEND_URL"
_DROPPED_PREFIXES = ("YOI_", "OPENAI_", "ANTHROPIC_", "GIT_")


@cache
def refused_url() -> str:
    """A loopback URL that refuses connections: a port bound but never listening, held until
    the test session ends, so no process can start listening there meanwhile."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    atexit.register(sock.close)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@cache
def session_home() -> Path:
    """An empty home folder for this test session, removed when it ends."""
    home = Path(tempfile.mkdtemp(prefix="yoi-test-home-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


def isolated(
    base: Mapping[str, str], extra: Mapping[str, str], *, backend_variable: bool = True
) -> dict[str, str]:
    """``base`` without yoi, git or model settings, model keys or proxies; home and XDG folders
    in :func:`session_home`; ``YOI_BACKEND_URL`` at :func:`refused_url` (unless not
    ``backend_variable``); then ``extra``."""
    kept = {
        name: value
        for name, value in base.items()
        if not name.startswith(_DROPPED_PREFIXES)
        and not name.endswith("_API_KEY")
        and not name.lower().endswith("_proxy")
    }
    home = session_home()
    places = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }
    url = {BACKEND_VARIABLE: refused_url()} if backend_variable else {}
    return {**kept, **places, "NO_COLOR": "1", **url, **extra}


def isolated_env(**extra: str) -> dict[str, str]:
    """This process's environment, :func:`isolated`, plus ``extra``; no backend answers
    unless ``extra`` names one in ``YOI_BACKEND_URL``."""
    return isolated(os.environ, extra)


def workspace_env(**extra: str) -> dict[str, str]:
    """:func:`isolated_env` without ``YOI_BACKEND_URL``, for a test whose workspace says
    where its backend is."""
    return isolated(os.environ, extra, backend_variable=False)
