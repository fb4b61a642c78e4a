"""The Workers screen: every runtime with its status and diagnostics, and the workers across
runtimes, paged, filtered by status, role and runtime; ``n`` creates a worker, Enter opens
its console.

The status and runtime filters are the backend's (the listing is read again from its
first page when they change); the role filter keeps the rows read. Moving to the last
row reads the next page. The screen reads everything again every ``REFRESH_EVERY``
seconds, on ``r``, and when the backend comes back.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Select, Static

from yoi.client import WorkerStatus
from yoi.client.backend import ProfileInfo, RuntimeInfo, WorkerListing
from yoi.errors import YoiError
from yoi.tui.screen import BackedScreen
from yoi.tui.worker_list import ALL, COLUMNS, RUNTIME_COLUMNS, Listing, Row, runtime_cells

__all__ = ["CreateWorker", "NewWorker", "WorkersScreen"]

PAGE = 50
"""Workers read per page."""
REFRESH_EVERY = 5.0
_STATUSES = [("any status", ALL)] + [(str(status), str(status)) for status in WorkerStatus]


class _Opens(Protocol):
    def open(self, name: str, *args: str) -> None: ...


class WorkersScreen(BackedScreen):
    DEFAULT_CSS = """
    WorkersScreen #runtimes { height: auto; max-height: 8; }
    WorkersScreen #filters { height: auto; }
    WorkersScreen #filters Select { width: 1fr; }
    WorkersScreen #workers { height: 1fr; }
    WorkersScreen .problems { color: $error; height: auto; }
    WorkersScreen #paging { color: $text-muted; height: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_worker", "New worker"),
        Binding("r", "refresh", "Refresh"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.listing = Listing()
        self.runtimes: tuple[RuntimeInfo, ...] = ()
        self._loading = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("Runtimes", classes="title")
            yield DataTable(id="runtimes", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="filters"):
                yield Select(_STATUSES, value=ALL, allow_blank=False, id="status")
                yield Select([("any role", ALL)], value=ALL, allow_blank=False, id="role")
                yield Select([("any runtime", ALL)], value=ALL, allow_blank=False, id="runtime")
            yield Static(classes="problems", id="problems", markup=False)
            yield DataTable(id="workers", cursor_type="row", zebra_stripes=True)
            yield Static(id="paging", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runtimes", DataTable).add_columns(*RUNTIME_COLUMNS)
        self.query_one("#workers", DataTable).add_columns(*COLUMNS)
        self.query_one("#workers", DataTable).focus()
        self.reload()
        self.set_interval(REFRESH_EVERY, self.reload)

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#workers", DataTable)

    # -- reading --------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the runtimes and as many pages of workers as are shown, again."""
        self._reload(max(1, self.listing.pages))

    def on_backend_restored(self) -> None:
        self.reload()

    def action_refresh(self) -> None:
        self.reload()

    @work(exclusive=True, group="load")
    async def _reload(self, pages: int) -> None:
        try:
            self.runtimes = await self.client.runtimes()
            fresh = Listing()
            while fresh.pages < pages and (fresh.pages == 0 or fresh.next_after):
                fresh.add(await self._page(fresh.next_after))
        except YoiError as error:
            self.report(error)
            return
        except NoMatches:
            return  # the screen is being taken down
        self.listing = fresh
        self._show()

    def _show(self) -> None:
        try:
            self._show_runtimes()
            self._show_workers()
        except NoMatches:
            pass  # the screen is being taken down: nothing to draw on

    @work(exclusive=True, group="load")
    async def _more(self) -> None:
        if self.listing.next_after is None:
            return
        try:
            self.listing.add(await self._page(self.listing.next_after))
        except YoiError as error:
            self.report(error)
            return
        self._show()

    async def _page(self, after: str | None) -> WorkerListing:
        status = self.query_one("#status", Select).value
        runtime = self.query_one("#runtime", Select).value
        return await self.client.workers(
            runtime_id=None if runtime == ALL else str(runtime),
            status=None if status == ALL else WorkerStatus(str(status)),
            limit=PAGE,
            after=after,
        )

    # -- drawing --------------------------------------------------------------------------

    def _show_runtimes(self) -> None:
        table = self.query_one("#runtimes", DataTable)
        table.clear()
        for runtime in self.runtimes:
            table.add_row(*runtime_cells(runtime), key=runtime.runtime_id)
        choices = [("any runtime", ALL)] + [(r.display_name, r.runtime_id) for r in self.runtimes]
        _set_options(self.query_one("#runtime", Select), choices)

    def _show_workers(self) -> None:
        role = self.query_one("#role", Select)
        _set_options(role, [("any role", ALL)] + [(name, name) for name in self.listing.roles()])
        rows = self.listing.visible(str(role.value))
        table = self.table
        kept = self.selected
        table.clear()
        for row in rows:
            table.add_row(*row.cells(), key=row.key)
        keys = [row.key for row in rows]
        if kept is not None and kept.key in keys:
            table.move_cursor(row=keys.index(kept.key))
        self.query_one("#problems", Static).update("\n".join(self.listing.problems))
        more = "" if self.listing.complete else " · more below (ctrl+end reads them)"
        total = f"{len(rows)} of {len(self.listing.rows)} workers read{more}"
        self.query_one("#paging", Static).update(total)

    @property
    def selected(self) -> Row | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((row for row in self.listing.rows if row.key == key), None)

    # -- input ----------------------------------------------------------------------------

    @on(Select.Changed, "#status, #runtime")
    def _server_filter(self) -> None:
        self.listing = Listing()
        self._reload(1)

    @on(Select.Changed, "#role")
    def _role_filter(self) -> None:
        self._show_workers()

    @on(DataTable.RowHighlighted, "#workers")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row == self.table.row_count - 1 and self.listing.next_after:
            self._more()

    @on(DataTable.RowSelected, "#workers")
    def _open(self) -> None:
        row = self.selected
        if row is not None:
            cast(_Opens, self.app).open("console", row.runtime_id, row.worker_id)

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    @work
    async def action_new_worker(self) -> None:
        try:
            profiles = (await self.client.workspace()).profiles
            self.runtimes = await self.client.runtimes()
        except YoiError as error:
            self.report(error)
            return
        made = await self.app.push_screen_wait(CreateWorker(self.runtimes, profiles))
        if made is not None:
            self.reload()
            cast(_Opens, self.app).open("console", made.runtime_id, made.worker_id)


class NewWorker(Protocol):
    @property
    def runtime_id(self) -> str: ...

    @property
    def worker_id(self) -> str: ...


class CreateWorker(ModalScreen["NewWorker | None"]):
    """Runtime, profile, workdir and a first message; the backend's refusal shows here."""

    DEFAULT_CSS = """
    CreateWorker { align: center middle; }
    CreateWorker > Vertical { width: 72; height: auto; border: thick $accent; padding: 1 2;
        background: $surface; }
    CreateWorker #error { color: $error; height: auto; }
    CreateWorker Horizontal { height: auto; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self, runtimes: tuple[RuntimeInfo, ...], profiles: tuple[ProfileInfo, ...]
    ) -> None:
        super().__init__()
        self._runtimes = [r for r in runtimes if r.status == "available"]
        self._profiles = profiles

    def compose(self) -> ComposeResult:
        runtimes = [(r.display_name, r.runtime_id) for r in self._runtimes]
        profiles = [(p.name, p.name) for p in self._profiles] or [("default", "default")]
        names = [value for _, value in profiles]
        with Vertical():
            yield Label("New worker")
            yield Select(runtimes, value=runtimes[0][1] if runtimes else Select.BLANK, id="runtime")
            default = "default" if "default" in names else names[0]
            yield Select(profiles, value=default, allow_blank=False, id="profile")
            yield Input(placeholder="Display name (optional)", id="name")
            yield Input(placeholder="Workdir id (optional)", id="workdir")
            yield Input(placeholder="First message (optional); Enter creates", id="message")
            yield Static(id="error", markup=False)
            with Horizontal():
                yield Button("Create", variant="primary", id="create")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#runtime", Select).focus()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#create")
    async def _create(self) -> None:
        runtime = self.query_one("#runtime", Select).value
        if runtime == Select.BLANK:
            self.query_one("#error", Static).update("No runtime is available now.")
            return
        client = cast(BackedScreen, self.app.screen_stack[-2]).client

        def text(field: str) -> str | None:
            return self.query_one(f"#{field}", Input).value.strip() or None

        try:
            worker = await client.create_worker(
                str(runtime),
                display_name=text("name"),
                profile=str(self.query_one("#profile", Select).value),
                workdir=text("workdir"),
                initial_input=text("message"),
            )
        except YoiError as error:
            self.query_one("#error", Static).update(f"{error.code}: {error.message}")
            return
        self.dismiss(worker)


def _set_options(select: Select[str], options: list[tuple[str, str]]) -> None:
    """Offer ``options``, keeping the value chosen when it is still among them."""
    if getattr(select, "_offered", None) == options:
        return
    value = select.value
    select.set_options(options)
    select._offered = options  # type: ignore[attr-defined]
    values = [v for _, v in options]
    select.value = value if value in values else ALL
