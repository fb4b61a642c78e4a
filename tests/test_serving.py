"""A workspace's id and the record of its running `yoi serve` (``.yoi/state/backend.json``)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from yoi.serving import (
    RECORD_NAME,
    ServeRecord,
    ensure_workspace_id,
    read_record,
    read_workspace_id,
    remove_record,
    write_record,
)
from yoi.workspace import Workspace

records = st.builds(
    ServeRecord,
    url=st.text(),
    pid=st.integers(min_value=1, max_value=2**31),
    workspace_id=st.text(),
    started_at=st.text(),
)


@given(records)
def test_a_record_round_trips_exactly(record: ServeRecord) -> None:
    assert ServeRecord.parse(record.to_json()) == record


@given(st.text())
def test_any_text_is_a_record_or_none(text: str) -> None:
    parsed = ServeRecord.parse(text)
    assert parsed is None or ServeRecord.parse(parsed.to_json()) == parsed


@given(records, st.integers(min_value=1, max_value=60))
def test_a_torn_record_is_no_record(record: ServeRecord, cut: int) -> None:
    text = record.to_json()
    assert ServeRecord.parse(text[: max(0, len(text) - 1 - cut)]) is None


def make(tmp_path: Path) -> Workspace:
    workspace = Workspace(tmp_path)
    workspace.ensure()
    return workspace


def test_the_workspace_id_is_made_once_and_kept(tmp_path: Path) -> None:
    workspace = make(tmp_path)
    assert read_workspace_id(workspace) is None
    made = ensure_workspace_id(workspace)
    assert made.startswith("ws-")
    assert ensure_workspace_id(workspace) == made == read_workspace_id(Workspace(tmp_path))
    assert str(tmp_path) not in made


def test_a_record_is_read_while_its_process_lives_and_removed_only_by_it(tmp_path: Path) -> None:
    workspace = make(tmp_path)
    mine = ServeRecord("http://127.0.0.1:1", os.getpid(), "ws-1", "2026-01-01T00:00:00+00:00")
    write_record(workspace, mine)
    assert read_record(workspace) == mine
    remove_record(workspace, os.getpid() + 1)
    assert read_record(workspace) == mine
    remove_record(workspace, os.getpid())
    assert read_record(workspace) is None
    assert [p.name for p in workspace.state.iterdir() if p.name.endswith(".tmp")] == []


def test_nesting_too_deep_for_the_json_reader_is_no_record() -> None:
    assert ServeRecord.parse("[" * 100_000) is None


def test_garbage_in_the_record_file_is_no_record(tmp_path: Path) -> None:
    workspace = make(tmp_path)
    (workspace.state / RECORD_NAME).write_bytes(b"\xff\xfe{not json")
    assert read_record(workspace) is None
    remove_record(workspace, os.getpid())
    assert (workspace.state / RECORD_NAME).exists()
