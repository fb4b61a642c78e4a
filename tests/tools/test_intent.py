"""``submit_intent``: strict validation, canonical JSON, and reading the answer back."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yoi.engine.messages import ToolCall
from yoi.tools import IntakeReport, IntentPacket, SubmitIntent, parse_report
from yoi.tools.intent import MAX_SECTION_ITEMS, SECTION_TITLES
from yoi.tools.reports import MAX_REPORT_CHARS, report_json

READY: dict[str, object] = {
    "implementation_ready": True,
    "intent": ["Quit must not wait on background reloads."],
    "binding_decisions": ["Terminal cleanup stays as it is."],
    "requirements": ["Ctrl+C exits at once", "A regression test covers it"],
    "implementation_latitude": [],
    "escalate_if": ["The fix needs a runtime-loop redesign"],
    "validation": ["pytest -q tests/tui"],
    "reviewer_focus": ["Cleanup is not skipped"],
}
NOT_READY: dict[str, object] = {
    **{name: [] for name in SECTION_TITLES},
    "implementation_ready": False,
    "not_ready_reason": "The transport decision is not made yet.",
}


async def test_a_ready_packet_is_answered_with_its_canonical_json() -> None:
    result = await SubmitIntent().call(READY)
    assert not result.is_error
    assert result.summary == "intent recorded: implementation ready, 7 items"
    assert result.text == json.dumps(READY, sort_keys=True, separators=(",", ":"))
    answer = parse_report(ToolCall("c1", "submit_intent", result.text))
    assert answer == IntakeReport(
        True,
        IntentPacket(
            intent=("Quit must not wait on background reloads.",),
            binding_decisions=("Terminal cleanup stays as it is.",),
            requirements=("Ctrl+C exits at once", "A regression test covers it"),
            escalate_if=("The fix needs a runtime-loop redesign",),
            validation=("pytest -q tests/tui",),
            reviewer_focus=("Cleanup is not skipped",),
        ),
    )


async def test_a_ticket_that_is_not_ready_says_why() -> None:
    result = await SubmitIntent().call(NOT_READY)
    assert not result.is_error
    assert result.summary == "intent recorded: not implementation ready"
    answer = parse_report(ToolCall("c2", "submit_intent", result.text))
    assert answer == IntakeReport(False, IntentPacket(), "The transport decision is not made yet.")


def test_sections_keep_the_original_titles_and_order() -> None:
    titles = [title for title, _ in IntentPacket().sections()]
    assert titles == [
        "Intent",
        "Binding decisions / invariants",
        "Requirements / acceptance criteria",
        "Implementation latitude",
        "Escalate if",
        "Validation",
        "Critical risks / reviewer focus",
    ]


async def test_items_are_stripped() -> None:
    result = await SubmitIntent().call({**READY, "intent": ["  padded\n"]})
    assert not result.is_error
    assert json.loads(result.text)["intent"] == ["padded"]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({**READY, "extra": 1}, "unknown fields: 'extra'"),
        (
            {k: v for k, v in READY.items() if k != "validation"},
            "lacks required fields: validation",
        ),
        ({**READY, "implementation_ready": "yes"}, "implementation_ready must be true or false"),
        ({**READY, "intent": []}, "needs items in: intent"),
        ({**READY, "requirements": []}, "needs items in: requirements"),
        ({**READY, "not_ready_reason": "but"}, "belongs only to implementation_ready false"),
        ({**NOT_READY, "not_ready_reason": None}, "needs not_ready_reason"),
        ({**READY, "intent": "one"}, "intent must be an array"),
        ({**READY, "intent": [3]}, "intent[0] must be a string"),
        ({**READY, "intent": ["a\nb"]}, "intent[0] must be one line"),
        ({**READY, "intent": ["a\u2028b"]}, "must be one line"),
        ({**READY, "intent": ["a\x85b"]}, "must be one line"),
        ({**READY, "intent": ["  "]}, "intent[0] must not be empty"),
        ({**READY, "intent": ["\ud800"]}, "lone surrogate"),
        ({**READY, "intent": ["a\x00"]}, "NUL"),
        ({**READY, "intent": ["x" * 2_001]}, "at most 2000"),
        ({**NOT_READY, "not_ready_reason": "two\nlines"}, "not_ready_reason must be one line"),
        ({**READY, "validation": ["v"] * (MAX_SECTION_ITEMS + 1)}, "at most 50"),
        ({**READY, "reviewer_focus": ["r" * 1_900] * 13}, f"at most {MAX_REPORT_CHARS} fit"),
    ],
)
async def test_bad_answers_are_refused_with_a_reason(
    arguments: Mapping[str, object], says: str
) -> None:
    result = await SubmitIntent().call(arguments)
    assert result.is_error
    assert result.summary.startswith("intent refused: ")
    assert says in result.summary
    assert "\n" not in result.summary


def test_the_schema_refuses_unknown_fields() -> None:
    assert SubmitIntent().parameters["additionalProperties"] is False


# -- properties -------------------------------------------------------------------------------

TEXT = st.text(min_size=0, max_size=30)
JSON_SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
ANY_JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
# Items a model could mean (one line, padded or not) and items it should not send.
ITEM = st.text(st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp"]), max_size=30)
ITEMS = st.lists(ITEM.map(str.strip).filter(bool), min_size=1, max_size=3)
SECTIONS = st.fixed_dictionaries(dict.fromkeys(SECTION_TITLES, ITEMS | st.just([])))
WELL_FORMED = st.one_of(
    SECTIONS.map(lambda sections: {**sections, "implementation_ready": True}),
    st.tuples(SECTIONS, ITEM).map(
        lambda pair: {**pair[0], "implementation_ready": False, "not_ready_reason": pair[1]}
    ),
)
HOSTILE_VALUE = ANY_JSON | st.lists(ITEM | TEXT, max_size=4) | ITEM | TEXT


def _spoiled(arguments: dict[str, object]) -> st.SearchStrategy[dict[str, object]]:
    """``arguments`` with one field, known or not, given another value."""
    keys = st.sampled_from([*sorted(arguments), "not_ready_reason", "extra"])
    return st.tuples(keys, HOSTILE_VALUE).map(lambda pair: {**arguments, pair[0]: pair[1]})


ANSWERS = WELL_FORMED | WELL_FORMED.flatmap(_spoiled)


@settings(max_examples=400, deadline=None)
@given(arguments=ANSWERS | st.dictionaries(TEXT, ANY_JSON, max_size=4))
async def test_any_answer_round_trips_or_is_refused(arguments: dict[str, object]) -> None:
    result = await SubmitIntent().call(arguments)
    assert "\n" not in result.summary
    if result.is_error:
        assert result.summary.startswith("intent refused: ")
        return
    answer = parse_report(ToolCall("c", "submit_intent", result.text))
    assert isinstance(answer, IntakeReport)
    assert json.loads(result.text) == _as_stated(arguments)
    assert report_json(answer) == result.text
    assert parse_report(ToolCall("c", "submit_intent", json.dumps(arguments))) == answer
    assert answer.implementation_ready is (answer.not_ready_reason is None)


def _as_stated(arguments: dict[str, object]) -> dict[str, object]:
    """The arguments as the canonical form states them: items stripped, a null reason absent."""
    stated: dict[str, object] = {}
    for key, value in arguments.items():
        if isinstance(value, list):
            stated[key] = [item.strip() for item in value if isinstance(item, str)]
        elif isinstance(value, str):
            stated[key] = value.strip()
        elif value is not None:
            stated[key] = value
    return stated


PACKETS = st.builds(
    IntentPacket, **{name: ITEMS.map(tuple) | st.just(()) for name in SECTION_TITLES}
)


@settings(max_examples=300, deadline=None)
@given(packet=PACKETS, reason=st.none() | ITEM.map(str.strip).filter(bool))
def test_any_packet_round_trips_through_its_json(packet: IntentPacket, reason: str | None) -> None:
    ready = reason is None
    if ready and not (packet.intent and packet.requirements):
        packet = IntentPacket(**{**_fields_of(packet), "intent": ("i",), "requirements": ("r",)})
    answer = IntakeReport(ready, packet, reason)
    text = report_json(answer)
    assert parse_report(ToolCall("c", "submit_intent", text)) == answer


def _fields_of(packet: IntentPacket) -> dict[str, tuple[str, ...]]:
    return {name: getattr(packet, name) for name in SECTION_TITLES}
