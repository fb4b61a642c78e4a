"""The orchestrator's durable state: its runs and the log of their steps, in SQLite.

The database lives at ``.yoi/state/orchestrator.db`` (:func:`state_path`). It holds only
orchestration state — the tickets stay files in git — and every write is one transaction
committed to disk before the call returns (:mod:`.database`).

Each side effect of a run (make a workdir, start a worker, send an input, merge, move a
ticket) is an operation with an id made from its ticket, attempt, kind and round
(:mod:`.operations`). :meth:`OrchestratorState.once` runs an effect only if its operation
is not recorded as done, and records its result, so a restart does not do a step twice.

What a crash leaves
    An operation recorded ``done`` happened, and its result is the one recorded. An
    operation recorded ``started`` but not ``done`` may or may not have happened: the
    process died between beginning it and recording its end. :meth:`~OrchestratorState.once`
    runs such an effect again, so **every effect must be checkable or idempotent**: look
    before acting (the worker, the worktree, the merge commit already there) or act in a way
    that doing twice does once. The state cannot make an effect outside SQLite atomic with
    its record; it makes sure the record itself is never half written.

The methods are synchronous: each is one short transaction (a commit waits for one
fsync). The loop may call them from the event loop or through ``asyncio.to_thread``; the
threads of one process share the connection under a lock.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from yoi.errors import InvalidRequest, InvalidTransition, StateConflict, StoreCorrupt, YoiError
from yoi.orchestrator.database import Database
from yoi.orchestrator.fields import checked_ticket
from yoi.orchestrator.migrations import migrate
from yoi.orchestrator.operations import (
    Operation,
    OperationKey,
    OperationStatus,
    checked_result,
)
from yoi.orchestrator.run_record import GATE_REJECTED, Run
from yoi.orchestrator.transitions import RETAINED, Transition, TransitionKind
from yoi.orchestrator.usage_record import WorkerUsage
from yoi.runtime.stores.fs.files import RootLock

__all__ = ["Effect", "OrchestratorState", "state_path"]

Effect = Callable[[], Awaitable[Mapping[str, object]]]
"""A side effect: an async call returning the JSON object to record as its result."""

_RUN_FIELDS = (
    "ticket_id",
    "attempt",
    "phase",
    "workdir_id",
    "branch",
    "coder_worker_id",
    "reviewer_worker_id",
    "base_commit",
    "head_commit",
    "approved_commit",
    "review_round",
    "fix_rounds",
    "phase_deadline",
    "run_deadline",
    "started_at",
    "updated_at",
    "stop_reason",
    "gate",
)
_SAVE_RUN = (
    f"INSERT INTO runs ({', '.join(_RUN_FIELDS)}) VALUES ({', '.join('?' * len(_RUN_FIELDS))}) "
    "ON CONFLICT (ticket_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _RUN_FIELDS[1:])
)
_SELECT_RUNS = f"SELECT {', '.join(_RUN_FIELDS)} FROM runs"
_TRANSITION_VALUES = "ticket_id, attempt, kind, from_phase, to_value, gate, reason, at"
_TRANSITION_FIELDS = f"seq, {_TRANSITION_VALUES}"
_STEP_FIELDS = "op_id, ticket_id, attempt, kind, round, status, result, error, at"
_USAGE_FIELDS = (
    "ticket_id, attempt, worker_id, role, model, input_tokens, output_tokens, cached_tokens"
)
# A worker's usage only grows: a smaller figure (a runtime that answered from a stale copy)
# never lowers what a budget was checked against.
_SAVE_USAGE = (
    f"INSERT INTO usage ({_USAGE_FIELDS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (ticket_id, attempt, worker_id) DO UPDATE SET "
    "role = excluded.role, model = excluded.model, "
    "input_tokens = max(input_tokens, excluded.input_tokens), "
    "output_tokens = max(output_tokens, excluded.output_tokens), "
    "cached_tokens = max(cached_tokens, excluded.cached_tokens), "
    "updated_at = excluded.updated_at"
)


def state_path(workspace_root: Path) -> Path:
    """Where a workspace keeps the orchestrator's state (``.yoi/state/`` is never tracked)."""
    return workspace_root / ".yoi" / "state" / "orchestrator.db"


