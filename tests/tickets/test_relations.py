"""Relations that would make tickets wait for each other in a circle are refused."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.tickets.rig import AUTHOR, make, new_store

from yoi.errors import RelationCycle
from yoi.tickets import Relation, RelationKind
from yoi.tickets.doctor import diagnose
from yoi.tickets.lifecycle import Graph
from yoi.tickets.relations import closing_cycle

DEPENDS, BLOCKS = RelationKind.DEPENDS_ON, RelationKind.BLOCKS
IDS = ["A", "B", "C", "D", "E"]


def waits(relation: Relation) -> tuple[str, str] | None:
    """(waiting, awaited), worked out here on its own."""
    if relation.kind is DEPENDS:
        return relation.ticket_id, relation.target
    if relation.kind is BLOCKS:
        return relation.target, relation.ticket_id
    return None


def test_the_third_edge_of_a_circle_is_refused_naming_the_circle(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    a, b, c = (make(store, title=name) for name in "ABC")
    store.add_relation(a, DEPENDS, b, author=AUTHOR)
    store.add_relation(b, DEPENDS, c, author=AUTHOR)
    before = store.relations()

    with pytest.raises(RelationCycle) as refused:
        store.add_relation(c, DEPENDS, a, author=AUTHOR)

    assert refused.value.details == {
        "ticket_id": c,
        "kind": "depends_on",
        "target": a,
        "cycle": [c, a, b, c],
    }
    assert refused.value.message.endswith(f"none of which could start: {c} → {a} → {b} → {c}")
    assert store.relations() == before
    assert not (store.root / c / "artifacts" / "relations.json").exists()
    assert diagnose(store.root).findings == ()


def test_blocks_and_depends_on_close_a_circle_together(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    a, b = make(store), make(store)
    store.add_relation(a, DEPENDS, b, author=AUTHOR)

    with pytest.raises(RelationCycle) as refused:
        store.add_relation(a, BLOCKS, b, author=AUTHOR)

    assert refused.value.details["cycle"] == [b, a, b]
    with pytest.raises(RelationCycle):
        store.add_relation(b, DEPENDS, a, author=AUTHOR)


@pytest.mark.parametrize("kind", [k for k in RelationKind if k not in (DEPENDS, BLOCKS)])
def test_relations_that_make_nobody_wait_never_close_a_circle(
    tmp_path: Path, kind: RelationKind
) -> None:
    store = new_store(tmp_path)
    a, b = make(store), make(store)
    store.add_relation(a, DEPENDS, b, author=AUTHOR)

    assert store.add_relation(b, kind, a, author=AUTHOR).kind is kind


edges = st.lists(
    st.tuples(st.sampled_from(IDS), st.sampled_from([DEPENDS, BLOCKS]), st.sampled_from(IDS)),
    max_size=25,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(edges=edges)
def test_accepted_edges_never_form_a_circle_and_a_refused_one_names_a_real_one(
    edges: list[tuple[str, RelationKind, str]],
) -> None:
    owned: dict[str, list[Relation]] = {}
    for source, kind, target in edges:
        if source == target:
            continue
        added = Relation(source, kind, target)
        cycle = closing_cycle(owned, added)
        if cycle is None:
            owned.setdefault(source, []).append(added)
            assert Graph(owned, {}).cycles() == []
            continue
        wait = waits(added)
        assert wait is not None
        pairs = {waits(r) for held in owned.values() for r in held} | {wait}
        assert cycle[0] == cycle[-1] == wait[0]
        assert all(pair in pairs for pair in pairwise(cycle))
        assert Graph({**owned, source: [*owned.get(source, []), added]}, {}).cycles() != []
