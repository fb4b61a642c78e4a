"""Figures measured against targets: printing them and keeping them as JSON."""

from __future__ import annotations

import asyncio
import json
import operator
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

__all__ = ["RESULTS", "Result", "p50", "percentile", "print_result", "run_bench", "save"]

RESULTS = Path(__file__).parent / "results" / "latest.json"

Bound = Literal["max", "min", "info"]

_CHECKS: dict[Bound, Callable[[float, float], bool]] = {
    "max": operator.le,
    "min": operator.ge,
    "info": lambda _value, _target: True,
}
_SIGNS: dict[Bound, str] = {"max": "≤", "min": "≥", "info": "for"}


@dataclass(frozen=True, slots=True)
class Result:
    """One figure: ``bound`` says whether the target is a ceiling, a floor or just context."""

    bench: str
    name: str
    value: float
    unit: str
    target: float | None = None
    bound: Bound = "info"
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.target is None or self.bound == "info":
            return None
        return _CHECKS[self.bound](self.value, self.target)

    def line(self) -> str:
        text = f"{self.name}: {_number(self.value)} {self.unit}"
        if self.target is not None and self.bound != "info":
            verdict = "OK" if self.ok else "MISSED"
            text += f" (target {_SIGNS[self.bound]} {_number(self.target)} {self.unit}) {verdict}"
        if self.note:
            text += f"  [{self.note}]"
        return text

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def print_result(result: Result) -> None:
    print(result.line(), flush=True)


def save(results: Sequence[Result], path: Path = RESULTS) -> None:
    """Write ``results`` into ``path``, replacing earlier figures of the same benchmarks."""
    benches = {result.bench for result in results}
    kept: list[dict[str, object]] = []
    if path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
            kept = [item for item in previous.get("results", []) if item["bench"] not in benches]
        except (json.JSONDecodeError, AttributeError, KeyError, TypeError):
            kept = []
    document = {
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "results": kept + [result.to_dict() for result in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def run_bench(bench: str, measure: Callable[[], Awaitable[list[Result]]]) -> list[Result]:
    """Run one benchmark in a fresh event loop, print its figures and save them."""
    print(f"== {bench}", flush=True)
    results = asyncio.run(_call(measure))
    for result in results:
        print_result(result)
    save(results)
    return results


async def _call(measure: Callable[[], Awaitable[list[Result]]]) -> list[Result]:
    return await measure()
