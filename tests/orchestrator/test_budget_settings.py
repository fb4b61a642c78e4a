"""The [orchestrator.budgets] table: exactly its values, or refused naming its key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.errors import InvalidRequest
from yoi.orchestrator.budget_settings import Budgets


def test_no_table_is_no_limit() -> None:
    assert Budgets.from_document({}) == Budgets()
    assert Budgets.from_document({"orchestrator": {"max_parallel": 2}}) == Budgets()
    assert Budgets().to_dict() == {}


def test_a_table_is_read() -> None:
    document = {
        "orchestrator": {
            "budgets": {"max_tokens": 1000, "max_cost_usd": 2, "max_worktree_bytes": 10**9}
        }
    }
    assert Budgets.from_document(document) == Budgets(1000, 2.0, 10**9)


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"orchestrator": []}, "orchestrator"),
        ({"orchestrator": {"budgets": 5}}, "orchestrator.budgets"),
        ({"orchestrator": {"budgets": {"max_time": 5}}}, "orchestrator.budgets.max_time"),
        ({"orchestrator": {"budgets": {"max_tokens": 0}}}, "orchestrator.budgets.max_tokens"),
        ({"orchestrator": {"budgets": {"max_tokens": True}}}, "orchestrator.budgets.max_tokens"),
        ({"orchestrator": {"budgets": {"max_tokens": 1.5}}}, "orchestrator.budgets.max_tokens"),
        (
            {"orchestrator": {"budgets": {"max_cost_usd": float("nan")}}},
            "orchestrator.budgets.max_cost_usd",
        ),
        ({"orchestrator": {"budgets": {"max_cost_usd": 0}}}, "orchestrator.budgets.max_cost_usd"),
        (
            {"orchestrator": {"budgets": {"max_cost_usd": "5"}}},
            "orchestrator.budgets.max_cost_usd",
        ),
        (
            {"orchestrator": {"budgets": {"max_worktree_bytes": -1}}},
            "orchestrator.budgets.max_worktree_bytes",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(document: dict[str, object], key: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        Budgets.from_document(document)
    assert refused.value.details == {"field": key}


whole = st.none() | st.integers(min_value=1, max_value=2**62)


@given(
    max_tokens=whole,
    max_cost_usd=st.none() | st.floats(min_value=1e-9, max_value=1e6),
    max_worktree_bytes=whole,
)
def test_any_budgets_round_trip_through_their_table(
    max_tokens: int | None, max_cost_usd: float | None, max_worktree_bytes: int | None
) -> None:
    budgets = Budgets(max_tokens, max_cost_usd, max_worktree_bytes)
    assert Budgets.from_table(budgets.to_dict()) == budgets
    document = {"orchestrator": {"budgets": budgets.to_dict(), "max_parallel": 3}}
    assert Budgets.from_document(document) == budgets


def read(key: str, value: object) -> Budgets | InvalidRequest:
    try:
        return Budgets.from_table({key: value})
    except InvalidRequest as refused:
        return refused


@given(value=st.integers() | st.floats(allow_nan=True) | st.text() | st.booleans())
def test_any_value_is_read_exactly_or_refused(value: object) -> None:
    for key in ("max_tokens", "max_cost_usd", "max_worktree_bytes"):
        found = read(key, value)
        if isinstance(found, InvalidRequest):
            assert found.details == {"field": f"orchestrator.budgets.{key}"}
        else:
            assert getattr(found, key) == value
            assert not isinstance(value, bool | str)
