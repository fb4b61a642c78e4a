"""Prices come from genai-prices' offline data where the model is known, else are unknown."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.orchestrator.prices import price


def test_a_known_model_costs_something_and_more_tokens_cost_more() -> None:
    small = price("openai:gpt-4o-mini", 1_000, 500)
    large = price("openai:gpt-4o-mini", 10_000, 5_000)
    assert small is not None
    assert large is not None
    assert Decimal(0) < small < large
    claude = price("anthropic:claude-sonnet-4-5", 1_000, 500)
    assert claude is not None
    assert claude > small  # a larger model, a higher price: the two are looked up apart


def test_cached_input_costs_less_than_the_same_input_uncached() -> None:
    plain = price("openai:gpt-4o-mini", 100_000, 0)
    cached = price("openai:gpt-4o-mini", 100_000, 0, cached_tokens=100_000)
    assert plain is not None
    assert cached is not None
    assert cached < plain


@pytest.mark.parametrize(
    "model",
    [
        "scripted:test",
        "demo:playbook",
        "openai:no-such-model-anywhere",
        "anthropic:",
        "gpt-4o-mini",  # no provider: not guessed
        "someone:gpt-4o-mini",
    ],
)
def test_an_unknown_model_has_no_price(model: str) -> None:
    assert price(model, 1_000, 500) is None


def test_no_tokens_cost_nothing_whatever_the_model() -> None:
    assert price("scripted:test", 0, 0) == 0
    assert price("openai:gpt-4o-mini", 0, 0) == 0


@given(
    input_tokens=st.integers(min_value=0, max_value=10**9),
    output_tokens=st.integers(min_value=0, max_value=10**9),
    extra=st.integers(min_value=1, max_value=10**6),
)
def test_a_known_price_grows_with_either_count(
    input_tokens: int, output_tokens: int, extra: int
) -> None:
    base = price("openai:gpt-4o-mini", input_tokens, output_tokens)
    more_in = price("openai:gpt-4o-mini", input_tokens + extra, output_tokens)
    more_out = price("openai:gpt-4o-mini", input_tokens, output_tokens + extra)
    assert base is not None
    assert more_in is not None
    assert more_out is not None
    assert base < more_in
    assert base < more_out
