"""A server on 127.0.0.1 run from a thread with its own event loop, for synchronous test tools."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager

Serving = Callable[[], AbstractAsyncContextManager[str]]
"""Opens whatever is served and yields its base URL; closes it all on exit."""


class ThreadedServer:
    """``with ThreadedServer(serving) as url:`` serves until the block ends."""

    def __init__(self, serving: Serving) -> None:
        self._serving = serving
        self._url: Future[str] = Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            async with self._serving() as url:
                self._url.set_result(url)
                await self._stopped.wait()
        except BaseException as error:
            if not self._url.done():
                self._url.set_exception(error)
            raise

    def __enter__(self) -> str:
        self._thread.start()
        return self._url.result(timeout=30)

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the server did not shut down"
