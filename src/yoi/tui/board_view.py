"""What a board card says, from the board and the orchestrator's status (no widget here).

The board (``GET /api/board``) gives each card its ticket, blockers and
actions; the orchestrator's status (``GET /api/orchestrator``) gives each run
its phase, usage and gate, and each queued ticket that waits the sentence that
says why. :class:`Orchestration` reads that status; :func:`card_text` is the
card as the board draws it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from yoi.client.tickets import Card

__all__ = ["Orchestration", "RunNote", "card_text", "cost_text", "phase_text", "usage_text"]


@dataclass(frozen=True, slots=True)
class RunNote:
    """A ticket's run as a card shows it."""

    phase: str
    usage: str | None
    gate: str | None

    @classmethod
    def read(cls, run: Mapping[str, Any]) -> RunNote:
        usage = run.get("usage")
        latest = usage.get("run") if isinstance(usage, Mapping) else None
        gate = run.get("gate")
        return cls(
            phase=phase_text(run),
            usage=usage_text(latest) if isinstance(latest, Mapping) else None,
            gate=str(gate["gate"]) if isinstance(gate, Mapping) and "gate" in gate else None,
        )


@dataclass(frozen=True, slots=True)
class Orchestration:
    """The orchestrator's status as the board reads it; empty when there is none."""

    runs: Mapping[str, RunNote] = field(default_factory=dict)
    waiting: Mapping[str, str] = field(default_factory=dict)
    """Queued ticket id → the sentence that says why it waits."""
    notes: tuple[str, ...] = ()
    """Shown above the columns: the orchestrator is off, or what keeps it from starting."""

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> Orchestration:
        runs = {str(run["ticket_id"]): RunNote.read(run) for run in raw.get("runs", ())}
        waiting = {str(w["ticket_id"]): str(w["sentence"]) for w in raw.get("waiting", ())}
        notes = (
            [] if raw.get("enabled", True) else ["The orchestrator is off: queued tickets wait."]
        )
        notes += [f"{p['code']}: {p['message']}" for p in raw.get("problems", ())]
        return cls(runs, waiting, tuple(notes))


def phase_text(run: Mapping[str, Any]) -> str:
    """``reviewing · round 2``, ``stopped: review_rounds_exhausted``, ``coding``."""
    phase = str(run.get("phase", ""))
    if phase == "reviewing":
        return f"reviewing · round {run.get('review_round')}"
    reason = run.get("stop_reason")
    if phase in ("stopped", "failed") and reason:
        return f"{phase}: {reason}"
    return phase.replace("_", " ")


def usage_text(usage: Mapping[str, Any]) -> str:
    """``1,234 in · 56 out · $0.01`` (cached tokens when there are some)."""
    parts = [f"{usage.get('input_tokens') or 0:,} in", f"{usage.get('output_tokens') or 0:,} out"]
    if usage.get("cached_tokens"):
        parts.append(f"{usage['cached_tokens']:,} cached")
    parts.append(cost_text(usage.get("cost_usd")))
    return " · ".join(parts)


def cost_text(cost: object) -> str:
    if not isinstance(cost, int | float):
        return "cost unknown"
    digits = 4 if cost != 0 and abs(cost) < 0.01 else 2
    return f"${cost:.{digits}f}"


def card_text(card: Card, orchestration: Orchestration) -> Text:
    """The card: its id and badges, its title, then its run (in progress) or its wait
    (queued)."""
    text = Text(card.id, style="dim")
    if card.blockers:
        text.append(f"  blocked by {len(card.blockers)}", style="bold red")
    if card.priority:
        text.append(f"  priority {card.priority}", style="yellow")
    text.append("\n")
    text.append(card.title, style="bold")
    run = orchestration.runs.get(card.id)
    if run is not None and card.state in ("inprogress", "queued"):
        text.append(f"\n{run.phase}", style="cyan")
        if run.gate:
            text.append(f"  gate: {run.gate}", style="magenta")
        if run.usage and card.state == "inprogress":
            text.append(f"\n{run.usage}", style="dim")
    waiting = orchestration.waiting.get(card.id)
    if card.state == "queued" and run is None and waiting:
        text.append(f"\n{waiting}", style="italic")
    return text
