"""What a worker's tokens cost, from the price library ``genai-prices`` (its data ships in
the package, so pricing works offline).

A model is priced only when its provider is one the library knows by the same name
(``openai:…``, ``anthropic:…``) and the library finds the model there. Everything else — a
scripted or demo model, a model the library does not list, the library not installed —
costs ``None``: unknown, shown as such, never guessed.
"""

from __future__ import annotations

import functools
from decimal import Decimal

__all__ = ["price"]

# yoi's model name prefixes whose meaning is the library's provider of the same id.
_PROVIDERS = frozenset({"openai", "anthropic"})


def price(
    model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0
) -> Decimal | None:
    """The cost in US dollars of these tokens on ``model`` (yoi's ``provider:model`` name),
    or ``None`` when it is not known. ``cached_tokens`` are the part of ``input_tokens`` read
    from the provider's cache."""
    if input_tokens == output_tokens == 0:
        return Decimal(0)
    provider, _, name = model.partition(":")
    if provider not in _PROVIDERS or not name:
        return None
    return _lookup(provider, name, input_tokens, output_tokens, min(cached_tokens, input_tokens))


@functools.lru_cache(maxsize=4096)
def _lookup(
    provider: str, name: str, input_tokens: int, output_tokens: int, cached_tokens: int
) -> Decimal | None:
    try:
        import genai_prices
    except ImportError:  # an install without it: every cost is unknown
        return None
    counts: dict[str, int] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    if cached_tokens:
        counts["cache_read_tokens"] = cached_tokens
    try:
        found = genai_prices.calc_price(genai_prices.Usage(**counts), name, provider_id=provider)
    except LookupError:
        return None
    return found.total_price
