"""One pass of the orchestrator's policy over 10,000 tickets. Target: p50 ≤ 50 ms.

The board is generated in memory, as the ticket library's catalog holds it: 10,000
tickets spread over every state, exactly 200 of them queued, two in progress with their
runs in flight; a fifth of the tickets have one to three ``depends_on`` relations on older
tickets (and a few a ``blocks`` relation), some queued tickets carry ``conflicts_with`` or
person-written ``blocked_by`` plan records, and some have an expected write surface. A
pass is :func:`decide` on a :class:`Snapshot` built once; building the snapshot from the
catalog, a whole ``explain`` and the ready view over the same catalog come as context.
Before timing, the pass is checked against the ready view: the tickets it blocks are
those the view has waiting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from bench._report import Result, p50, percentile, run_bench
from yoi.orchestrator.policy import Pass, Routing, decide, explain
from yoi.orchestrator.policy_inputs import PolicyConfig, RunInFlight, Snapshot
from yoi.tickets.ids import encode_id, timestamp
from yoi.tickets.index import Catalog
from yoi.tickets.model import Meta, PlanKind, PlanRecord, Relation, RelationKind, State
from yoi.tickets.views import ready_of

BENCH = "orchestrator_policy"
TICKETS = 10_000
QUEUED = 200
WARMUP = 10
SAMPLES = 200
START_MS = 1_780_000_000_000
STATES = [State.CLOSED] * 50 + [State.DONE] * 25 + [State.PLANNING] * 17 + [State.READY] * 8
PATHS = ["src/yoi/tickets", "src/yoi/runtime/worker.py", "docs", "tests/tickets", "bench"]


def catalog_and_extras() -> tuple[
    Catalog, list[PlanRecord], list[RunInFlight], dict[str, list[str]]
]:
    rng = random.Random(17)
    ids = [encode_id(START_MS + 1000 * number) for number in range(TICKETS)]
    states = [rng.choice(STATES) for _ in ids]
    for index in rng.sample(range(TICKETS), QUEUED + 2):
        states[index] = State.QUEUED
    running = [i for i, state in enumerate(states) if state is State.QUEUED][:2]
    for index in running:
        states[index] = State.INPROGRESS
    metas = {
        ticket_id: _meta(number, state, rng)
        for number, (ticket_id, state) in enumerate(zip(ids, states, strict=True))
    }
    relations: dict[str, tuple[Relation, ...]] = {}
    for number, ticket_id in enumerate(ids):
        if number > 10 and rng.random() < 0.2:
            targets = rng.sample(ids[:number], rng.randint(1, 3))
            owned = [Relation(ticket_id, RelationKind.DEPENDS_ON, t) for t in sorted(targets)]
            if rng.random() < 0.1:
                owned.append(
                    Relation(
                        ticket_id, RelationKind.BLOCKS, rng.choice(ids[number + 1 :] or ids[:1])
                    )
                )
            relations[ticket_id] = tuple(owned)
    queued = [i for i, m in metas.items() if m.state is State.QUEUED]
    plans = _plans(rng, queued, ids)
    runs = [RunInFlight(ids[index], "implementing", (rng.choice(PATHS),)) for index in running]
    surfaces = {ticket_id: [rng.choice(PATHS)] for ticket_id in rng.sample(queued, QUEUED // 4)}
    return Catalog(metas, {}, relations), plans, runs, surfaces


def _meta(number: int, state: State, rng: random.Random) -> Meta:
    at = timestamp(START_MS + 1000 * number)
    queued_at = (
        timestamp(START_MS + 1000 * rng.randint(0, TICKETS)) if state is State.QUEUED else None
    )
    return Meta(f"Ticket {number}", state, at, at, queued_at=queued_at)


def _plans(rng: random.Random, queued: list[str], ids: list[str]) -> list[PlanRecord]:
    records: list[PlanRecord] = []
    for number, ticket_id in enumerate(rng.sample(queued, 40)):
        kind = PlanKind.CONFLICTS_WITH if number % 2 else PlanKind.BLOCKED_BY
        author = "person" if number % 4 else "yoi-orchestrator"
        other = rng.choice(queued if kind is PlanKind.CONFLICTS_WITH else ids)
        if other != ticket_id:
            records.append(
                PlanRecord(
                    f"orch-plan-20260101-000000-{number}", ticket_id, kind, author, "t", other
                )
            )
    return records


def _timed(call: Callable[[], object]) -> list[float]:
    samples: list[float] = []
    for index in range(WARMUP + SAMPLES):
        started = time.perf_counter()
        call()
        elapsed = (time.perf_counter() - started) * 1000
        if index >= WARMUP:
            samples.append(elapsed)
    return samples


def _check(result: Pass, catalog: Catalog) -> None:
    """The pass blocks whatever the ready view holds back, and starts only what it lets through
    (a person's ``blocked_by`` record may block more)."""
    blocked = {d.ticket_id for d in result.decisions if d.routing is Routing.BLOCKED}
    view = ready_of(catalog)
    held = {waiting.ticket.id for waiting in view.waiting}
    through = {summary.id for summary in view.ready}
    if not held <= blocked or not set(result.start) <= through or len(result.decisions) != QUEUED:
        raise SystemExit("the policy pass disagrees with the ready view")


def _spread(samples: list[float]) -> str:
    return f"p90 {percentile(samples, 0.9):.1f} ms, max {max(samples):.1f} ms, {len(samples)} runs"


async def measure() -> list[Result]:
    catalog, plans, runs, surfaces = catalog_and_extras()
    config = PolicyConfig(max_parallel=4)

    def build() -> Snapshot:
        return Snapshot.of(catalog, plans=plans, runs=runs, config=config, surfaces=surfaces)

    snapshot = build()
    result = decide(snapshot)
    _check(result, catalog)
    counts = dict.fromkeys(Routing, 0)
    for decision in result.decisions:
        counts[decision.routing] += 1
    shape = (
        f"{TICKETS:,} tickets, {len(catalog.relations):,} with relations, {QUEUED} queued: "
        f"{counts[Routing.BLOCKED]} blocked, {counts[Routing.WAITING_CAPACITY]} waiting, "
        f"{len(result.start)} started"
    )
    passes = _timed(lambda: decide(snapshot))
    builds = _timed(build)
    last = result.decisions[-1].ticket_id
    explains = _timed(lambda: explain(snapshot, last))
    views = _timed(lambda: ready_of(catalog))
    return [
        Result(
            BENCH, "policy pass p50", p50(passes), "ms", 50.0, "max", f"{_spread(passes)}; {shape}"
        ),
        Result(BENCH, "snapshot from the catalog p50", p50(builds), "ms", note=_spread(builds)),
        Result(BENCH, "explain one ticket p50", p50(explains), "ms", note=_spread(explains)),
        Result(BENCH, "ready view of the same catalog p50", p50(views), "ms", note=_spread(views)),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
