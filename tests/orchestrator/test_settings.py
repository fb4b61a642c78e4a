"""The [orchestrator] table: any table means exactly its values or is refused naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.errors import InvalidRequest
from yoi.orchestrator.settings import OrchestratorSettings


def test_no_table_and_no_file_give_the_defaults(tmp_path: Path) -> None:
    assert OrchestratorSettings.from_document({}) == OrchestratorSettings()
    assert OrchestratorSettings.from_toml(tmp_path / "missing.toml") == OrchestratorSettings()
    defaults = OrchestratorSettings()
    assert (defaults.enabled, defaults.max_parallel, defaults.target_branch) == (
        True,
        2,
        "orchestration",
    )


def test_a_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[backend]\nlisten = "127.0.0.1:0"\n\n[orchestrator]\nmax_parallel = 3\n'
        'validation = ["python -m pytest -q", "ruff check ."]\nenabled = false\n',
        encoding="utf-8",
    )
    read = OrchestratorSettings.from_toml(path)
    assert read.max_parallel == 3
    assert read.validation == ("python -m pytest -q", "ruff check .")
    assert read.enabled is False


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"max_parallel": 0}, "orchestrator.max_parallel"),
        ({"max_parallel": True}, "orchestrator.max_parallel"),
        ({"max_parallel": 65}, "orchestrator.max_parallel"),
        ({"target_branch": "../main"}, "orchestrator.target_branch"),
        ({"target_branch": "-x"}, "orchestrator.target_branch"),
        ({"target_branch": "a b"}, "orchestrator.target_branch"),
        ({"target_branch": "x.lock"}, "orchestrator.target_branch"),
        ({"target_branch": "a@{1}"}, "orchestrator.target_branch"),
        ({"validation": "pytest"}, "orchestrator.validation"),
        ({"validation": [""]}, "orchestrator.validation"),
        ({"validation": ["a\0b"]}, "orchestrator.validation"),
        ({"validation_timeout": float("nan")}, "orchestrator.validation_timeout"),
        ({"validation_timeout": 0}, "orchestrator.validation_timeout"),
        ({"enabled": "yes"}, "orchestrator.enabled"),
        ({"max_review_rounds": 21}, "orchestrator.max_review_rounds"),
        ({"colour": "blue"}, "orchestrator.colour"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        OrchestratorSettings.from_document({"orchestrator": table})
    assert refused.value.details == {"field": key}


def test_a_table_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        OrchestratorSettings.from_document({"orchestrator": ["x"]})


values = st.fixed_dictionaries(
    {},
    optional={
        "enabled": st.booleans() | st.integers(),
        "max_parallel": st.integers(-2, 70) | st.booleans(),
        "target_branch": st.text(max_size=12) | st.sampled_from(["main", "orch/x", "a..b"]),
        "validation": st.lists(st.text(max_size=8), max_size=3) | st.text(max_size=4),
        "validation_timeout": st.floats(allow_nan=True) | st.integers(-1, 100),
        "ticket_validation": st.booleans() | st.none(),
        "max_review_rounds": st.integers(-1, 25),
        "max_fix_rounds": st.integers(-1, 25),
        "pass_interval": st.floats(allow_nan=False, min_value=-1, max_value=10),
    },
)


@given(table=values)
def test_any_table_means_exactly_its_values_or_is_refused_by_key(table: dict[str, object]) -> None:
    try:
        read = OrchestratorSettings.from_document({"orchestrator": table})
    except InvalidRequest as error:
        field = str(error.details["field"])
        assert field.removeprefix("orchestrator.") in table
        return
    shown = read.to_dict()
    for key, value in table.items():
        expected = list(value) if isinstance(value, list) else value
        assert shown[key] == expected
    assert OrchestratorSettings.from_document({"orchestrator": shown}) == read
