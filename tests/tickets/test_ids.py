"""Ticket ids as people type them: any case, I and L for 1, O for 0; written canonical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.tickets.rig import AUTHOR, make, new_store

from yoi.errors import InvalidTicketId
from yoi.tickets import PlanKind, RelationKind, State
from yoi.tickets.ids import encode_id, is_ticket_id, ticket_id

MOMENTS = st.integers(min_value=0, max_value=32**13 - 1)
# How a person may type each canonical character.
SPELLINGS = {"1": "1IiLl", "0": "0Oo"}


@st.composite
def typed(draw: st.DrawFn) -> tuple[str, str]:
    """A canonical id and one way of typing it."""
    canonical = encode_id(draw(MOMENTS))
    chars = [draw(st.sampled_from(SPELLINGS.get(char, char + char.lower()))) for char in canonical]
    return canonical, "".join(chars)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(typed=typed())
def test_every_spelling_of_an_id_reads_as_the_canonical_one(typed: tuple[str, str]) -> None:
    canonical, spelling = typed

    assert ticket_id(spelling) == canonical
    assert is_ticket_id(canonical)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(value=st.text(max_size=15))
def test_anything_else_is_refused_and_an_id_is_always_canonical(value: str) -> None:
    expected = value.upper().replace("I", "1").replace("L", "1").replace("O", "0")
    if len(value) == 13 and value.isascii() and is_ticket_id(expected):
        assert ticket_id(value) == expected
        return
    with pytest.raises(InvalidTicketId) as refused:
        ticket_id(value)
    assert refused.value.details == {"field": "ticket id"}


@pytest.mark.parametrize(
    "value", ["00001KDYAK34U", "00001-DYAK348", "00001KDYAK34\u0130", " " * 13]
)
def test_u_hyphens_and_lookalikes_are_refused(value: str) -> None:
    with pytest.raises(InvalidTicketId):
        ticket_id(value)


def test_only_canonical_names_are_ticket_folders() -> None:
    assert not is_ticket_id("00001kdyak348")
    assert not is_ticket_id("OOOO1KDYAK348")


def test_the_store_takes_any_spelling_and_writes_the_canonical_id(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    first, second = make(store), make(store)
    typed_first = first.lower().replace("0", "o").replace("1", "l")
    typed_second = second.lower()

    assert store.get(typed_first).id == first
    store.comment(typed_first, "Hi.", author=AUTHOR)
    store.move(typed_first, State.READY, author=AUTHOR)
    relation = store.add_relation(typed_first, RelationKind.DEPENDS_ON, typed_second, author=AUTHOR)
    record = store.add_plan(
        typed_first, PlanKind.BEFORE, author=AUTHOR, related_ticket=typed_second
    )

    assert (relation.ticket_id, relation.target) == (first, second)
    assert (record.ticket_id, record.related_ticket) == (first, second)
    written = json.loads((store.root / first / "artifacts" / "relations.json").read_text())
    assert written["relations"][0]["target"] == second
    plan_line = (store.root / first / "artifacts" / "orchestration-plan.jsonl").read_text()
    assert json.loads(plan_line)["related_ticket"] == second
    assert store.relations(ticket_id=typed_first) == [relation]
    assert sorted(p.name for p in store.root.iterdir() if not p.name.startswith(".")) == [
        first,
        second,
    ]
