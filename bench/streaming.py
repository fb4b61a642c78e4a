"""One worker streaming 100,000 deltas to 1 and to 10 subscribers, with and without a stalled one.

Targets: ≥ 50,000 events/s to one subscriber; ≥ 20,000 events/s each to ten; a
stalled subscriber (never reads) costs the others ≤ 10% of their throughput and
holds a bounded buffer (it is cut with ``SlowConsumer``).

Throughput is deltas delivered over the time from calling ``send_input`` until
the subscriber has read ``run_finished``. The model suspends before every chunk
(``sleep(0)``), as a provider waiting on its network stream does.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from dataclasses import dataclass, field

from bench._models import ChunkModel
from bench._report import Result, run_bench
from yoi.errors import SlowConsumer
from yoi.runtime import Runtime, RuntimeLimits, Subscription
from yoi.runtime.events import RunFinished, Snapshot, TextDeltaEvent

BENCH = "streaming"
DELTAS = 100_000
READERS = 10
REPEATS = 7


@dataclass(frozen=True, slots=True)
class Reading:
    """What one subscriber saw: deltas read, when it finished, whether it was cut."""

    deltas: int
    finished_at: float
    cut: bool


@dataclass(frozen=True, slots=True)
class Scenario:
    readings: tuple[Reading, ...]
    stalled_buffered: tuple[int, ...]
    stalled_cut: tuple[bool, ...]
    started_at: float

    def rates(self) -> list[float]:
        return [r.deltas / (r.finished_at - self.started_at) for r in self.readings]

    @property
    def cut(self) -> int:
        return sum(r.cut for r in self.readings)


async def _read(subscription: Subscription) -> Reading:
    deltas = 0
    try:
        async for event in subscription:
            match event.event:
                case TextDeltaEvent():
                    deltas += 1
                case RunFinished():
                    break
    except SlowConsumer:
        return Reading(deltas, time.perf_counter(), cut=True)
    return Reading(deltas, time.perf_counter(), cut=False)


async def _drain(subscription: Subscription) -> tuple[int, bool]:
    """Read what a stalled subscription holds: (live events buffered, whether it was cut).

    Its snapshot is not counted: it was handed over before any live event, outside the bound.
    """
    held = 0
    try:
        async for event in subscription:
            if isinstance(event.event, Snapshot):
                continue
            held += 1
            if isinstance(event.event, RunFinished):
                return held, False
    except SlowConsumer:
        return held, True
    return held, False


async def scenario(
    readers: int, stalled: int, *, suspend_every: int = 1, queue: int | None = None
) -> Scenario:
    limits = RuntimeLimits() if queue is None else RuntimeLimits(subscriber_queue=queue)
    model = ChunkModel(DELTAS, suspend_every=suspend_every)
    gc.collect()  # the previous scenario's garbage is not this one's cost
    async with Runtime(model=model, limits=limits) as runtime:
        worker = await runtime.create_worker()
        live = [await runtime.subscribe(worker.worker_id) for _ in range(readers)]
        idle = [await runtime.subscribe(worker.worker_id) for _ in range(stalled)]
        for subscription in live:
            await anext(subscription)  # the snapshot
        tasks = [asyncio.create_task(_read(subscription)) for subscription in live]
        await asyncio.sleep(0)  # every reader now waits for the first live event
        started = time.perf_counter()
        await runtime.send_input(worker.worker_id, "stream")
        readings = await asyncio.gather(*tasks)
        held = [await _drain(subscription) for subscription in idle]
    return Scenario(
        tuple(readings),
        tuple(count for count, _ in held),
        tuple(cut for _, cut in held),
        started,
    )


@dataclass(slots=True)
class Series:
    """Scenarios of one kind over the repeats; figures are medians over repeats."""

    runs: list[Scenario] = field(default_factory=list)

    @property
    def slowest(self) -> float:
        return statistics.median(min(run.rates()) for run in self.runs)

    @property
    def mean(self) -> float:
        return statistics.median(statistics.fmean(run.rates()) for run in self.runs)

    @property
    def cut(self) -> int:
        return max(run.cut for run in self.runs)

    def note(self) -> str:
        if self.cut:
            return f"{self.cut} reader(s) cut with SlowConsumer at subscriber_queue 4096"
        return f"mean {self.mean:,.0f}/s, median of {len(self.runs)} runs"


def _ratios(base: Series, other: Series) -> list[float]:
    """Each run's mean rate over its neighbour's in ``base``, so drift between repeats cancels."""
    return [
        statistics.fmean(b.rates()) / statistics.fmean(a.rates())
        for a, b in zip(base.runs, other.runs, strict=True)
    ]


async def measure() -> list[Result]:
    await scenario(1, 0)  # warm up
    one, ten, stalled = Series(), Series(), Series()
    for _ in range(REPEATS):  # interleaved, so drift hits every series alike
        one.runs.append(await scenario(1, 0))
        ten.runs.append(await scenario(READERS, 0))
        stalled.runs.append(await scenario(READERS, 1))
    cost = 100.0 * (1.0 - statistics.median(_ratios(ten, stalled)))
    held = max(run.stalled_buffered[0] for run in stalled.runs)
    cut = all(run.stalled_cut[0] for run in stalled.runs)
    fate = "cut with SlowConsumer" if cut else "NOT always cut"
    eager = await scenario(1, 0, suspend_every=0)
    batched = await scenario(1, 0, suspend_every=16)
    eager_fate = (
        f"cut with SlowConsumer after {eager.readings[0].deltas:,} deltas"
        if eager.cut
        else "kept up"
    )
    return [
        Result(BENCH, "1 subscriber", one.slowest, "events/s", 50_000, "min", one.note()),
        Result(
            BENCH, "10 subscribers, slowest", ten.slowest, "events/s", 20_000, "min", ten.note()
        ),
        Result(
            BENCH,
            "10 subscribers + 1 stalled, slowest",
            stalled.slowest,
            "events/s",
            20_000,
            "min",
            stalled.note(),
        ),
        Result(
            BENCH,
            "throughput lost to a stalled subscriber",
            cost,
            "%",
            10.0,
            "max",
            f"median over {REPEATS} back-to-back pairs; negative is noise",
        ),
        Result(
            BENCH,
            "stalled subscriber's buffer",
            held,
            "events",
            4096,
            "max",
            f"{fate} after {held:,} of {DELTAS + 5:,} events",
        ),
        Result(
            BENCH,
            "1 subscriber, model suspends every 16 chunks",
            min(batched.rates()),
            "events/s",
            note="context: a provider reading several chunks per network read",
        ),
        Result(
            BENCH,
            "1 subscriber, model never suspends",
            eager.readings[0].deltas,
            "deltas read",
            note=f"context: reader {eager_fate}",
        ),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
