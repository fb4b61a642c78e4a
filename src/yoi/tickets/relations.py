"""``artifacts/relations.json``: a ticket's forward relations to other tickets.

``{"version": 1, "relations": [...]}``, two-space indented with a trailing
newline, sorted by kind (``depends_on, blocks, related, supersedes,
duplicate_of``) then target. A relation is stored only on its source ticket;
the inverse seen from the target is derived, never written.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from yoi.tickets.ids import is_ticket_id
from yoi.tickets.model import Relation, RelationKind

__all__ = [
    "RelationFile",
    "closing_cycle",
    "parse_relations",
    "relation_dict",
    "render_relations",
]

_VERSION = 1
_OPTIONAL = ("note", "author", "at")


@dataclass(frozen=True, slots=True)
class RelationFile:
    relations: tuple[Relation, ...]
    problems: tuple[str, ...]


def parse_relations(text: str, owner: str) -> RelationFile:
    """Every valid relation of ``owner``; each entry that is not valid becomes a problem."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return RelationFile((), (f"relations.json is not JSON (line {error.lineno})",))
    except (ValueError, RecursionError):
        return RelationFile((), ("relations.json nests too deeply or holds a number too long",))
    entries = document.get("relations") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return RelationFile((), ("relations.json has no 'relations' list",))
    relations: list[Relation] = []
    problems: list[str] = []
    seen: set[tuple[RelationKind, str]] = set()
    for number, entry in enumerate(entries, start=1):
        try:
            relation = _relation(entry, owner)
        except ValueError as error:
            problems.append(f"relation {number}: {error}")
            continue
        key = (relation.kind, relation.target)
        if key in seen:
            problems.append(f"relation {number}: {relation.kind} {relation.target} is listed twice")
            continue
        seen.add(key)
        relations.append(relation)
    return RelationFile(tuple(relations), tuple(problems))


def render_relations(relations: Iterable[Relation]) -> str:
    ordered = sorted(relations, key=lambda relation: relation.sort_key)
    document = {"version": _VERSION, "relations": [relation_dict(item) for item in ordered]}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def relation_dict(relation: Relation) -> dict[str, str]:
    fields = {"ticket_id": relation.ticket_id, "kind": relation.kind.value}
    fields["target"] = relation.target
    for name in _OPTIONAL:
        value = getattr(relation, name)
        if value is not None:
            fields[name] = value
    return fields


def closing_cycle(owned: Mapping[str, Sequence[Relation]], added: Relation) -> list[str] | None:
    """The wait cycle ``added`` would close, as ids from the ticket that would wait back to it.

    ``A depends_on B`` and ``B blocks A`` both make A wait for B; a cycle of
    waits leaves every ticket on it unable to start. ``None`` when ``added``
    closes none (or makes no ticket wait).
    """
    wait = _wait(added)
    if wait is None:
        return None
    waiting, awaited = wait
    edges: dict[str, set[str]] = {}
    for relations in owned.values():
        for relation in relations:
            found = _wait(relation)
            if found is not None:
                edges.setdefault(found[0], set()).add(found[1])
    parents: dict[str, str] = {}
    queue = deque([awaited])
    while queue:
        node = queue.popleft()
        if node == waiting:
            path = [node]
            while path[-1] != awaited:
                path.append(parents[path[-1]])
            return [waiting, *reversed(path)]
        for following in sorted(edges.get(node, ())):
            if following not in parents and following != awaited:
                parents[following] = node
                queue.append(following)
    return None


def _wait(relation: Relation) -> tuple[str, str] | None:
    """``(waiting, awaited)`` for a relation that makes one ticket wait for another."""
    if relation.kind is RelationKind.DEPENDS_ON:
        return relation.ticket_id, relation.target
    if relation.kind is RelationKind.BLOCKS:
        return relation.target, relation.ticket_id
    return None


def _relation(entry: object, owner: str) -> Relation:
    if not isinstance(entry, dict):
        raise ValueError("is not an object")
    if entry.get("ticket_id") != owner:
        raise ValueError(f"names ticket_id {entry.get('ticket_id')!r}, not its owner {owner}")
    try:
        kind = RelationKind(str(entry.get("kind")))
    except ValueError:
        raise ValueError(f"has an unknown kind {entry.get('kind')!r}") from None
    target = entry.get("target")
    if not is_ticket_id(target):
        raise ValueError(f"has a target {target!r} that is not a ticket id")
    assert isinstance(target, str)
    if target == owner:
        raise ValueError(f"relates {owner} to itself")
    optional = {name: entry.get(name) for name in _OPTIONAL}
    for name, value in optional.items():
        if value is not None and not isinstance(value, str):
            raise ValueError(f"has a {name} that is not a string")
    return Relation(owner, kind, target, **optional)