def hold_state(path: Path) -> RootLock:
    """Hold the workspace's orchestrator lock (beside the state at ``path``) until released:
    one orchestrator, or one rebuild, at a time; ``store_locked`` while another holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = RootLock(
        path.parent,
        name=f"{path.name}.lock",
        busy="another yoi orchestrator (a running yoi serve) has this workspace's state open",
    )
    lock.acquire()
    return lock


class OrchestratorState:
    """The runs and the step log of one workspace. Use it as a context manager, or close it.

    Errors are the store errors of :mod:`yoi.errors`: ``store_corrupt`` for a file that is
    not a sound orchestrator database, ``store_too_new`` for one a newer yoi wrote,
    ``store_locked``, ``store_full``; bad values are ``invalid_request``.
    """

    def __init__(self, database: Database, clock: Callable[[], float]) -> None:
        self._database = database
        self._clock = clock

    @classmethod
    def open(cls, path: Path, *, clock: Callable[[], float] = time.time) -> OrchestratorState:
        """Open the state at ``path``, making it when missing and migrating it when older."""
        database = Database.connect(path)
        try:
            migrate(database)
        except BaseException:
            database.close()
            raise
        return cls(database, clock)

    def close(self) -> None:
        self._database.close()

    def __enter__(self) -> OrchestratorState:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Runs

    def run(self, ticket_id: str) -> Run | None:
        """The ticket's current run, or None if it never had one."""
        with self._database.reading("cannot read a run") as connection:
            row = connection.execute(
                f"{_SELECT_RUNS} WHERE ticket_id = ?", (checked_ticket(ticket_id),)
            ).fetchone()
        return None if row is None else _run_from(row)

    def runs(self, *, active_only: bool = False) -> list[Run]:
        """Every run (only those not over, if ``active_only``), oldest first."""
        with self._database.reading("cannot read the runs") as connection:
            rows = connection.execute(f"{_SELECT_RUNS} ORDER BY started_at, ticket_id").fetchall()
        runs = [_run_from(row) for row in rows]
        return [run for run in runs if not run.phase.over] if active_only else runs

    def save(self, run: Run) -> None:
        """Insert or replace the ticket's run, in one transaction with the transitions it
        makes (a new phase, a gate opened or closed)."""
        with self._database.writing("cannot save a run") as connection:
            _store_run(connection, run)

    # Transitions

    def epoch(self) -> str:
        """The database's own id, made with it: a cursor names it."""
        with self._database.reading("cannot read the state's epoch") as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        if row is None:
            raise _corrupt("the orchestrator state has no epoch")
        return str(row[0])

    def transition_bounds(self) -> tuple[int, int]:
        """The lowest sequence number a cursor may name and still resume (one before the
        oldest transition kept), and the newest (0 and 0 for an empty log)."""
        with self._database.reading("cannot read the transitions") as connection:
            low, high = connection.execute("SELECT min(seq), max(seq) FROM transitions").fetchone()
            if high is None:
                last = connection.execute(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'transitions'"
                ).fetchone()
                newest = 0 if last is None else int(last[0])
                return newest, newest
        return int(low) - 1, int(high)

    def transitions(self, after: int = 0, *, limit: int = 500) -> list[Transition]:
        """The transitions after sequence number ``after``, oldest first, at most ``limit``."""
        epoch = self.epoch()
        with self._database.reading("cannot read the transitions") as connection:
            rows = connection.execute(
                f"SELECT {_TRANSITION_FIELDS} FROM transitions WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [_transition_from(epoch, row) for row in rows]

    # Usage

    def usage(self, ticket_id: str) -> list[WorkerUsage]:
        """The usage rows of the ticket's workers over all its attempts, by attempt and worker."""
        with self._database.reading("cannot read the usage") as connection:
            rows = connection.execute(
                f"SELECT {_USAGE_FIELDS} FROM usage WHERE ticket_id = ? "
                "ORDER BY attempt, worker_id",
                (checked_ticket(ticket_id),),
            ).fetchall()
        return [_usage_from(row) for row in rows]

    def ticket_tokens(self, ticket_id: str) -> dict[str, int]:
        """The ticket's tokens by kind, summed over its workers and attempts."""
        with self._database.reading("cannot read the usage") as connection:
            row = connection.execute(
                "SELECT total(input_tokens), total(output_tokens), total(cached_tokens) "
                "FROM usage WHERE ticket_id = ?",
                (checked_ticket(ticket_id),),
            ).fetchone()
        return {
            "input_tokens": int(row[0]),
            "output_tokens": int(row[1]),
            "cached_tokens": int(row[2]),
        }

    def record_usage(self, rows: list[WorkerUsage]) -> None:
        """Insert or raise each worker's row, all in one transaction. The ticket must have
        a run (``state_conflict`` otherwise)."""
        if not rows:
            return
        at = self._clock()
        with self._database.writing("cannot record the usage") as connection:
            for row in rows:
                known = connection.execute(
                    "SELECT 1 FROM runs WHERE ticket_id = ?", (row.ticket_id,)
                ).fetchone()
                if known is None:
                    raise StateConflict(
                        f"{row.ticket_id} has no run: save its run before its usage",
                        details={"ticket_id": row.ticket_id},
                    )
                connection.execute(_SAVE_USAGE, (*_usage_row(row), at))

    # Operations

    def get(self, key: OperationKey) -> Operation | None:
        """The operation as last recorded, or None if it was never begun."""
        with self._database.reading("cannot read an operation") as connection:
            return _latest(connection, key)

    def steps(self, ticket_id: str) -> list[Operation]:
        """The ticket's step log in the order it was written, over all its attempts."""
        with self._database.reading("cannot read the step log") as connection:
            rows = connection.execute(
                f"SELECT {_STEP_FIELDS} FROM steps WHERE ticket_id = ? ORDER BY seq",
                (checked_ticket(ticket_id),),
            ).fetchall()
        return [_operation_from(row) for row in rows]

    def begin(self, key: OperationKey) -> Operation:
        """Record that the operation starts, and return it as recorded.

        Idempotent: an operation already started or done is returned as it is. One that
        failed is begun again (a new try). The ticket must have a run at ``key.attempt``
        (``state_conflict`` otherwise: a step of an older attempt is stale).
        """
        with self._database.writing("cannot begin an operation") as connection:
            _check_attempt(connection, key)
            latest = _latest(connection, key)
            if latest is not None and latest.status is not OperationStatus.FAILED:
                return latest
            return _append(connection, Operation(key, OperationStatus.STARTED, self._clock()))

    def finish(
        self, key: OperationKey, result: Mapping[str, object], *, run: Run | None = None
    ) -> Operation:
        """Record the operation done with ``result`` — and save ``run`` in the same
        transaction, when given, so the step and what it changed commit together.

        Finishing a done operation again with the same result changes nothing.
        """
        done = Operation(key, OperationStatus.DONE, self._clock(), checked_result(result))
        with self._database.writing("cannot finish an operation") as connection:
            latest = _latest(connection, key)
            if latest is not None and latest.status is OperationStatus.DONE:
                if latest.result != done.result:
                    raise StateConflict(f"operation {key.op_id} is done with another result")
                return latest
            _expect_started(key, latest, "finish")
            _append(connection, done)
            _save_with(connection, key, run)  # refused after the append: both roll back
            return done

    def fail(self, key: OperationKey, message: str, *, run: Run | None = None) -> Operation:
        """Record that the operation's effect failed, saying why (and save ``run`` with it)."""
        failed = Operation(key, OperationStatus.FAILED, self._clock(), error=message)
        with self._database.writing("cannot record a failed operation") as connection:
            latest = _latest(connection, key)
            _expect_started(key, latest, "fail")
            _append(connection, failed)
            _save_with(connection, key, run)
            return failed

    async def once(self, key: OperationKey, effect: Effect) -> dict[str, object]:
        """The operation's result: the recorded one if it is done, else ``effect``'s.

        Otherwise the operation is begun, ``effect`` awaited and its result recorded. When
        the effect raises, the failure is recorded (its ``YoiError`` message, or the
        exception's type) and the exception goes on; a cancelled effect stays ``started``.
        See the module for what a crash between begin and finish means for ``effect``.
        """
        begun = self.begin(key)
        if begun.status is OperationStatus.DONE:
            return begun.result
        try:
            result = await effect()
        except YoiError as error:
            self.fail(key, error.message)
            raise
        except Exception as error:
            self.fail(key, f"the effect raised {type(error).__name__}")
            raise
        return self.finish(key, result).result


def _run_row(run: Run) -> tuple[object, ...]:
    return tuple(
        str(getattr(run, name)) if name == "phase" else getattr(run, name) for name in _RUN_FIELDS
    )


def _run_from(row: tuple[Any, ...]) -> Run:
    values = dict(zip(_RUN_FIELDS, row, strict=True))  # Run checks every value
    try:
        return Run(**values)
    except InvalidRequest as error:
        raise _corrupt(f"a stored run is not valid: {error.message}") from None


def _usage_row(usage: WorkerUsage) -> tuple[object, ...]:
    return (
        usage.ticket_id,
        usage.attempt,
        usage.worker_id,
        usage.role,
        usage.model,
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_tokens,
    )


def _usage_from(row: tuple[Any, ...]) -> WorkerUsage:
    try:
        return WorkerUsage(*row)
    except InvalidRequest as error:
        raise _corrupt(f"a stored usage row is not valid: {error.message}") from None


def _check_attempt(connection: sqlite3.Connection, key: OperationKey) -> None:
    row = connection.execute(
        "SELECT attempt FROM runs WHERE ticket_id = ?", (key.ticket_id,)
    ).fetchone()
    if row is None:
        raise StateConflict(
            f"{key.ticket_id} has no run: save its run before its steps",
            details={"ticket_id": key.ticket_id},
        )
    if row[0] != key.attempt:
        raise StateConflict(
            f"the run of {key.ticket_id} is at attempt {row[0]}: operation {key.op_id} is stale",
            details={"ticket_id": key.ticket_id, "attempt": row[0]},
        )


def _latest(connection: sqlite3.Connection, key: OperationKey) -> Operation | None:
    row = connection.execute(
        f"SELECT {_STEP_FIELDS} FROM steps WHERE op_id = ? ORDER BY seq DESC LIMIT 1",
        (key.op_id,),
    ).fetchone()
    return None if row is None else _operation_from(row)


def _expect_started(key: OperationKey, latest: Operation | None, doing: str) -> None:
    if latest is None or latest.status is not OperationStatus.STARTED:
        found = "never begun" if latest is None else str(latest.status)
        raise InvalidTransition(
            f"cannot {doing} operation {key.op_id}: it is {found}",
            details={"op_id": key.op_id},
        )


def _save_with(connection: sqlite3.Connection, key: OperationKey, run: Run | None) -> None:
    if run is None:
        return
    if (run.ticket_id, run.attempt) != (key.ticket_id, key.attempt):
        raise InvalidRequest(
            f"operation {key.op_id} cannot save the run of {run.ticket_id} at attempt "
            f"{run.attempt}",
            details={"field": "run"},
        )
    _check_attempt(connection, key)  # a retry since the step began: its run is not ours
    _store_run(connection, run)


def _store_run(connection: sqlite3.Connection, run: Run) -> None:
    """Save ``run`` and log what moved since its saved row: its phase, its gate."""
    row = connection.execute(
        "SELECT attempt, phase, gate FROM runs WHERE ticket_id = ?", (run.ticket_id,)
    ).fetchone()
    connection.execute(_SAVE_RUN, _run_row(run))
    before_phase = None if row is None else str(row[1])
    before_gate = None if row is None else row[2]
    moved_on = row is None or int(row[0]) != run.attempt or before_phase != run.phase
    if moved_on:
        _log(connection, run, TransitionKind.PHASE, before_phase, str(run.phase), None)
    if before_gate != run.gate:
        if run.gate is not None:
            _log(connection, run, TransitionKind.GATE, None, "open", run.gate)
        else:
            _log(connection, run, TransitionKind.GATE, None, _gate_end(run), before_gate)


def _gate_end(run: Run) -> str:
    """How a gate the run was parked at closed: decided by a person, or with the run."""
    if run.stop_reason == GATE_REJECTED:
        return "rejected"
    return "closed" if run.phase.over else "approved"


def _log(
    connection: sqlite3.Connection,
    run: Run,
    kind: TransitionKind,
    before: str | None,
    to: str,
    gate: str | None,
) -> None:
    reason = run.stop_reason if kind is TransitionKind.PHASE and run.phase.over else None
    seq = connection.execute(
        f"INSERT INTO transitions ({_TRANSITION_VALUES}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING seq",
        (run.ticket_id, run.attempt, kind.value, before, to, gate, reason, run.updated_at),
    ).fetchone()[0]
    if seq % 1_000 == 0:
        connection.execute("DELETE FROM transitions WHERE seq <= ?", (seq - RETAINED,))


def _transition_from(epoch: str, row: tuple[Any, ...]) -> Transition:
    seq, ticket_id, attempt, kind, before, to, gate, reason, at = row
    try:
        return Transition(
            epoch, seq, ticket_id, attempt, TransitionKind(kind), before, to, gate, reason, at
        )
    except ValueError:
        raise _corrupt("a stored transition is not valid") from None


def _append(connection: sqlite3.Connection, operation: Operation) -> Operation:
    key = operation.key
    connection.execute(
        f"INSERT INTO steps ({_STEP_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key.op_id,
            key.ticket_id,
            key.attempt,
            key.kind,
            key.round,
            str(operation.status),
            json.dumps(operation.result, allow_nan=False),
            operation.error,
            operation.at,
        ),
    )
    return operation


def _operation_from(row: tuple[object, ...]) -> Operation:
    op_id, ticket_id, attempt, kind, round_, status, result, error, at = row
    try:
        key = OperationKey(ticket_id, attempt, kind, round_)  # type: ignore[arg-type]
        if key.op_id != op_id:
            raise _corrupt("a stored step's id does not match its fields")
        decoded = json.loads(result) if isinstance(result, str) else None
        return Operation(key, OperationStatus(status), at, decoded, error)  # type: ignore[arg-type]
    except (InvalidRequest, ValueError, RecursionError) as problem:
        raise _corrupt(f"a stored step is not valid ({type(problem).__name__})") from None


def _corrupt(message: str) -> StoreCorrupt:
    return StoreCorrupt(message, details={"file": "orchestrator.db"})
