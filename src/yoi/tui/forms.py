"""The small dialogs of the terminal UI: a new ticket, and the text an action asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, TextArea

__all__ = ["AskText", "NewTicket", "NewTicketForm"]


@dataclass(frozen=True, slots=True)
class NewTicket:
    title: str
    body: str


class _Dialog(ModalScreen[object]):
    DEFAULT_CSS = """
    _Dialog { align: center middle; }
    _Dialog > Vertical {
        width: 80%; max-width: 100; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    _Dialog TextArea { height: 8; }
    _Dialog .buttons { height: auto; margin-top: 1; }
    _Dialog .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Send"),
    ]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        raise NotImplementedError

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.action_cancel()

    @staticmethod
    def _buttons(label: str) -> Horizontal:
        return Horizontal(
            Button(label, id="submit", variant="primary"),
            Button("Cancel", id="cancel"),
            classes="buttons",
        )


class NewTicketForm(_Dialog):
    """A title and a body; dismissed with a :class:`NewTicket`, or None when cancelled."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("New ticket (created in planning)")
            yield Input(placeholder="Title", id="title")
            yield Label("Body (Markdown)")
            yield TextArea(id="body")
            yield Label("Ctrl+S creates, Escape cancels", classes="hint")
            yield self._buttons("Create")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#body", TextArea).focus()

    def action_submit(self) -> None:
        title = self.query_one("#title", Input).value.strip()
        if not title:
            self.query_one("#title", Input).focus()
            self.notify("a ticket needs a title", severity="warning")
            return
        self.dismiss(NewTicket(title, self.query_one("#body", TextArea).text))


class AskText(_Dialog):
    """The text an action needs (a summary, a reason, a resolution); dismissed with it, or
    None when cancelled."""

    def __init__(self, title: str, label: str, hint: str, submit: str) -> None:
        super().__init__()
        self._title, self._label, self._hint, self._submit = title, label, hint, submit

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield Label(self._label)
            yield TextArea(id="text")
            yield Label(f"{self._hint}  (Ctrl+S sends, Escape cancels)", classes="hint")
            yield self._buttons(self._submit)

    def on_mount(self) -> None:
        self.query_one("#text", TextArea).focus()

    def action_submit(self) -> None:
        text = self.query_one("#text", TextArea).text.strip()
        if not text:
            self.notify(f"{self._label} is required", severity="warning")
            return
        self.dismiss(text)
