"""Observation of one worker: a snapshot, the backlog after a cursor, then live events."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType

from yoi.errors import SlowConsumer
from yoi.runtime.events import Event

__all__ = ["Fanout", "Subscription"]


class Subscription:
    """An async iterator of events with a bounded buffer.

    When the buffer overflows the subscription is cut: what is buffered is
    still delivered, then iteration raises :class:`~yoi.errors.SlowConsumer`.
    The worker and other subscribers never wait for it.
    """

    def __init__(self, capacity: int, on_close: Callable[[Subscription], None]) -> None:
        self._capacity = capacity
        self._backlog: deque[Event] = deque()
        self._buffer: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._overflowed = False
        self._closed = False
        self._on_close = on_close

    def prime(self, events: Iterable[Event]) -> None:
        """Put events ahead of anything live (the snapshot and the backlog).

        They do not count against the capacity, which bounds live events only.
        """
        self._backlog.extend(events)

    def push(self, event: Event) -> None:
        if self._closed or self._overflowed:
            return
        if len(self._buffer) >= self._capacity:
            self._overflowed = True
            self._on_close(self)
        else:
            self._buffer.append(event)
        self._wake()

    def end(self) -> None:
        """No more events will come (the runtime is closing)."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self._backlog:
            return self._backlog.popleft()
        while not self._buffer:
            if self._overflowed:
                raise SlowConsumer(
                    "the subscriber fell behind and was disconnected; resume with its cursor"
                )
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._buffer.popleft()

    async def aclose(self) -> None:
        """End the subscription; an iteration waiting in another task ends too."""
        self._closed = True
        self._backlog.clear()
        self._buffer.clear()
        self._on_close(self)
        self._wake()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class Fanout:
    """Hands every event of one worker to each of its subscriptions."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def __len__(self) -> int:
        return len(self._subscriptions)

    def open(self, capacity: int) -> Subscription:
        subscription = Subscription(capacity, self._subscriptions.discard)
        self._subscriptions.add(subscription)
        return subscription

    def publish(self, event: Event) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.push(event)

    def end_all(self) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.end()
        self._subscriptions.clear()
