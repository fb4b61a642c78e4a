"""A workdir record on disk: any record round-trips exactly; any other bytes are refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.errors import StoreCorrupt
from yoi.ids import ID_PATTERN
from yoi.runtime.workdirs import WorkdirRecord

texts = st.text(max_size=40)
records = st.builds(
    WorkdirRecord,
    workdir_id=st.from_regex(ID_PATTERN, fullmatch=True),
    repository=texts,
    base_ref=texts,
    base_commit=texts,
    branch=st.none() | texts,
    created_at=st.floats(allow_nan=False, allow_infinity=False),
)


@given(records)
def test_any_record_round_trips_exactly(record: WorkdirRecord) -> None:
    assert WorkdirRecord.decode(record.encode()) == record


@given(
    st.binary(max_size=200)
    | st.builds(
        lambda v: json.dumps(v).encode(), st.dictionaries(texts, texts | st.integers() | st.none())
    )
)
def test_any_other_bytes_are_a_record_or_refused(data: bytes) -> None:
    try:
        record = WorkdirRecord.decode(data)
    except StoreCorrupt:
        return
    assert WorkdirRecord.decode(record.encode()) == record


@pytest.mark.parametrize(
    "change",
    [
        {"created_at": "yesterday"},
        {"created_at": True},
        {"branch": 3},
        {"workdir_id": "../x"},
        {"base_commit": None},
        {"extra": 1},
    ],
)
def test_a_field_of_the_wrong_kind_is_refused(change: dict[str, object]) -> None:
    good = json.loads(WorkdirRecord("wd-1", "/r", "main", "abc", None, 1.5).encode())
    with pytest.raises(StoreCorrupt):
        WorkdirRecord.decode(json.dumps(good | change).encode())
