"""Failpoints: which names ``YOI_FAILPOINT`` arms, and what reaching one does to a process."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from tests.isolation import isolated_env

from yoi.errors import InvalidRequest
from yoi.orchestrator.failpoints import ENVIRONMENT, EXIT_CODE, Failpoint, Failpoints, parse

NAMES = [point.value for point in Failpoint]
BLANKS = st.sampled_from(["", " ", "  ", "\t"])


def test_there_is_an_effect_and_a_done_point_for_every_step_and_two_inside_the_move() -> None:
    kinds = {name.split(".")[0] for name in NAMES}
    for kind in kinds - {"advance", "ask"}:
        assert {f"{kind}.effect", f"{kind}.done"} <= set(NAMES)
    assert {"advance.before_move", "advance.after_move"} <= set(NAMES)
    assert "ask.sent" in NAMES  # between an input sent and its answer
    assert len(NAMES) >= 12


def test_nothing_is_armed_unless_the_environment_names_it() -> None:
    assert Failpoints.from_environment({}).armed == frozenset()
    assert Failpoints.from_environment({ENVIRONMENT: ""}).armed == frozenset()
    assert Failpoints.from_environment({ENVIRONMENT: " , "}).armed == frozenset()
    assert Failpoints().armed == frozenset()


@given(st.lists(st.tuples(st.sampled_from(NAMES), BLANKS, BLANKS)))
def test_a_comma_list_of_known_names_arms_exactly_those(items: list[tuple[str, str, str]]) -> None:
    value = ",".join(f"{before}{name}{after}" for name, before, after in items)
    assert parse(value) == {name for name, _, _ in items}


@given(
    st.lists(st.sampled_from(NAMES), max_size=3),
    st.text(st.characters(codec="utf-8", exclude_characters=","), min_size=1),
)
def test_an_unknown_name_is_refused_with_its_name(known: list[str], unknown: str) -> None:
    assume(unknown.strip() not in NAMES and unknown.strip())
    with pytest.raises(InvalidRequest) as refused:
        parse(",".join([*known, unknown]))
    assert unknown.strip() in refused.value.message
    assert ENVIRONMENT in refused.value.message


def test_a_point_not_armed_is_passed_by() -> None:
    Failpoints(frozenset({Failpoint.MERGE_EFFECT.value})).reach(Failpoint.MERGE_DONE)
    Failpoints().reach(Failpoint.MERGE_EFFECT)


def test_an_armed_point_ends_the_process_at_once_with_its_code_and_one_line() -> None:
    script = (
        "from yoi.orchestrator.failpoints import Failpoints\n"
        "points = Failpoints.from_environment()\n"
        "points.reach('merge.done')\n"
        "print('passed merge.done', flush=True)\n"
        "points.reach('merge.effect')\n"
        "print('passed merge.effect', flush=True)\n"
    )
    env = isolated_env(**{ENVIRONMENT: "validate.done, merge.effect"})
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == EXIT_CODE
    assert done.stdout == "passed merge.done\n"
    assert done.stderr == f"yoi: failpoint merge.effect reached; exiting with {EXIT_CODE}\n"
