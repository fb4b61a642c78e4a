"""The controlling side of a pseudo-terminal, for driving ``yoi chat`` as a person would."""

from __future__ import annotations

import asyncio
import os
import pty

from tests.cli.rig import DEADLINE


class Terminal:
    """A pseudo-terminal whose output is read without blocking the event loop."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.seen = bytearray()

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    async def expect(self, text: str, *, times: int = 1) -> None:
        """Read until ``text`` has appeared ``times`` times in all that was shown, in time."""
        async with asyncio.timeout(DEADLINE):
            while self.seen.count(text.encode()) < times:
                self.seen.extend(await self._read())

    async def _read(self) -> bytes:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(self.master, wake)
        try:
            await ready
        finally:
            loop.remove_reader(self.master)
        return os.read(self.master, 4096)

    def close(self) -> None:
        os.close(self.master)
