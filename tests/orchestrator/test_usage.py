"""Usage and budgets: a run's workers' tokens, read from real runtimes playing scripted
turns, summed per worker, run and ticket, kept across a reopen, priced, and held to budgets."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.errors import InvalidRequest, StateConflict
from yoi.orchestrator.budget_settings import Budgets
from yoi.orchestrator.database import Database
from yoi.orchestrator.hosts import Hosts, StaticHosts
from yoi.orchestrator.migrations import MIGRATIONS, migrate, version
from yoi.orchestrator.operations import OperationKey
from yoi.orchestrator.prices import price
from yoi.orchestrator.roles import Roles, worker_name
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.orchestrator.usage import Accounting, usage_view, worktree_bytes
from yoi.orchestrator.usage_record import MAX_TOKENS, WorkerUsage
from yoi.providers.script import Text, Turn, Usage
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import CreateWorkerRequest, Runtime
from yoi.testing.observe import run_to_end

TICKET = "00001KSKBP8Z8"
NAME = "00001KSKBP8Z8-add-usage"
CODER = worker_name("coder", NAME)
REVIEWER = worker_name("reviewer", NAME)
INTAKE = worker_name("intake", NAME)


@dataclass
class Crew:
    """The part of the orchestrator's crew accounting reads: a real state and real hosts."""

    state: OrchestratorState
    hosts: Hosts
    roles: Roles


@dataclass
class Rig:
    crew: Crew
    intake: Runtime
    work: Runtime

    async def say(self, runtime: Runtime, worker: str) -> None:
        """One turn of ``worker``: its scripted model reports the next ``Usage``."""
        await run_to_end(runtime, worker, "go on")


def a_run(**changes: object) -> Run:
    run = Run(TICKET, 1, Phase.IMPLEMENTING, started_at=10.0, updated_at=10.0)
    return dataclasses.replace(run, **changes)  # type: ignore[arg-type]


def turns(*usages: tuple[int, int]) -> list[Turn]:
    return [[Text("ok"), Usage(used_in, used_out)] for used_in, used_out in usages]


@asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    intake_turns: list[Turn],
    work_turns: list[Turn],
    work_model: str = "scripted:test",
) -> AsyncIterator[Rig]:
    intake = Runtime(runtime_id="backend-internal", model=ScriptedModel(intake_turns))
    work = Runtime(runtime_id="local", model=ScriptedModel(work_turns, name=work_model))
    async with intake, work:
        for runtime, worker in ((intake, INTAKE), (work, CODER), (work, REVIEWER)):
            await runtime.create_worker(CreateWorkerRequest(worker_id=worker))
        with OrchestratorState.open(state_path(tmp_path)) as state:
            hosts = StaticHosts({"backend-internal": intake, "local": work})
            yield Rig(Crew(state, hosts, Roles()), intake, work)


def named(state: OrchestratorState, run: Run) -> None:
    """Record the run's "name" step done, as the intake step does before its worker."""
    key = OperationKey(run.ticket_id, run.attempt, "name", 0)
    state.begin(key)
    state.finish(key, {"name": NAME})


async def test_the_intake_coder_and_reviewer_are_summed_kept_and_read_back_after_a_reopen(
    tmp_path: Path,
) -> None:
    run = a_run(coder_worker_id=CODER, reviewer_worker_id=REVIEWER)
    async with rig(
        tmp_path, intake_turns=turns((7, 3)), work_turns=turns((100, 20), (50, 10), (30, 5))
    ) as r:
        r.crew.state.save(run)
        named(r.crew.state, run)
        accounting = Accounting(r.crew)
        await r.say(r.intake, INTAKE)
        await r.say(r.work, CODER)
        await r.say(r.work, CODER)
        await r.say(r.work, REVIEWER)
        assert await accounting.account(run) is None
        assert await accounting.account(run) is None  # again: nothing doubles
        assert await Accounting(r.crew).account(run) is None  # nor after a restart
        first = usage_view(r.crew.state, TICKET)
    workers = {item["worker_id"]: item for item in first["workers"]}  # type: ignore[attr-defined]
    assert {w: (i["role"], i["input_tokens"], i["output_tokens"]) for w, i in workers.items()} == {
        INTAKE: ("intake", 7, 3),
        CODER: ("coder", 150, 30),
        REVIEWER: ("reviewer", 30, 5),
    }
    total = {"input_tokens": 187, "output_tokens": 38, "cached_tokens": 0, "cost_usd": None}
    assert first["total"] == total
    assert first["run"] == total
    with OrchestratorState.open(state_path(tmp_path)) as reopened:
        assert usage_view(reopened, TICKET) == first
        assert reopened.ticket_tokens(TICKET) == {
            "input_tokens": 187,
            "output_tokens": 38,
            "cached_tokens": 0,
        }


