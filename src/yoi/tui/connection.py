"""Whether the terminal UI reaches its backend: connected, reconnecting, with the last error.

The app polls ``health()`` about once a second and feeds each answer to
:meth:`Connection.observe`, which says what changed: nothing, the backend
went away, or it came back (the screens then load again). No widget here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from yoi.errors import YoiError

__all__ = ["Change", "Connection", "Link", "describe"]


class Link(Enum):
    CONNECTING = "connecting"
    """Not yet heard from the backend."""
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    """It answered before and does not now: the app keeps asking."""


class Change(Enum):
    NONE = "none"
    LOST = "lost"
    RESTORED = "restored"
    """Connected after being away (or at first): screens load again."""


@dataclass
class Connection:
    """The link to the backend as the health checks have seen it."""

    link: Link = Link.CONNECTING
    last_error: str | None = None
    failures: int = 0

    def observe(self, healthy: bool, error: BaseException | None = None) -> Change:
        """One health check's answer; what it changed."""
        if healthy:
            was = self.link
            self.link, self.failures = Link.CONNECTED, 0
            return Change.RESTORED if was is Link.RECONNECTING else Change.NONE
        self.failures += 1
        self.last_error = describe(error) if error is not None else "the backend did not answer"
        if self.link is Link.RECONNECTING:
            return Change.NONE
        self.link = Link.RECONNECTING
        return Change.LOST

    @property
    def label(self) -> str:
        """What the header shows."""
        if self.link is Link.CONNECTED:
            return "connected"
        if self.link is Link.CONNECTING:
            return "connecting…"
        return f"reconnecting… ({self.last_error})"


def describe(error: BaseException) -> str:
    """``code: message`` of a library error; the class name and text of any other."""
    if isinstance(error, YoiError):
        return f"{error.code}: {error.message}"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
