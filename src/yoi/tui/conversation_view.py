"""Widgets that draw a :class:`~yoi.tui.transcript.Conversation`: one per item, redrawn
when the item's version moves, in batches (a timer flushes what changed), so a burst of
text deltas costs one redraw of the reply they grow.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Collapsible, Static

from yoi.tui.display import cut_points, format_arguments, looks_like_diff
from yoi.tui.transcript import Conversation, Item

__all__ = ["ConversationView", "ItemView", "Older", "plain_text"]

_RESULT_LINES = 40
MARKDOWN_LIMIT = 8_000
"""A finished reply up to this long is drawn as Markdown; a longer one stays as streamed."""


class Older(Message):
    """The reader reached the top: older entries are wanted."""


class ItemView(Vertical):
    """One item of the conversation."""

    DEFAULT_CSS = """
    ItemView { height: auto; margin: 0 0 1 0; }
    ItemView .who { text-style: bold; }
    ItemView.user .who { color: $accent; }
    ItemView.assistant .who { color: $success; }
    ItemView.error Static { color: $error; }
    ItemView.notice Static { color: $text-muted; }
    ItemView .approval { height: auto; }
    ItemView .approval Button { margin: 0 1 0 0; }
    ItemView Collapsible { padding: 0; border: none; }
    """

    def __init__(self, item: Item, assistant: str) -> None:
        super().__init__(classes=item.kind)
        self.item = item
        self.shown = -1
        self.rendered: RenderableType = ""
        """What the body shows now (after the blocks of a long streamed text)."""
        self._blocks: list[Static] = []
        self._frozen = ""
        """The text the blocks show."""
        self._assistant = assistant
        self._body = Static(markup=False, classes="body")

    def compose(self) -> ComposeResult:
        item = self.item
        if item.kind == "thinking":
            with Collapsible(title="Thinking…", collapsed=True):
                yield self._body
            return
        who = _who(item, self._assistant)
        if who:
            yield Static(who, classes="who", markup=False)
        yield self._body
        if item.kind == "tool":
            with Horizontal(classes="approval") as row:
                row.display = False
                yield Button("Allow", variant="success", id="allow", compact=True)
                yield Button("Deny", variant="error", id="deny", compact=True)

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        item = self.item
        self.shown = item.version
        if item.kind in ("assistant", "thinking") and (
            item.live or item.kind == "thinking" or len(item.text) > MARKDOWN_LIMIT
        ):
            self._draw_blocks(item)
        else:
            self._unfreeze()
            self.rendered = _render(item)
            self._body.update(self.rendered)
        if item.kind == "thinking":
            self.query_one(Collapsible).title = "Thinking…" if item.live else "Thought"
        elif item.kind == "tool":
            pending = item.approval is not None and item.approval.decision == "pending"
            self.query_one(".approval").display = pending

    def _draw_blocks(self, item: Item) -> None:
        """A streamed text: blocks drawn once, and the tail (all that changes) redrawn."""
        text = item.text
        if not text.startswith(self._frozen):
            self._unfreeze()
        start = len(self._frozen)
        parent = self._body.parent
        assert isinstance(parent, Widget)
        blocks = []
        for cut in cut_points(text, start):
            blocks.append(Static(Text(text[start:cut].removesuffix("\n")), classes="block"))
            start = cut
        if blocks:
            self._blocks.extend(blocks)
            parent.mount_all(blocks, before=self._body)
            self._frozen = text[:start]
        tail: list[RenderableType] = [Text(text[start:])]
        if item.live:
            tail.append(Text("▌"))
        if item.cut:
            tail.append(Text(f"({item.cut})", style="italic dim"))
        self.rendered = Group(*tail)
        self._body.update(self.rendered)

    def _unfreeze(self) -> None:
        for block in self._blocks:
            block.remove()
        self._blocks.clear()
        self._frozen = ""


class ConversationView(VerticalScroll):
    """The conversation, kept scrolled to the newest unless the reader scrolled up."""

    DEFAULT_CSS = """
    ConversationView { height: 1fr; padding: 0 1; }
    """

    def __init__(self, conversation: Conversation, *, assistant: Callable[[], str]) -> None:
        super().__init__(id="conversation")
        self.conversation = conversation
        self._assistant = assistant
        self._views: dict[int, ItemView] = {}
        self.can_focus = True

    def on_mount(self) -> None:
        self.anchor()  # kept at the newest until the reader scrolls up

    def flush(self) -> None:
        """Draw what changed since the last flush."""
        changes = self.conversation.take_changes()
        if not changes:
            return
        if changes.reset:
            self._views.clear()
            self.remove_children()
            self._mount_all(self.conversation.items)
        else:
            if changes.prepended:
                self._prepend(changes.prepended)
            if changes.appended:
                self._mount_all(changes.appended)
            for item in changes.updated:
                view = self._views.get(item.uid)
                if view is not None and view.is_mounted and view.shown != item.version:
                    view.redraw()
        if changes.reset or changes.prepended:
            self.call_after_refresh(self._maybe_older)

    def _mount_all(self, items: list[Item]) -> None:
        views = [self._view(item) for item in items]
        if views:
            self.mount_all(views)

    def _prepend(self, items: list[Item]) -> None:
        views = [self._view(item) for item in items]
        first = self.children[0] if self.children else None
        self.mount_all(views, before=first)

        def keep_place() -> None:
            self.scroll_to(y=sum(view.outer_size.height for view in views), animate=False)

        self.call_after_refresh(keep_place)

    def _view(self, item: Item) -> ItemView:
        view = ItemView(item, self._assistant())
        self._views[item.uid] = view
        return view

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0:
            self._maybe_older()

    def _maybe_older(self) -> None:
        if self.scroll_y <= 0 and self.conversation.more_before:
            self.post_message(Older())

    def view_of(self, item: Item) -> ItemView | None:
        return self._views.get(item.uid)


def _who(item: Item, assistant: str) -> str | None:
    if item.kind == "user":
        return "You" + (" (queued)" if item.queued else "")
    if item.kind == "assistant":
        return assistant
    if item.kind == "system":
        return "System"
    if item.kind == "tool":
        return f"⚙ {item.name or 'tool'}"
    return None


def _render(item: Item) -> RenderableType:
    if item.kind == "tool":
        return _render_tool(item)
    if item.kind == "assistant":  # a finished reply (a streaming one is drawn in blocks)
        parts: list[RenderableType] = [Markdown(item.text)]
        if item.cut:
            parts.append(Text(f"({item.cut})", style="italic dim"))
        return Group(*parts)
    return Text(item.text)


def _render_tool(item: Item) -> RenderableType:
    parts: list[RenderableType] = []
    if item.arguments:
        parts.append(Syntax(format_arguments(item.arguments), "json", word_wrap=True))
    if item.approval is not None:
        approval = item.approval
        if approval.decision == "pending":
            note = f"waiting for your answer (rule {approval.rule}): Allow ctrl+y · Deny ctrl+n"
            parts.append(Text(note, style="bold yellow"))
        else:
            by = f" by {approval.by}" if approval.by else ""
            parts.append(Text(f"{approval.decision}{by}", style="italic"))
    if item.result is not None:
        parts.append(_render_result(item.result, item.is_error))
    elif item.summary is not None:
        parts.append(Text(item.summary, style="red" if item.is_error else "dim"))
    elif not item.done:
        parts.append(Text("running…", style="dim italic"))
    return Group(*parts)


def _render_result(result: str, is_error: bool) -> RenderableType:
    lines = result.splitlines()
    shown = "\n".join(lines[:_RESULT_LINES])
    more = len(lines) - _RESULT_LINES
    body: RenderableType
    if looks_like_diff(shown):
        body = Syntax(shown, "diff", word_wrap=True)
    else:
        body = Text(shown, style="red" if is_error else "")
    if more > 0:
        return Group(body, Text(f"… {more} more lines", style="dim"))
    return body


def plain_text(view: Widget, width: int = 100) -> str:
    """What the item views under ``view`` show, as plain text (their labels and bodies)."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        for item in view.query(ItemView):
            console.print(_who(item.item, "assistant") or "")
            for block in item._blocks:
                console.print(block.render())
            console.print(item.rendered)
    return captured.get()