async def test_a_second_attempt_adds_to_the_ticket_and_is_the_runs_figure(tmp_path: Path) -> None:
    second_coder = worker_name("coder", NAME, 2)
    async with rig(tmp_path, intake_turns=[], work_turns=turns((100, 20), (40, 2))) as r:
        first = a_run(coder_worker_id=CODER)
        r.crew.state.save(first)
        await r.say(r.work, CODER)
        accounting = Accounting(r.crew)
        await accounting.account(first)
        second = a_run(attempt=2, coder_worker_id=second_coder)
        r.crew.state.save(second)
        await r.work.create_worker(CreateWorkerRequest(worker_id=second_coder))
        await r.say(r.work, second_coder)
        await accounting.account(second)
        view = usage_view(r.crew.state, TICKET)
    assert view["run"] == {
        "input_tokens": 40,
        "output_tokens": 2,
        "cached_tokens": 0,
        "cost_usd": None,
    }
    assert view["total"] == {
        "input_tokens": 140,
        "output_tokens": 22,
        "cached_tokens": 0,
        "cost_usd": None,
    }


async def test_a_token_budget_is_breached_with_its_figures_once_crossed_and_not_before(
    tmp_path: Path,
) -> None:
    run = a_run(coder_worker_id=CODER)
    async with rig(tmp_path, intake_turns=[], work_turns=turns((100, 20), (50, 10))) as r:
        r.crew.state.save(run)
        accounting = Accounting(r.crew, Budgets(max_tokens=120))
        assert await accounting.account(run) is None  # nothing used yet
        await r.say(r.work, CODER)
        assert await accounting.account(run) is None  # 120 of 120: at the budget, not over
        await r.say(r.work, CODER)
        breach = await accounting.account(run)
    assert breach is not None
    assert (breach.ticket_id, breach.budget, breach.limit, breach.used) == (
        TICKET,
        "max_tokens",
        120,
        180,
    )
    assert breach.tokens == {"input_tokens": 150, "output_tokens": 30, "cached_tokens": 0}
    assert breach.to_dict()["message"] == "used 180 tokens, over its budget of 120"


async def test_a_known_model_is_priced_and_a_cost_budget_breached(tmp_path: Path) -> None:
    run = a_run(coder_worker_id=CODER)
    async with rig(
        tmp_path,
        intake_turns=[],
        work_turns=turns((200_000, 1_000), (800_000, 0)),
        work_model="openai:gpt-4o-mini",
    ) as r:
        r.crew.state.save(run)
        accounting = Accounting(r.crew, Budgets(max_cost_usd=0.1))
        await r.say(r.work, CODER)
        assert await accounting.account(run) is None
        small = usage_view(r.crew.state, TICKET)["total"]
        await r.say(r.work, CODER)
        breach = await accounting.account(run)
    expected = price("openai:gpt-4o-mini", 200_000, 1_000)
    assert expected is not None
    assert small == {
        "input_tokens": 200_000,
        "output_tokens": 1_000,
        "cached_tokens": 0,
        "cost_usd": float(expected),
    }
    assert breach is not None
    assert breach.budget == "max_cost_usd"
    assert breach.used == breach.cost_usd
    assert breach.used > 0.1


async def test_an_unknown_price_is_no_cost_budget_breach_and_null_in_the_view(
    tmp_path: Path,
) -> None:
    run = a_run(coder_worker_id=CODER)
    async with rig(tmp_path, intake_turns=[], work_turns=turns((10**6, 10**6))) as r:
        r.crew.state.save(run)
        await r.say(r.work, CODER)
        assert await Accounting(r.crew, Budgets(max_cost_usd=0.01)).account(run) is None
        view = usage_view(r.crew.state, TICKET)
    assert view["workers"] == [
        {
            "worker_id": CODER,
            "role": "coder",
            "attempt": 1,
            "model": "scripted:test",
            "input_tokens": 10**6,
            "output_tokens": 10**6,
            "cached_tokens": 0,
            "cost_usd": None,
        }
    ]


