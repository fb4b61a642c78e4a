"""Property tests of what the orchestrator state stores: runs, operation ids, results, files.

Any value round-trips exactly or is refused with a typed error; saving one never changes
another; a damaged database file is refused with a store error, never a crash.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from yoi.errors import InvalidRequest, YoiError
from yoi.orchestrator.fields import MAX_COUNT
from yoi.orchestrator.operations import (
    OperationKey,
    OperationStatus,
    checked_result,
    operation_id,
)
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.tickets.ids import encode_id

EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

tickets = st.integers(0, 32**13 - 1).map(encode_id)
counts = st.integers(0, MAX_COUNT)
moments = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,63}", fullmatch=True)
commits = st.from_regex(r"[0-9a-f]{40}|[0-9a-f]{64}", fullmatch=True)
lines = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=255
)  # one line of valid Unicode
texts = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))


@st.composite
def runs(draw: st.DrawFn, ticket: st.SearchStrategy[str] = tickets) -> Run:
    return Run(
        ticket_id=draw(ticket),
        attempt=draw(st.integers(1, MAX_COUNT)),
        phase=draw(st.sampled_from(Phase)),
        started_at=draw(moments),
        updated_at=draw(moments),
        workdir_id=draw(st.none() | ids),
        branch=draw(st.none() | lines),
        coder_worker_id=draw(st.none() | ids),
        reviewer_worker_id=draw(st.none() | ids),
        base_commit=draw(st.none() | commits),
        head_commit=draw(st.none() | commits),
        approved_commit=draw(st.none() | commits),
        review_round=draw(counts),
        fix_rounds=draw(counts),
        phase_deadline=draw(st.none() | moments),
        run_deadline=draw(st.none() | moments),
        stop_reason=draw(st.none() | texts.filter(lambda text: len(text) <= 4096)),
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=6)


@given(batch=st.lists(runs(), min_size=1, max_size=5, unique_by=lambda run: run.ticket_id))
@EXAMPLES
def test_any_run_round_trips_exactly_beside_its_neighbours(
    tmp_path_factory: pytest.TempPathFactory, batch: list[Run]
) -> None:
    with OrchestratorState.open(state_path(tmp_path_factory.mktemp("runs"))) as state:
        for run in batch:
            state.save(run)
        for run in batch:
            assert state.run(run.ticket_id) == run
        saved = {run.ticket_id: run for run in state.runs()}
    assert saved == {run.ticket_id: run for run in batch}


BAD_FIELDS: list[tuple[str, object]] = [
    ("ticket_id", "00001KSKBP8Z"),
    ("ticket_id", "00001KSKBP8ZU"),
    ("attempt", 0),
    ("attempt", True),
    ("attempt", 2**63),
    ("phase", "sleeping"),
    ("started_at", math.nan),
    ("updated_at", -1.0),
    ("phase_deadline", math.inf),
    ("workdir_id", "Not An Id"),
    ("branch", ""),
    ("branch", "work/\nnext"),
    ("head_commit", "ABCDEF" * 7),
    ("base_commit", "a" * 39),
    ("review_round", -1),
    ("fix_rounds", 1.5),
    ("stop_reason", "lone \ud800 surrogate"),
    ("stop_reason", "x" * 4097),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_a_run_with_a_bad_field_is_refused_naming_it(field: str, value: object) -> None:
    run = Run("00001KSKBP8Z8", 1, Phase.ACCEPTING, 1.0, 1.0)
    with pytest.raises(InvalidRequest) as refused:
        dataclasses.replace(run, **{field: value})  # type: ignore[arg-type]
    assert refused.value.details == {"field": field}


def test_negative_zero_is_saved_as_the_zero_it_reads_back_as() -> None:
    run = Run("00001KSKBP8Z8", 1, "implementing", -0.0, 0)  # type: ignore[arg-type]
    assert math.copysign(1.0, run.started_at) == 1.0
    assert isinstance(run.updated_at, float)
    assert run.phase is Phase.IMPLEMENTING


keys = st.builds(
    OperationKey,
    tickets,
    st.integers(1, MAX_COUNT),
    st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True),
    counts,
)


@given(first=keys, second=keys)
def test_operation_ids_read_back_into_their_keys_and_never_collide(
    first: OperationKey, second: OperationKey
) -> None:
    assert OperationKey.parse(first.op_id) == first
    assert first.op_id == operation_id(first.ticket_id, first.attempt, first.kind, first.round)
    assert (first.op_id == second.op_id) == (first == second)


@given(text=st.text() | keys.map(lambda key: key.op_id + "/") | keys.map(lambda key: key.op_id))
def test_any_text_parses_to_the_key_it_spells_or_is_refused(text: str) -> None:
    try:
        key = OperationKey.parse(text)
    except InvalidRequest:
        return
    assert key.op_id == text


@pytest.mark.parametrize(
    "text",
    ["00001KSKBP8Z8/1/merge", "00001kskbp8z8/1/merge/0", "00001KSKBP8Z8/01/merge/0", "a/1/b/0"],
)
def test_operation_ids_in_any_other_spelling_are_refused(text: str) -> None:
    with pytest.raises(InvalidRequest):
        OperationKey.parse(text)


@given(result=json_objects)
@EXAMPLES
def test_any_json_object_result_round_trips(
    tmp_path_factory: pytest.TempPathFactory, result: dict[str, object]
) -> None:
    key = OperationKey("00001KSKBP8Z8", 1, "report")
    with OrchestratorState.open(state_path(tmp_path_factory.mktemp("results"))) as state:
        state.save(Run(key.ticket_id, 1, Phase.IMPLEMENTING, 1.0, 1.0))
        state.begin(key)
        assert state.finish(key, result).result == result
        recorded = state.get(key)
    assert recorded is not None
    assert (recorded.status, recorded.result) == (OperationStatus.DONE, result)


@pytest.mark.parametrize(
    "result",
    [[1, 2], {"a": (1, 2)}, {1: "one"}, {"nan": math.nan}, {"set": {1}}, "text", None],
)
def test_a_result_that_is_not_a_json_object_is_refused(result: object) -> None:
    with pytest.raises(InvalidRequest, match="JSON object"):
        checked_result(result)


class Sound:
    """The bytes of a sound database, shown by their size (Hypothesis prints its arguments)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Sound({len(self.data)} bytes)"


