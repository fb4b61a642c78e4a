"""The policy's invariants over random graphs, each checked against an independent reading
of the same snapshot rather than against the policy's own helpers."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from pathlib import PurePosixPath
from random import Random
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from yoi.orchestrator.policy import Pass, ReasonCode, Routing, decide
from yoi.orchestrator.policy_inputs import PolicyConfig, RunInFlight, Snapshot
from yoi.tickets.ids import encode_id
from yoi.tickets.index import Catalog
from yoi.tickets.model import Meta, PlanKind, PlanRecord, Relation, RelationKind, State
from yoi.tickets.views import ready_of

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)
START_MS = 1_780_000_000_000
IDS = [encode_id(START_MS + 1000 * n) for n in range(12)]
GONE = encode_id(START_MS - 1000)
MOMENTS = [None, "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-02T00:00:00Z"]
PATHS = ["src", "src/a.py", "src/b.py", "docs/x.md", "docs", "tests/t.py", "."]
PAIR_KINDS = (PlanKind.CONFLICTS_WITH, PlanKind.DO_NOT_PARALLELIZE)
T = TypeVar("T")


@dataclass(frozen=True)
class World:
    catalog: Catalog
    plans: tuple[PlanRecord, ...]
    runs: tuple[RunInFlight, ...]
    surfaces: dict[str, tuple[str, ...]]
    max_parallel: int

    def snapshot(self) -> Snapshot:
        return Snapshot.of(
            self.catalog,
            plans=self.plans,
            runs=self.runs,
            config=PolicyConfig(max_parallel=self.max_parallel),
            surfaces=self.surfaces,
        )


STATES = st.sampled_from([*State, State.QUEUED, State.QUEUED, State.QUEUED])
WHEN = st.sampled_from(MOMENTS)
SURFACE = st.lists(st.sampled_from(PATHS), max_size=2).map(tuple)
PHASE = st.sampled_from(["accepting", "merging"])
KIND = st.sampled_from([*RelationKind, RelationKind.DEPENDS_ON, RelationKind.DEPENDS_ON])
PLAN_KIND = st.sampled_from([*PAIR_KINDS, PlanKind.BLOCKED_BY])
AUTHOR = st.sampled_from(["person", "yoi-orchestrator"])
# Strategies over the first n ids (and one that names no ticket), built once: building
# them inside the composite would cost more than the policy under test.
TARGET = {n: st.sampled_from([*IDS[:n], GONE]) for n in range(1, len(IDS) + 1)}
OWNER = {n: st.sampled_from(IDS[:n]) for n in range(1, len(IDS) + 1)}
RELATIONS = {n: st.lists(st.tuples(KIND, TARGET[n]), max_size=2) for n in TARGET}
PLANS = {n: st.lists(st.tuples(OWNER[n], PLAN_KIND, TARGET[n], AUTHOR), max_size=6) for n in TARGET}
RUNS = {
    n: st.lists(st.tuples(TARGET[n], PHASE, SURFACE), max_size=2, unique_by=lambda r: r[0])
    for n in TARGET
}


@st.composite
def worlds(draw: st.DrawFn, *, holds: bool = True) -> World:
    count = draw(st.integers(1, len(IDS)))
    ids = IDS[:count]
    metas: dict[str, Meta] = {}
    for ticket_id in ids:
        state = draw(STATES)
        queued = draw(WHEN) if state is State.QUEUED else None
        metas[ticket_id] = Meta(f"T {ticket_id}", state, "c", "u", queued_at=queued)
    relations: dict[str, tuple[Relation, ...]] = {}
    for ticket_id in ids:
        unique = {(kind, target) for kind, target in draw(RELATIONS[count]) if target != ticket_id}
        if unique:
            relations[ticket_id] = tuple(Relation(ticket_id, k, t) for k, t in sorted(unique))
    plans: list[PlanRecord] = []
    runs: list[RunInFlight] = []
    surfaces: dict[str, tuple[str, ...]] = {}
    if holds:
        for number, (owner, kind, other, author) in enumerate(draw(PLANS[count])):
            plans.append(PlanRecord(f"orch-plan-{number}", owner, kind, author, "t", other))
        runs = [RunInFlight(*run) for run in draw(RUNS[count])] if draw(st.booleans()) else []
        surfaces = {ticket_id: draw(SURFACE) for ticket_id in ids}
    catalog = Catalog(metas, {}, relations)
    return World(catalog, tuple(plans), tuple(runs), surfaces, draw(st.integers(1, 4)))


def unfinished(world: World, ticket_id: str) -> bool:
    meta = world.catalog.metas.get(ticket_id)
    return meta is None or not meta.state.finished


def running(world: World) -> set[str]:
    in_progress = {i for i, m in world.catalog.metas.items() if m.state is State.INPROGRESS}
    return in_progress | {run.ticket_id for run in world.runs}


def waits(world: World) -> dict[str, set[str]]:
    """Who waits for whom, read straight off the relations."""
    found: dict[str, set[str]] = {}
    for owned in world.catalog.relations.values():
        for relation in owned:
            if relation.kind is RelationKind.DEPENDS_ON:
                found.setdefault(relation.ticket_id, set()).add(relation.target)
            elif relation.kind is RelationKind.BLOCKS:
                found.setdefault(relation.target, set()).add(relation.ticket_id)
    return found


def surface(world: World, ticket_id: str) -> list[PurePosixPath]:
    run = next((r for r in world.runs if r.ticket_id == ticket_id and r.write_surface), None)
    paths = run.write_surface if run is not None else world.surfaces.get(ticket_id, ())
    return [PurePosixPath(path) for path in paths]


def meet(one: list[PurePosixPath], two: list[PurePosixPath]) -> bool:
    dot = PurePosixPath(".")
    return any(
        a == dot or b == dot or a.is_relative_to(b) or b.is_relative_to(a) for a in one for b in two
    )


def free_order(result: Pass) -> list[str]:
    """The decided tickets nothing but capacity keeps back, in the pass's order."""
    return [
        d.ticket_id
        for d in result.decisions
        if d.routing is Routing.IMPLEMENTATION_READY
        or {r.code for r in d.reasons} == {ReasonCode.CAPACITY}
    ]