async def test_a_worker_the_runtime_no_longer_has_keeps_its_recorded_figures(
    tmp_path: Path,
) -> None:
    run = a_run(coder_worker_id=CODER)
    async with rig(tmp_path, intake_turns=[], work_turns=turns((5, 1))) as r:
        r.crew.state.save(run)
        accounting = Accounting(r.crew)
        await r.say(r.work, CODER)
        await accounting.account(run)
        async with Runtime(runtime_id="local", model=ScriptedModel([])) as empty:
            elsewhere = Crew(r.crew.state, StaticHosts({"local": empty}), Roles())
            assert await Accounting(elsewhere).account(run) is None
        tokens = r.crew.state.ticket_tokens(TICKET)
    assert tokens == {"input_tokens": 5, "output_tokens": 1, "cached_tokens": 0}


# The usage rows in the state


def row(**changes: object) -> WorkerUsage:
    usage = WorkerUsage(TICKET, 1, CODER, "coder", "scripted:test", 10, 2, 0)
    return dataclasses.replace(usage, **changes)  # type: ignore[arg-type]


def test_a_figure_never_goes_down_and_a_row_needs_a_run(tmp_path: Path) -> None:
    with OrchestratorState.open(state_path(tmp_path)) as state:
        with pytest.raises(StateConflict):
            state.record_usage([row()])
        state.save(a_run())
        state.record_usage([row(input_tokens=100)])
        state.record_usage([row(input_tokens=40, output_tokens=9)])
        assert state.usage(TICKET) == [row(input_tokens=100, output_tokens=9)]


tokens = st.integers(min_value=0, max_value=MAX_TOKENS)


@given(
    input_tokens=tokens,
    output_tokens=tokens,
    cached_tokens=tokens,
    model=st.text(st.characters(min_codepoint=32, codec="utf-8"), max_size=255).filter(
        lambda text: "\x7f" not in text
    ),
)
def test_any_row_reads_back_equal(
    tmp_path_factory: pytest.TempPathFactory,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int,
    model: str,
) -> None:
    written = row(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=cached_tokens,
        model=model,
    )
    other = row(worker_id=REVIEWER, role="reviewer")
    with OrchestratorState.open(state_path(tmp_path_factory.mktemp("state"))) as state:
        state.save(a_run())
        state.record_usage([written, other])
        assert state.usage(TICKET) == [written, other]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"input_tokens": -1}, "input_tokens"),
        ({"output_tokens": MAX_TOKENS + 1}, "output_tokens"),
        ({"cached_tokens": True}, "cached_tokens"),
        ({"input_tokens": 1.5}, "input_tokens"),
        ({"worker_id": "Not An Id"}, "worker_id"),
        ({"model": "a\nb"}, "model"),
        ({"attempt": 0}, "attempt"),
    ],
)
def test_a_bad_row_is_refused_naming_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        row(**changes)
    assert refused.value.details == {"field": field}


def test_a_database_of_the_first_version_keeps_its_runs_and_gains_usage(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    old = Database.connect(path)
    migrate(old, MIGRATIONS[:1])  # what the code before usage made
    run = a_run(coder_worker_id=CODER)
    with old.writing("a version 1 run") as connection:  # the columns of version 1
        connection.execute(
            "INSERT INTO runs (ticket_id, attempt, phase, coder_worker_id, review_round, "
            "fix_rounds, started_at, updated_at) VALUES (?, ?, ?, ?, 0, 0, ?, ?)",
            (TICKET, run.attempt, str(run.phase), CODER, run.started_at, run.updated_at),
        )
    old.close()
    with OrchestratorState.open(path) as state:
        assert state.runs() == [run]
        state.record_usage([row()])
        assert state.usage(TICKET) == [row()]
    again = Database.connect(path)
    try:
        assert version(again) == len(MIGRATIONS) == 3
    finally:
        again.close()


# Disk


def test_worktree_bytes_counts_the_files_below_and_a_missing_folder_is_zero(
    tmp_path: Path,
) -> None:
    assert worktree_bytes(tmp_path / "missing") == 0
    (tmp_path / "tree" / "deep").mkdir(parents=True)
    (tmp_path / "tree" / "deep" / "big").write_bytes(b"x" * 200_000)
    assert worktree_bytes(tmp_path / "tree") >= 200_000
