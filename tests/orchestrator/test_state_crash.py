"""A process test: a child writing steps as fast as it can is killed with SIGKILL, again and again.

The child (``CHILD``, run with ``python -c``) takes one ticket's run through numbered steps.
Step ``i`` is begun, then finished in one transaction together with the run it changes
(``review_round = i`` and a head commit made from ``i``); after each it prints ``begun i``
and ``done i``. Each restart picks up where the database says it stopped, so a step that
was begun when the child died is finished by the next child, not begun twice.

After every kill the database must open, pass SQLite's integrity check, hold every step
the child printed as done, and hold no half step: the run says exactly the last step that
is done, every step before it is begun once and done once, and at most the next one is
begun without being done.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from yoi.orchestrator.operations import OperationKey, OperationStatus
from yoi.orchestrator.state import OrchestratorState, state_path

TICKET = "00001KSKBP8Z8"
KILLS = 8
DEADLINE = 30.0

CHILD = f"""
import dataclasses, random, sys
from pathlib import Path
from yoi.orchestrator.operations import OperationKey
from yoi.orchestrator.run_record import Phase, Run

from yoi.orchestrator.state import OrchestratorState

rng = random.Random(int(sys.argv[2]))
with OrchestratorState.open(Path(sys.argv[1])) as state:
    run = state.run({TICKET!r}) or Run({TICKET!r}, 1, Phase.IMPLEMENTING, 1.0, 1.0)
    state.save(run)
    step = run.review_round
    while True:
        step += 1
        key = OperationKey({TICKET!r}, 1, "step", step)
        state.begin(key)
        print("begun", step, flush=True)
        run = dataclasses.replace(run, review_round=step, head_commit=f"{{step:040x}}")
        # Results of up to a few pages, so a commit spans pages of the WAL.
        state.finish(key, {{"step": step, "pad": "x" * rng.randrange(12000)}}, run=run)
        print("done", step, flush=True)
"""


async def kill_while_writing(path: Path, seed: int, done: set[int]) -> None:
    """Run a child until it prints a seeded number of lines, then SIGKILL it mid-write."""
    wanted = random.Random(seed).randint(2, 60)  # the second line is always a ``done``
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", CHILD, str(path), str(seed)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    seen = 0
    try:
        async with asyncio.timeout(DEADLINE):
            while seen < wanted and (line := await child.stdout.readline()):
                seen += 1
                record(line, done)
    finally:
        if child.returncode is None:
            child.kill()
        async with asyncio.timeout(DEADLINE):
            rest, errors = await child.communicate()
    problem = errors.decode() or "(nothing on stderr)"
    assert child.returncode == -signal.SIGKILL, f"the child ended by itself: {problem}"
    assert seen == wanted, f"the child stalled after {seen} lines: {problem}"
    for line in rest.split(b"\n")[:-1]:  # printed before it died: committed too
        record(line, done)


def record(line: bytes, done: set[int]) -> None:
    word, number = line.decode().split()
    if word == "done":
        done.add(int(number))


def check_no_half_step(path: Path, done: set[int]) -> int:
    """Check the database after a kill; the number of the last step it holds as done."""
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        connection.close()
    with OrchestratorState.open(path) as state:
        run = state.run(TICKET)
        log = state.steps(TICKET)
    assert run is not None
    last = run.review_round
    assert done <= set(range(1, last + 1)), "a step the child saw committed is missing"
    assert run.head_commit == (f"{last:040x}" if last else None)
    statuses = [(step.key.round, step.status) for step in log]
    finished = [(number, status) for number in range(1, last + 1) for status in ("started", "done")]
    assert statuses[: len(finished)] == finished
    assert statuses[len(finished) :] in ([], [(last + 1, OperationStatus.STARTED)])
    for step in log:
        if step.status is OperationStatus.DONE:
            assert step.result["step"] == step.key.round
    return last


@pytest.mark.timeout(300)
async def test_a_sigkilled_writer_leaves_every_committed_step_and_no_half_step(
    tmp_path: Path,
) -> None:
    path = state_path(tmp_path)
    done: set[int] = set()
    last = 0
    for seed in range(KILLS):
        await kill_while_writing(path, seed, done)
        try:
            now = check_no_half_step(path, done)
        except AssertionError as error:
            error.add_note(f"after kill {seed}; database {path}")
            raise
        assert now >= last
        last = now
    assert last >= KILLS  # every child got a step done
    with OrchestratorState.open(path) as state:
        key = OperationKey(TICKET, 1, "step", last)
        assert state.get(key) == state.steps(TICKET)[2 * last - 1]