@PROPERTY
@given(worlds())
def test_it_never_starts_a_ticket_that_is_not_queued_or_has_begun(world: World) -> None:
    result = decide(world.snapshot())
    begun = {run.ticket_id for run in world.runs}
    for ticket_id in result.start:
        assert world.catalog.metas[ticket_id].state is State.QUEUED
        assert ticket_id not in begun
    assert len(set(result.start)) == len(result.start)


@PROPERTY
@given(worlds())
def test_it_never_exceeds_capacity(world: World) -> None:
    result = decide(world.snapshot())
    assert len(result.start) <= max(0, world.max_parallel - len(running(world)))


@PROPERTY
@given(worlds())
def test_it_never_starts_a_ticket_with_an_unfinished_or_missing_dependency(world: World) -> None:
    result = decide(world.snapshot())
    waited = waits(world)
    for ticket_id in result.start:
        assert not any(unfinished(world, other) for other in waited.get(ticket_id, ()))
        for record in world.plans:
            if record.ticket_id == ticket_id and record.kind is PlanKind.BLOCKED_BY:
                other = record.related_ticket
                assert (
                    record.author == "yoi-orchestrator"
                    or other == ticket_id
                    or not unfinished(world, other or "")
                )


@PROPERTY
@given(worlds())
def test_it_never_starts_two_tickets_that_must_not_run_together(world: World) -> None:
    result = decide(world.snapshot())
    together = [*sorted(running(world)), *result.start]
    pairs = {
        frozenset((r.ticket_id, r.related_ticket or ""))
        for r in world.plans
        if r.kind in PAIR_KINDS and r.related_ticket != r.ticket_id
    }
    for started in result.start:
        for other in together:
            if other == started:
                continue
            assert frozenset((started, other)) not in pairs
            mine = [PurePosixPath(p) for p in world.surfaces.get(started, ())]
            assert not meet(mine, surface(world, other))


