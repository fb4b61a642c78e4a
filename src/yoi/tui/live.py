"""A screen kept current: it loads, and loads again when the tickets or the runs change.

:class:`LiveScreen` follows the ticket feed (``/api/tickets/events/ws``) and,
when the backend has an orchestrator, its run transitions
(``/api/orchestrator/events/ws``), and asks :meth:`LiveScreen.load` again for
the changes :meth:`LiveScreen.concerns` says are its own. Loads never overlap:
one asked for during a load runs once after it. A stream that is cut is opened
again when the app says the backend is back (``BackendRestored``). A slow timer
loads again too, since a run's usage grows with no event.
"""

from __future__ import annotations

from textual import work
from textual.css.query import NoMatches

from yoi.client.orchestrator_events import RunTransition
from yoi.client.tickets import TicketChange
from yoi.errors import YoiError
from yoi.tui.screen import BackedScreen

__all__ = ["REFRESH_EVERY", "LiveScreen"]

REFRESH_EVERY = 20.0
"""Seconds between two loads with no change heard: a run's usage grows without events."""


class LiveScreen(BackedScreen):
    """Subclasses write :meth:`load` and, if they care about fewer changes, :meth:`concerns`."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0
        """How many loads were drawn (tests wait on it)."""
        self._loading = False
        self._again = False

    async def load(self) -> None:
        """Load what the screen shows and draw it (errors are the screen's to show)."""
        raise NotImplementedError

    def concerns(self, ticket_ids: tuple[str, ...] | None) -> bool:
        """Whether a change of these tickets (None: any) is one to load again for."""
        return True

    def on_mount(self) -> None:
        self.follow_tickets()
        self.follow_runs()
        self.set_interval(REFRESH_EVERY, self.reload)

    def on_backend_restored(self) -> None:
        self.follow_tickets()
        self.follow_runs()

    def reload(self) -> None:
        """Load now, or once more after the load under way."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        self._reload()

    @work(group="live-load")
    async def _reload(self) -> None:
        try:
            again = True
            while again and self.is_attached:
                self._again = False
                await self.load()
                self.loads += 1
                again = self._again
        except NoMatches:
            pass  # the screen was closed while it drew
        finally:
            self._loading = False

    @work(exclusive=True, group="live-tickets")
    async def follow_tickets(self) -> None:
        """Load at the feed's first frame, then at each change it reports that concerns us."""
        try:
            feed = await self.client.ticket_feed()
        except YoiError:
            self.reload()  # no feed now: show what there is; BackendRestored follows again
            return
        try:
            async for change in feed:
                if self._first_or_ours(change):
                    self.reload()
        except YoiError:
            pass  # cut: the app's watcher notices, and BackendRestored follows again
        finally:
            await feed.aclose()

    def _first_or_ours(self, change: TicketChange) -> bool:
        return change.ticket_ids is None or self.concerns(change.ticket_ids)

    @work(exclusive=True, group="live-runs")
    async def follow_runs(self) -> None:
        """Load at each run transition that concerns us (none without an orchestrator)."""
        try:
            events = await self.client.orchestrator_events()
        except YoiError:
            return  # no orchestrator, or no backend now: BackendRestored follows again
        try:
            async for event in events:
                if isinstance(event, RunTransition) and self.concerns((event.ticket_id,)):
                    self.reload()
        except YoiError:
            pass
        finally:
            await events.aclose()
