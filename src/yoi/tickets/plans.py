"""``artifacts/orchestration-plan.jsonl``: the orchestrator's notes about a ticket.

One compact JSON object per line, appended and fsync'd. A record never
changes a ticket's state; it records ordering, conflicts, capacity waits and
accepted plans. Ids are ``orch-plan-YYYYMMDD-HHMMSS-N`` with N one more than
the lines already present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from yoi.tickets.ids import is_ticket_id
from yoi.tickets.model import PlanKind, PlanRecord

__all__ = ["PlanFile", "check_plan", "parse_plans", "plan_dict", "plan_id", "render_plan"]

_ACCEPTED_KEYS = {"summary", "branch", "worktree", "role_plan"}


@dataclass(frozen=True, slots=True)
class PlanFile:
    records: tuple[PlanRecord, ...]
    problems: tuple[tuple[int, str], ...]
    lines: int


def parse_plans(text: str, owner: str) -> PlanFile:
    """Every valid record; a torn last line (no newline, not JSON) is skipped silently."""
    records: list[PlanRecord] = []
    problems: list[tuple[int, str]] = []
    lines = text.split("\n")
    torn = lines[-1]
    lines = lines[:-1]
    if torn.strip():
        try:
            json.loads(torn)
            lines.append(torn)
        except (ValueError, RecursionError):
            pass
    count = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        count += 1
        try:
            records.append(_record(json.loads(line), owner))
        except ValueError as error:
            problems.append((number, str(error)))
        except RecursionError:
            problems.append((number, "nests too deeply"))
    return PlanFile(tuple(records), tuple(problems), count)


def plan_id(milliseconds: int, present: int) -> str:
    moment = datetime.fromtimestamp(milliseconds / 1000, tz=UTC)
    return f"orch-plan-{moment:%Y%m%d-%H%M%S}-{present + 1}"


def render_plan(record: PlanRecord) -> str:
    return json.dumps(plan_dict(record), ensure_ascii=False, separators=(",", ":")) + "\n"


def plan_dict(record: PlanRecord) -> dict[str, object]:
    fields: dict[str, object] = {"id": record.id, "ticket_id": record.ticket_id}
    fields["kind"] = record.kind.value
    if record.related_ticket is not None:
        fields["related_ticket"] = record.related_ticket
    if record.note is not None:
        fields["note"] = record.note
    if record.accepted_plan:
        fields["accepted_plan"] = dict(record.accepted_plan)
    fields["author"] = record.author
    fields["at"] = record.at
    return fields


def check_plan(record: PlanRecord) -> None:
    """Raise ``ValueError`` naming the first rule ``record`` breaks."""
    if record.kind.needs_related_ticket and not is_ticket_id(record.related_ticket):
        raise ValueError(f"a {record.kind} record needs a related_ticket that is a ticket id")
    if not record.kind.needs_related_ticket and record.related_ticket is not None:
        raise ValueError(f"a {record.kind} record takes no related_ticket")
    if record.kind is PlanKind.WAITING_CAPACITY_NOTE and not (record.note or "").strip():
        raise ValueError("a waiting_capacity_note record needs a note")
    if record.kind is PlanKind.ACCEPTED_PLAN:
        _check_accepted(record.accepted_plan)
    elif record.accepted_plan:
        raise ValueError("accepted_plan belongs only on an accepted_plan record")


def _check_accepted(plan: dict[str, object]) -> None:
    unknown = set(plan) - _ACCEPTED_KEYS
    if unknown:
        raise ValueError(f"accepted_plan has unknown fields: {', '.join(sorted(unknown))}")
    summary = plan.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise ValueError("accepted_plan needs a summary")
    for name in ("branch", "worktree"):
        if name in plan and not isinstance(plan[name], str):
            raise ValueError(f"accepted_plan's {name} must be a string")


def _record(document: object, owner: str) -> PlanRecord:
    if not isinstance(document, dict):
        raise ValueError("is not a JSON object")
    try:
        kind = PlanKind(str(document.get("kind")))
    except ValueError:
        raise ValueError(f"has an unknown kind {document.get('kind')!r}") from None
    if document.get("ticket_id") != owner:
        raise ValueError(f"names ticket_id {document.get('ticket_id')!r}, not {owner}")
    texts = {name: document.get(name) for name in ("id", "author", "at")}
    if not all(isinstance(value, str) and value for value in texts.values()):
        raise ValueError("needs id, author and at as strings")
    optional = {name: document.get(name) for name in ("related_ticket", "note")}
    if not all(value is None or isinstance(value, str) for value in optional.values()):
        raise ValueError("has a related_ticket or note that is not a string")
    accepted = document.get("accepted_plan") or {}
    if not isinstance(accepted, dict):
        raise ValueError("has an accepted_plan that is not an object")
    record = PlanRecord(
        id=str(texts["id"]),
        ticket_id=owner,
        kind=kind,
        author=str(texts["author"]),
        at=str(texts["at"]),
        related_ticket=optional["related_ticket"],
        note=optional["note"],
        accepted_plan=accepted,
    )
    check_plan(record)
    return record
