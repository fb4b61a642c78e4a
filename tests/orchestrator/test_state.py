"""The orchestrator's SQLite state: runs, the step log, migrations, refusals and ``once``."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from pathlib import Path

import pytest

from yoi.errors import (
    InvalidRequest,
    InvalidTransition,
    StateConflict,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreLocked,
    StoreTooNew,
)
from yoi.orchestrator.database import Database
from yoi.orchestrator.migrations import MIGRATIONS, migrate, version
from yoi.orchestrator.operations import OperationKey, OperationStatus
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.state import OrchestratorState, state_path

TICKET = "00001KSKBP8Z8"
OTHER = "00001KSKBP9YG"


class Clock:
    """A clock the test moves: each reading is one second after the last."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def a_run(ticket: str = TICKET, **changes: object) -> Run:
    run = Run(ticket, 1, Phase.ACCEPTING, started_at=10.0, updated_at=10.0)
    return dataclasses.replace(run, **changes)  # type: ignore[arg-type]


def open_state(tmp_path: Path) -> OrchestratorState:
    return OrchestratorState.open(state_path(tmp_path), clock=Clock())


def sql(path: Path, statement: str) -> list[tuple[object, ...]]:
    """Run one statement on the file with plain sqlite3, as another program would."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        return connection.execute(statement).fetchall()
    finally:
        connection.close()


# Runs


def test_a_saved_run_reads_back_and_a_second_save_replaces_it(tmp_path: Path) -> None:
    full = a_run(
        phase=Phase.REVIEWING,
        workdir_id="wd-1",
        branch="work/00001KSKBP8Z8-title",
        coder_worker_id="yoi-coder-00001kskbp8z8-title",
        reviewer_worker_id="yoi-reviewer-00001kskbp8z8-title",
        base_commit="a" * 40,
        head_commit="b" * 64,
        approved_commit=None,
        review_round=2,
        fix_rounds=1,
        phase_deadline=99.5,
        run_deadline=1e9,
        stop_reason=None,
    )
    with open_state(tmp_path) as state:
        assert state.run(TICKET) is None
        state.save(a_run())
        state.save(full)
        assert state.run(TICKET) == full
        assert state.run(TICKET.lower()) == full  # ids are read the Crockford way
    with open_state(tmp_path) as state:
        assert state.runs() == [full]


def test_runs_lists_oldest_first_and_active_only_leaves_out_ended_runs(tmp_path: Path) -> None:
    old_done = a_run(OTHER, phase=Phase.DONE, started_at=1.0)
    current = a_run(TICKET, phase=Phase.MERGING, started_at=2.0)
    with open_state(tmp_path) as state:
        state.save(current)
        state.save(old_done)
        assert state.runs() == [old_done, current]
        assert state.runs(active_only=True) == [current]


def test_a_run_moves_only_along_its_phases() -> None:
    run = a_run()
    implementing = run.advance(Phase.IMPLEMENTING, at=11.0)
    assert (implementing.phase, implementing.updated_at) == (Phase.IMPLEMENTING, 11.0)
    with pytest.raises(InvalidTransition, match="from accepting to merging"):
        run.advance(Phase.MERGING, at=11.0)
    stopped = implementing.advance(Phase.STOPPED, at=12.0, stop_reason="stopped by a person")
    assert stopped.phase.over
    assert stopped.stop_reason == "stopped by a person"
    with pytest.raises(InvalidTransition):
        stopped.advance(Phase.IMPLEMENTING, at=13.0)


# Migrations and refusals


def test_an_empty_file_is_version_zero_and_is_migrated_to_the_latest(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    with OrchestratorState.open(path) as state:
        state.save(a_run())
    assert sql(path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert sql(path, "PRAGMA journal_mode") == [("wal",)]
    tables = {row[0] for row in sql(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "steps"} <= tables


def test_each_migration_commits_alone_and_a_failing_one_leaves_the_version_before(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    second_bad = ("CREATE TABLE extra (x INTEGER) STRICT", "CREATE TABLE nonsense (")
    second_good = ("CREATE TABLE extra (x INTEGER) STRICT",)
    database = Database.connect(path)
    try:
        latest = len(MIGRATIONS)
        with pytest.raises(StoreError, match=f"migration {latest + 1}"):
            migrate(database, [*MIGRATIONS, second_bad])
        assert version(database) == latest
        assert migrate(database, [*MIGRATIONS, second_good]) == latest + 1
        assert version(database) == latest + 1
    finally:
        database.close()
    assert sql(path, "SELECT count(*) FROM extra") == [(0,)]


def test_a_database_from_a_newer_yoi_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    with OrchestratorState.open(path) as state:
        state.save(a_run())
    newer = len(MIGRATIONS) + 1
    sql(path, f"PRAGMA user_version = {newer}")
    with pytest.raises(StoreTooNew) as refused:
        OrchestratorState.open(path)
    assert refused.value.details == {"version": newer, "supported": len(MIGRATIONS)}
    assert sql(path, "PRAGMA user_version") == [(newer,)]


def test_a_file_that_is_not_a_database_is_refused_as_corrupt(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"tickets are files, this is not a database\n" * 100)
    with pytest.raises(StoreCorrupt, match="not a sound database"):
        OrchestratorState.open(path)


def test_a_database_with_damaged_pages_is_refused_as_corrupt(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    with open_state(tmp_path) as state:
        for index in range(40):  # enough rows for the tables to span several pages
            ticket = f"00001KSKBP{index:03d}"
            state.save(a_run(ticket, stop_reason="x" * 400))
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 3 * page
    data[2 * page : 3 * page] = b"\xff" * page
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt):
        OrchestratorState.open(path)


def test_a_foreign_sqlite_database_holding_a_runs_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sql(path, "CREATE TABLE runs (name TEXT)")
    with pytest.raises(StoreError, match="migration 1"):
        OrchestratorState.open(path)


def test_a_folder_in_place_of_the_database_is_a_store_error(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    path.mkdir(parents=True)
    with pytest.raises(StoreError, match="cannot open"):
        OrchestratorState.open(path)


# The step log


def test_begin_is_idempotent_and_finish_records_the_result_with_the_run(tmp_path: Path) -> None:
    key = OperationKey(TICKET, 1, "create_workdir")
    with open_state(tmp_path) as state:
        state.save(a_run())
        first = state.begin(key)
        assert state.begin(key) == first
        moved = a_run(phase=Phase.IMPLEMENTING, workdir_id="wd-1")
        done = state.finish(key, {"workdir_id": "wd-1"}, run=moved)
        assert state.finish(key, {"workdir_id": "wd-1"}) == done
        assert state.begin(key) == done
        assert state.run(TICKET) == moved
    with open_state(tmp_path) as state:
        assert state.get(key) == done
        assert [step.status for step in state.steps(TICKET)] == [
            OperationStatus.STARTED,
            OperationStatus.DONE,
        ]


def test_finish_with_another_result_or_before_begin_is_refused(tmp_path: Path) -> None:
    key = OperationKey(TICKET, 1, "merge", 1)
    with open_state(tmp_path) as state:
        state.save(a_run())
        with pytest.raises(InvalidTransition, match="never begun"):
            state.finish(key, {})
        with pytest.raises(InvalidTransition, match="never begun"):
            state.fail(key, "no")
        state.begin(key)
        state.finish(key, {"merge_commit": "c" * 40})
        with pytest.raises(StateConflict, match="another result"):
            state.finish(key, {"merge_commit": "d" * 40})
        with pytest.raises(InvalidTransition, match="it is done"):
            state.fail(key, "too late")


def test_a_step_needs_its_run_at_the_same_attempt(tmp_path: Path) -> None:
    with open_state(tmp_path) as state:
        with pytest.raises(StateConflict, match="has no run"):
            state.begin(OperationKey(TICKET, 1, "accept"))
        state.save(a_run(attempt=2))
        with pytest.raises(StateConflict, match="stale"):
            state.begin(OperationKey(TICKET, 1, "accept"))
        assert state.steps(TICKET) == []


def test_a_step_finished_after_a_retry_cannot_overwrite_the_new_run(tmp_path: Path) -> None:
    key = OperationKey(TICKET, 1, "create_coder")
    with open_state(tmp_path) as state:
        state.save(a_run())
        state.begin(key)
        retried = a_run(attempt=2)
        state.save(retried)  # a person pressed Retry while the step was under way
        with pytest.raises(StateConflict, match="stale"):
            state.finish(key, {}, run=a_run(phase=Phase.IMPLEMENTING))
        with pytest.raises(InvalidRequest, match="at attempt 2"):
            state.finish(key, {}, run=a_run(attempt=2, phase=Phase.IMPLEMENTING))
        assert state.run(TICKET) == retried
        assert state.finish(key, {"worker_id": "late"}).status is OperationStatus.DONE


def test_a_refused_write_leaves_nothing_behind(tmp_path: Path) -> None:
    key = OperationKey(TICKET, 1, "accept")
    with open_state(tmp_path) as state:
        state.save(a_run())
        state.save(a_run(OTHER))
        state.begin(key)
        with pytest.raises(InvalidRequest, match="cannot save the run of"):
            state.finish(key, {}, run=a_run(OTHER, phase=Phase.FAILED))
        assert state.get(key) is not None
        assert state.get(key).status is OperationStatus.STARTED  # type: ignore[union-attr]
        assert state.run(OTHER) == a_run(OTHER)
        with pytest.raises(InvalidRequest, match="JSON object"):
            state.finish(key, {"paths": ("a", "b")})
        assert len(state.steps(TICKET)) == 1


def test_steps_keep_each_tickets_log_in_the_order_it_was_written(tmp_path: Path) -> None:
    with open_state(tmp_path) as state:
        state.save(a_run())
        state.save(a_run(OTHER))
        kinds = ["accept", "create_workdir", "create_coder"]
        for kind in kinds:
            for ticket in (TICKET, OTHER):
                key = OperationKey(ticket, 1, kind)
                state.begin(key)
                state.finish(key, {"kind": kind})
        log = state.steps(TICKET)
    assert [(step.kind, step.status) for step in log] == [
        (kind, status)
        for kind in kinds
        for status in (OperationStatus.STARTED, OperationStatus.DONE)
    ]
    assert {step.ticket_id for step in log} == {TICKET}
    assert [step.at for step in log] == sorted(step.at for step in log)


def test_the_step_log_cannot_be_rewritten_even_by_hand(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    with open_state(tmp_path) as state:
        state.save(a_run())
        state.begin(OperationKey(TICKET, 1, "accept"))
    for statement in ("UPDATE steps SET status = 'done'", "DELETE FROM steps"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            sql(path, statement)
    assert sql(path, "SELECT status FROM steps") == [("started",)]


# once


class Effect:
    """An effect that counts its calls and answers, or raises, as told."""

    def __init__(self, result: dict[str, object], error: BaseException | None = None) -> None:
        self.calls = 0
        self.result = result
        self.error = error

    async def __call__(self) -> dict[str, object]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.result


async def test_once_runs_an_effect_once_even_across_a_reopen(tmp_path: Path) -> None:
    key = OperationKey(TICKET, 1, "create_coder")
    effect = Effect({"worker_id": "yoi-coder-1"})
    with open_state(tmp_path) as state:
        state.save(a_run())
        assert await state.once(key, effect) == {"worker_id": "yoi-coder-1"}
        assert await state.once(key, effect) == {"worker_id": "yoi-coder-1"}
    with open_state(tmp_path) as state:
        assert await state.once(key, Effect({"worker_id": "another"})) == {
            "worker_id": "yoi-coder-1"
        }
    assert effect.calls == 1


async def test_once_runs_again_an_effect_begun_but_not_recorded_done(tmp_path: Path) -> None:
    key = OperationKey(TICKET, 1, "send_input")
    with open_state(tmp_path) as state:
        state.save(a_run())
        state.begin(key)  # and then the process died
    effect = Effect({"run_id": "r1"})
    with open_state(tmp_path) as state:
        assert await state.once(key, effect) == {"run_id": "r1"}
        assert [step.status for step in state.steps(TICKET)] == ["started", "done"]
    assert effect.calls == 1


async def test_once_records_a_failure_and_tries_again_next_time(tmp_path: Path) -> None:
    key = OperationKey(TICKET, 1, "merge")
    failing = Effect({}, StoreError("the disk said no"))
    with open_state(tmp_path) as state:
        state.save(a_run())
        with pytest.raises(StoreError):
            await state.once(key, failing)
        failed = state.get(key)
        assert failed is not None
        assert (failed.status, failed.error) == (OperationStatus.FAILED, "the disk said no")
        with pytest.raises(KeyError):
            await state.once(key, Effect({}, KeyError("a secret path")))
        assert state.get(key).error == "the effect raised KeyError"  # type: ignore[union-attr]
        assert await state.once(key, Effect({"merged": True})) == {"merged": True}
        assert [step.status for step in state.steps(TICKET)] == [
            "started",
            "failed",
            "started",
            "failed",
            "started",
            "done",
        ]


async def test_a_cancelled_effect_stays_started(tmp_path: Path) -> None:
    key = OperationKey(TICKET, 1, "await_run")
    entered = asyncio.Event()

    async def hangs() -> dict[str, object]:
        entered.set()
        await asyncio.Event().wait()
        return {}

    with open_state(tmp_path) as state:
        state.save(a_run())
        task = asyncio.create_task(state.once(key, hangs))
        async with asyncio.timeout(10):
            await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert state.get(key).status is OperationStatus.STARTED  # type: ignore[union-attr]


def test_stored_text_that_is_not_utf8_is_corrupt_and_not_quoted(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    with open_state(tmp_path) as state:
        state.save(a_run())
    sql(path, "UPDATE runs SET stop_reason = CAST(x'7365637265748081' AS TEXT)")
    with open_state(tmp_path) as state, pytest.raises(StoreCorrupt) as refused:
        state.runs()
    assert "secret" not in refused.value.message


def state_over(database: Database) -> OrchestratorState:
    return OrchestratorState(database, Clock())


def save_many(state: OrchestratorState, count: int) -> None:
    for index in range(count):
        state.save(a_run(f"00001KSKBP{index:03d}", stop_reason="x" * 4000))


def test_a_full_disk_is_store_full_and_writes_work_again_once_there_is_room(
    tmp_path: Path,
) -> None:
    path = state_path(tmp_path)
    OrchestratorState.open(path).close()
    database = Database.connect(path)
    with database.reading("limit the file") as connection:  # SQLite's own way to be full
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages + 2}")
    with state_over(database) as state:
        with pytest.raises(StoreFull, match="once space is freed"):
            save_many(state, 100)
        kept = state.runs()
        assert 0 < len(kept) < 100
        with database.reading("lift the limit") as connection:
            connection.execute("PRAGMA max_page_count = 1000000")
        state.save(a_run(OTHER))
        assert state.runs() == [*kept, a_run(OTHER)]
    assert sql(path, "PRAGMA integrity_check") == [("ok",)]


def test_a_write_lock_held_by_another_process_is_store_locked(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    OrchestratorState.open(path).close()
    database = Database.connect(path)
    with database.reading("do not wait") as connection:
        connection.execute("PRAGMA busy_timeout = 0")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with state_over(database) as state:
            with pytest.raises(StoreLocked, match="another process"):
                state.save(a_run())
            holder.execute("COMMIT")
            state.save(a_run())
            assert state.run(TICKET) == a_run()
    finally:
        holder.close()