@pytest.fixture(scope="module")
def sound_database(tmp_path_factory: pytest.TempPathFactory) -> Sound:
    path = state_path(tmp_path_factory.mktemp("sound"))
    with OrchestratorState.open(path) as state:
        for number in range(30):
            run = Run(encode_id(number), 1, Phase.REVIEWING, 1.0, 2.0, stop_reason="why" * 50)
            state.save(run)
            key = OperationKey(run.ticket_id, 1, "accept")
            state.begin(key)
            state.finish(key, {"number": number})
    return Sound(path.read_bytes())


def read_everything(path: Path) -> YoiError | None:
    """Open the state and read every run and step; the error it raised, if any."""
    try:
        with OrchestratorState.open(path) as state:
            for run in state.runs():
                state.steps(run.ticket_id)
    except YoiError as error:
        return error
    return None


@given(
    damage=st.lists(
        st.tuples(st.integers(0, 2**20), st.binary(min_size=1, max_size=64)), max_size=8
    )
)
@EXAMPLES
def test_a_damaged_database_opens_sound_or_is_refused_with_a_store_error(
    tmp_path_factory: pytest.TempPathFactory,
    sound_database: Sound,
    damage: list[tuple[int, bytes]],
) -> None:
    data = bytearray(sound_database.data)
    for offset, garbage in damage:
        start = offset % len(data)
        data[start : start + len(garbage)] = garbage
    assume(bytes(data) != sound_database.data)
    path = state_path(tmp_path_factory.mktemp("damaged"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    error = read_everything(path)
    assert error is None or error.code.startswith("store_"), error