@PROPERTY
@given(worlds(), st.randoms(use_true_random=False))
def test_the_same_input_in_any_order_gives_the_same_pass(world: World, rng: Random) -> None:
    def shuffled(items: list[T]) -> list[T]:
        rng.shuffle(items)
        return items

    catalog = Catalog(
        dict(shuffled(list(world.catalog.metas.items()))),
        {},
        {k: tuple(shuffled(list(v))) for k, v in shuffled(list(world.catalog.relations.items()))},
    )
    other = World(
        catalog,
        tuple(shuffled(list(world.plans))),
        tuple(shuffled(list(world.runs))),
        dict(shuffled(list(world.surfaces.items()))),
        world.max_parallel,
    )
    assert decide(world.snapshot()) == decide(world.snapshot())
    assert decide(other.snapshot()) == decide(world.snapshot())


@PROPERTY
@given(worlds())
def test_starting_order_is_a_prefix_of_the_queue_order_of_free_tickets(world: World) -> None:
    result = decide(world.snapshot())
    assert list(result.start) == free_order(result)[: len(result.start)]
    keys = [
        (world.catalog.metas[d.ticket_id].queued_at or "", d.ticket_id) for d in result.decisions
    ]
    assert keys == sorted(keys)
    # Whatever waits for capacity alone waits because the slots ran out.
    if len(free_order(result)) > len(result.start):
        assert len(result.start) == max(0, world.max_parallel - len(running(world)))


@PROPERTY
@given(worlds())
def test_every_ticket_on_a_deadlock_is_told_its_cycle(world: World) -> None:
    result = decide(world.snapshot())
    live = {
        waiting: {a for a in awaited if a in world.catalog.metas and unfinished(world, a)}
        for waiting, awaited in waits(world).items()
        if waiting in world.catalog.metas and unfinished(world, waiting)
    }
    for decision in result.decisions:
        cycles = [r for r in decision.reasons if r.code is ReasonCode.CYCLE]
        assert bool(cycles) == _returns(live, decision.ticket_id)
        if cycles:
            assert decision.routing is Routing.BLOCKED
            text = cycles[0].detail.removeprefix("it is on the dependency cycle ")
            along = text.split(" → ")
            assert along[0] == along[-1] == decision.ticket_id
            assert all(b in live.get(a, set()) for a, b in itertools.pairwise(along))


def _returns(edges: dict[str, set[str]], start: str) -> bool:
    seen: set[str] = set()
    queue = deque(edges.get(start, ()))
    while queue:
        node = queue.popleft()
        if node == start:
            return True
        if node not in seen:
            seen.add(node)
            queue.extend(edges.get(node, ()))
    return False


@PROPERTY
@given(worlds(holds=False))
def test_without_holds_it_agrees_with_the_ready_view(world: World) -> None:
    roomy = World(world.catalog, (), (), {}, len(IDS) + 1)
    result = decide(roomy.snapshot())
    view = ready_of(world.catalog)
    assert list(result.start) == [summary.id for summary in view.ready]
    blocked = [d for d in result.decisions if d.routing is Routing.BLOCKED]
    assert [d.ticket_id for d in blocked] == [w.ticket.id for w in view.waiting]
    for decision, waiting in zip(blocked, view.waiting, strict=True):
        named = {r.ticket_id for r in decision.reasons if r.code is not ReasonCode.CYCLE}
        assert named == {b.ticket_id for b in waiting.blockers}


@PROPERTY
@given(worlds())
def test_whatever_the_ready_view_holds_back_the_policy_holds_back(world: World) -> None:
    result = decide(world.snapshot())
    for waiting in ready_of(world.catalog).waiting:
        decision = result.decision(waiting.ticket.id)
        begun = any(run.ticket_id == waiting.ticket.id for run in world.runs)
        assert begun or (decision is not None and decision.routing is Routing.BLOCKED)


@PROPERTY
@given(worlds())
def test_every_decision_reads_as_one_sentence_about_its_ticket(world: World) -> None:
    for decision in decide(world.snapshot()).decisions:
        assert decision.reason.startswith(decision.ticket_id)
        assert decision.reason.endswith(".")
        assert "\n" not in decision.reason
        assert (decision.routing is Routing.IMPLEMENTATION_READY) == (not decision.reasons)
        assert decision.next_action
        assert decision.escalate_if
