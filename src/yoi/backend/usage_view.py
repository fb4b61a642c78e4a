"""A worker's tokens and what they cost, as its console shows them.

The runtime counts each worker's tokens (:attr:`~yoi.runtime.WorkerDetail.usage`, cumulative
over its life) and knows nothing of prices; the backend adds the cost, priced by
:func:`~yoi.orchestrator.prices.price` from the worker's model, so the console shows figures
and never computes one. A cost of ``None`` is unknown (a model with no known price).
"""

from __future__ import annotations

from collections.abc import Mapping

from yoi.orchestrator.prices import price

__all__ = ["usage_of", "worker_usage"]

# The runtime's names for tokens read from a provider's cache (as the orchestrator reads them).
_CACHED_KEYS = ("cached_tokens", "cache_read_tokens")


def worker_usage(model: str, usage: Mapping[str, object]) -> dict[str, object]:
    """``{"input_tokens", "output_tokens", "cached_tokens", "cost_usd"}`` for a worker on
    ``model`` with the runtime's ``usage`` counts; ``cost_usd`` is ``None`` when unknown."""
    input_tokens = _count(usage, "input_tokens")
    output_tokens = _count(usage, "output_tokens")
    cached = next((_count(usage, key) for key in _CACHED_KEYS if key in usage), 0)
    cost = price(model, input_tokens, output_tokens, cached)
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_tokens": cached,
        "cost_usd": None if cost is None else float(cost),
    }


def _count(usage: Mapping[str, object], key: str) -> int:
    value = usage.get(key, 0)
    return value if isinstance(value, int) and value >= 0 else 0


def usage_of(worker: Mapping[str, object]) -> dict[str, object]:
    """:func:`worker_usage` of a worker's JSON form (its ``model`` and ``usage``)."""
    model, usage = worker.get("model"), worker.get("usage")
    return worker_usage(
        model if isinstance(model, str) else "", usage if isinstance(usage, Mapping) else {}
    )
