"""Running ``python -m yoi`` as a real process from a test's event loop, and what it needs."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.isolation import isolated_env

from yoi.workspace import workspace_root

DEADLINE = 30.0
"""Seconds a command has to finish."""


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str


_CHECKOUT = Path(__file__).resolve().parents[2]


def cli_env(token: str, **extra: str) -> dict[str, str]:
    """An isolated environment (:func:`tests.isolation.isolated_env`) holding the backend token:
    the backend is a refused port unless ``extra`` names one."""
    return isolated_env(**{"YOI_BACKEND_TOKEN": token, **extra})


async def run_yoi(*args: str, cwd: Path, env: dict[str, str], stdin: str = "") -> Done:
    """``python -m yoi ARGS`` in ``cwd``, fed ``stdin``; killed if it outlives the deadline.

    ``cwd`` must be a workspace of the test's own: never this checkout, whose
    ``.yoi/`` may say where the developer's own backend listens.
    """
    root = workspace_root(cwd)
    assert not _CHECKOUT.is_relative_to(root), f"{cwd} is inside this checkout's workspace"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "yoi", *args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    try:
        async with asyncio.timeout(DEADLINE):
            out, err = await process.communicate(stdin.encode())
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Done(process.returncode, out.decode(), err.decode())


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening, held until the end."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
