"""The words yoi writes into tickets by itself, in English or Japanese.

Only default headings and bodies are localised; event kinds, states and
reasons stay the machine vocabulary in every language, as in the original
yoi's files.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Language", "Texts", "language_named"]


class Language(StrEnum):
    EN = "en"
    JA = "ja"


_NAMES = {
    "en": Language.EN,
    "en-us": Language.EN,
    "en-gb": Language.EN,
    "english": Language.EN,
    "ja": Language.JA,
    "ja-jp": Language.JA,
    "japanese": Language.JA,
    "日本語": Language.JA,
}

_HEADINGS = {
    "comment": "Comment",
    "plan": "Plan",
    "decision": "Decision",
    "implementation_report": "Implementation report",
    "intake_summary": "Intake summary",
    "state_changed": "State changed",
    "approve": "Review: approve",
    "request_changes": "Review: request changes",
}


def language_named(name: str) -> Language | None:
    return _NAMES.get(name.strip().lower())


class Texts:
    """Headings and default bodies for one language."""

    def __init__(self, language: Language) -> None:
        self.japanese = language is Language.JA

    def heading(self, kind: str) -> str:
        if kind == "create":
            return "作成" if self.japanese else "Created"
        if kind == "close":
            return "完了" if self.japanese else "Closed"
        return _HEADINGS[kind]

    def created(self) -> str:
        return "yoi によって作成されました。" if self.japanese else "Created with yoi."

    def intake_summary(self) -> str:
        if self.japanese:
            return "Intake summary の記述なしで ready にしました。"
        return "Marked ready without a written intake summary."

    def moved(self, source: str, target: str, author: str) -> str:
        if target == "queued":
            if self.japanese:
                return f"Ticket を `{author}` が queued にしました。"
            return f"Ticket queued by `{author}`."
        if target == "closed":
            return "Ticket を closed にしました。" if self.japanese else "Ticket closed."
        if self.japanese:
            return f"state を `{source}` から `{target}` に変更しました。"
        return f"State changed from `{source}` to `{target}`."
