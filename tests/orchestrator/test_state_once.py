"""``once`` against a model, under any order of successes, failures, crashes and reopens.

The machine runs effects through :meth:`OrchestratorState.once`, makes them fail, "crashes"
right after beginning one (the process stops before the effect: the next ``once`` must run
it) and reopens the database. Whatever the order, an effect recorded done never runs again,
each operation's recorded status is the model's, and the step log holds exactly the
entries the model expects, in order.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from yoi.errors import StoreError
from yoi.orchestrator.operations import OperationKey, OperationStatus
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.state import OrchestratorState, state_path

TICKET = "00001KSKBP8Z8"
KEYS = st.builds(
    OperationKey,
    st.just(TICKET),
    st.just(1),
    st.sampled_from(["create_workdir", "create_coder", "merge"]),
    st.integers(0, 2),
)
RESULTS = st.dictionaries(st.sampled_from(["a", "b"]), st.integers() | st.text(max_size=5))


class OnceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="yoi-once-"))
        self.state = OrchestratorState.open(state_path(self.folder))
        self.state.save(Run(TICKET, 1, Phase.IMPLEMENTING, 1.0, 1.0))
        self.status: dict[OperationKey, OperationStatus] = {}
        self.results: dict[OperationKey, dict[str, object]] = {}
        self.ran: dict[OperationKey, int] = {}
        self.log: list[tuple[str, OperationStatus]] = []

    def _begun(self, key: OperationKey) -> None:
        if self.status.get(key) in (None, OperationStatus.FAILED):
            self.status[key] = OperationStatus.STARTED
            self.log.append((key.op_id, OperationStatus.STARTED))

    @rule(key=KEYS, result=RESULTS)
    def succeed(self, key: OperationKey, result: dict[str, object]) -> None:
        async def effect() -> dict[str, object]:
            self.ran[key] = self.ran.get(key, 0) + 1
            return result

        answer = asyncio.run(self.state.once(key, effect))
        if self.status.get(key) is OperationStatus.DONE:
            assert answer == self.results[key]
            return
        self._begun(key)
        self.status[key], self.results[key] = OperationStatus.DONE, result
        self.log.append((key.op_id, OperationStatus.DONE))
        assert answer == result

    @rule(key=KEYS)
    def fail(self, key: OperationKey) -> None:
        async def effect() -> dict[str, object]:
            raise StoreError("the effect failed")

        if self.status.get(key) is OperationStatus.DONE:
            assert asyncio.run(self.state.once(key, effect)) == self.results[key]
            return
        with pytest.raises(StoreError):
            asyncio.run(self.state.once(key, effect))
        self._begun(key)
        self.status[key] = OperationStatus.FAILED
        self.log.append((key.op_id, OperationStatus.FAILED))

    @rule(key=KEYS)
    def crash_after_begin(self, key: OperationKey) -> None:
        self.state.begin(key)
        self._begun(key)
        self.reopen()

    @rule()
    def reopen(self) -> None:
        self.state.close()
        self.state = OrchestratorState.open(state_path(self.folder))

    @invariant()
    def no_effect_ran_twice(self) -> None:
        assert all(count == 1 for count in self.ran.values()), self.ran

    @invariant()
    def the_records_are_the_models(self) -> None:
        for key, status in self.status.items():
            recorded = self.state.get(key)
            assert recorded is not None
            assert recorded.status is status
            if status is OperationStatus.DONE:
                assert recorded.result == self.results[key]
        log = [(step.op_id, step.status) for step in self.state.steps(TICKET)]
        assert log == self.log

    def teardown(self) -> None:
        self.state.close()
        shutil.rmtree(self.folder)


OnceMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_once_matches_its_model = OnceMachine.TestCase
