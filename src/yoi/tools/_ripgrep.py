"""Running the ``rg`` binary: found next to this Python, confined to one directory descriptor.

``rg`` runs with an argument list (never a shell), no configuration file, an empty
environment, and its working directory set to ``/proc/self/fd/N`` for a directory the
:class:`~yoi.tools.scope.Scope` opened: the kernel resolves that descriptor, so a
component swapped for a symbolic link after the scope's check cannot redirect the search.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Finished", "Ripgrep", "RipgrepMissing"]

_CHUNK = 1 << 16
_STDERR_KEEP = 4096


class RipgrepMissing(Exception):
    """No usable ``rg`` binary: the search tools report it as an error result."""


@dataclass(frozen=True, slots=True)
class Finished:
    """How an ``rg`` run ended: its exit code (``None`` when it was killed), its
    error output (bounded) and whether the deadline stopped it."""

    returncode: int | None
    stderr: str
    timed_out: bool


@dataclass(frozen=True, slots=True)
class Ripgrep:
    binary: Path | None

    @classmethod
    def find(cls) -> Ripgrep:
        """The ``rg`` the ``ripgrep`` wheel installed beside this interpreter, else on PATH."""
        for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
            candidate = folder / "rg"
            if os.access(candidate, os.X_OK):
                return cls(candidate)
        found = shutil.which("rg")
        return cls(Path(found) if found else None)

    async def run(
        self,
        arguments: Sequence[str],
        *,
        directory: int | None,
        stdin: int | None,
        seconds: float,
        sink: Callable[[bytes], None],
    ) -> Finished:
        """Run ``rg`` in ``directory`` (a descriptor; ``None`` when it reads only ``stdin``),
        feeding its output to ``sink`` until it exits or ``seconds`` pass (then it is killed)."""
        process = await self._start(arguments, directory, stdin)
        timed_out = False
        errors = asyncio.ensure_future(_head(process.stderr))
        try:
            async with asyncio.timeout(seconds):
                await _pump(process.stdout, sink)
                await process.wait()
        except TimeoutError:
            timed_out = True
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
        stderr = await errors
        return Finished(None if timed_out else process.returncode, stderr, timed_out)

    async def _start(
        self, arguments: Sequence[str], directory: int | None, stdin: int | None
    ) -> asyncio.subprocess.Process:
        if self.binary is None:
            raise RipgrepMissing("ripgrep (rg) is not installed: install the 'ripgrep' package")
        try:
            return await asyncio.create_subprocess_exec(
                self.binary,
                "--no-config",
                *arguments,
                cwd="/" if directory is None else f"/proc/self/fd/{directory}",
                pass_fds=() if directory is None else (directory,),
                stdin=asyncio.subprocess.DEVNULL if stdin is None else stdin,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={},
            )
        except OSError as error:
            raise RipgrepMissing(f"ripgrep ({self.binary}) cannot run: {error.strerror}") from None


async def _pump(stream: asyncio.StreamReader | None, sink: Callable[[bytes], None]) -> None:
    if stream is None:
        return
    while chunk := await stream.read(_CHUNK):
        sink(chunk)


async def _head(stream: asyncio.StreamReader | None) -> str:
    """The first few KiB of ``stream``, the rest read and dropped so ``rg`` never blocks."""
    if stream is None:
        return ""
    kept = bytearray()
    with contextlib.suppress(ConnectionError):
        while chunk := await stream.read(_CHUNK):
            kept += chunk[: max(0, _STDERR_KEEP - len(kept))]
    return kept.decode("utf-8", "replace").strip()
