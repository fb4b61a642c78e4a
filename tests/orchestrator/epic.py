"""The seed epic: the ten tickets of the worker-runtime chain of the sample store, re-created
as new tickets with the same ``depends_on`` relations among them, marked ready and queued."""

from __future__ import annotations

from graphlib import TopologicalSorter

from tests.tickets.rig import SAMPLE

from yoi.tickets import State, TicketStore
from yoi.tickets.frontmatter import parse_item
from yoi.tickets.model import RelationKind
from yoi.tickets.relations import parse_relations

__all__ = ["EPIC", "seed_epic"]

EPIC = (
    "00001KVZBCQH4",  # worker-runtime core crate and embedded Runtime API
    "00001KVZKST83",  # FS persistence
    "00001KVZKSTE2",  # REST command server
    "00001KVZKSTJT",  # WebSocket observation proxy
    "00001KVZKSV6C",  # RuntimeRegistry foundation
    "00001KVZQHPNY",  # profile / config bundle sync
    "00001KVZSGT0Q",  # embedded runtime connection
    "00001KVZSGT14",  # remote runtime connection
    "00001KVZ9JGK0",  # Companion console
    "00001KW04A8K6",  # TUI migration
)
PERSON = "ann"


def dependencies() -> dict[str, tuple[str, ...]]:
    """Each epic ticket's ``depends_on`` targets within the epic, from the sample store."""
    found: dict[str, tuple[str, ...]] = {}
    for ticket in EPIC:
        path = SAMPLE / "tickets" / ticket / "artifacts" / "relations.json"
        relations = parse_relations(path.read_text(encoding="utf-8"), ticket).relations
        found[ticket] = tuple(
            r.target for r in relations if r.kind is RelationKind.DEPENDS_ON and r.target in EPIC
        )
    return found


def seed_epic(store: TicketStore) -> dict[str, str]:
    """Create the epic in ``store`` in dependency order, relate, mark ready and queue each
    ticket; the new id of each sample id."""
    needs = dependencies()
    order = list(TopologicalSorter(needs).static_order())
    made: dict[str, str] = {}
    for sample in order:
        item = parse_item((SAMPLE / "tickets" / sample / "item.md").read_text(encoding="utf-8"))
        summary = store.create(item.meta.title, item.body, author=PERSON)
        made[sample] = summary.id
        for target in needs[sample]:
            store.add_relation(summary.id, RelationKind.DEPENDS_ON, made[target], author=PERSON)
    for sample in order:
        store.move(made[sample], State.READY, author=PERSON)
        store.move(made[sample], State.QUEUED, author=PERSON)
    return made
