"""The base of every screen of the terminal UI: the app's backend client and its error line."""

from __future__ import annotations

from typing import Protocol, cast

from textual.screen import Screen

from yoi.client.backend import BackendClient

__all__ = ["Backed", "BackedScreen"]


class Backed(Protocol):
    """What a screen needs of its app: the backend client, and where errors are shown."""

    @property
    def client(self) -> BackendClient: ...

    def report(self, error: BaseException) -> None: ...


class BackedScreen(Screen[None]):
    """A screen that talks to the backend through the app's client."""

    @property
    def backed(self) -> Backed:
        return cast(Backed, self.app)

    @property
    def client(self) -> BackendClient:
        return self.backed.client

    def report(self, error: BaseException) -> None:
        """Show ``error`` inline (its code and message), never as a traceback."""
        self.backed.report(error)
