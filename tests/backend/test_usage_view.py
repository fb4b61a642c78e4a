"""A worker's usage as its console shows it: the runtime's counts, priced by the backend."""

from __future__ import annotations

from yoi.backend.usage_view import usage_of, worker_usage
from yoi.backend.views import project_worker_dict
from yoi.orchestrator.prices import price


def test_a_priced_model_gets_its_cost_and_cached_tokens_count() -> None:
    found = worker_usage(
        "openai:gpt-4o-mini",
        {"input_tokens": 12_000, "output_tokens": 3_000, "cache_read_tokens": 2_000},
    )
    cost = price("openai:gpt-4o-mini", 12_000, 3_000, 2_000)
    assert cost is not None
    assert found == {
        "input_tokens": 12_000,
        "output_tokens": 3_000,
        "cached_tokens": 2_000,
        "cost_usd": float(cost),
    }


def test_a_model_with_no_known_price_costs_none_and_bad_counts_read_as_zero() -> None:
    found = worker_usage("scripted:offline", {"input_tokens": 5, "output_tokens": -1})
    assert found == {"input_tokens": 5, "output_tokens": 0, "cached_tokens": 0, "cost_usd": None}


def test_a_worker_view_is_priced_from_its_model_and_counts() -> None:
    body: dict[str, object] = {
        "display_name": "Scout",
        "model": "scripted:offline",
        "usage": {"input_tokens": 7, "output_tokens": 2},
    }
    assert usage_of(body) == worker_usage(
        "scripted:offline", {"input_tokens": 7, "output_tokens": 2}
    )
    bare = usage_of({"display_name": "Bare"})  # no model, no counts: nothing used
    assert (bare["input_tokens"], bare["output_tokens"], bare["cached_tokens"]) == (0, 0, 0)
    assert "usage_summary" not in project_worker_dict(dict(body), "local")  # the API's own route
