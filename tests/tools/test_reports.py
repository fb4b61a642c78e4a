"""The report tools: strict validation, canonical JSON, and reading a report back from a call."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yoi.engine.messages import ToolCall
from yoi.errors import InvalidRequest
from yoi.tools.reports import (
    MAX_ITEMS,
    MAX_REPORT_CHARS,
    CommandRun,
    Finding,
    ImplementationReport,
    ReviewReport,
    Severity,
    SubmitReport,
    SubmitReview,
    Verdict,
    parse_report,
    report_json,
)

REPORT = {
    "summary": "Added the parser",
    "files": ["src/parser.py", "tests/test_parser.py"],
    "commands": [
        {"command": "pytest -q", "exit_code": 0, "outcome": "12 passed"},
        {"command": "ruff check ."},
    ],
}
REVIEW = {
    "verdict": "request_changes",
    "summary": "One bug",
    "findings": [
        {"severity": "blocker", "file": "src/parser.py", "line": 12, "message": "off by one"},
        {"severity": "note", "file": "README.md", "message": "typo"},
    ],
}


async def test_a_report_is_answered_with_its_canonical_json() -> None:
    result = await SubmitReport().call(REPORT)
    assert not result.is_error
    assert result.summary == "report recorded: 2 files, 2 commands"
    assert result.content == json.dumps(REPORT, sort_keys=True, separators=(",", ":"))
    report = parse_report(ToolCall("c1", "submit_report", json.dumps(REPORT)))
    assert report == ImplementationReport(
        "Added the parser",
        ("src/parser.py", "tests/test_parser.py"),
        (CommandRun("pytest -q", 0, "12 passed"), CommandRun("ruff check .")),
    )


async def test_a_review_reads_back_from_its_recorded_call() -> None:
    result = await SubmitReview().call(REVIEW)
    assert not result.is_error
    assert result.summary == "review recorded: request_changes, 2 findings"
    review = parse_report(ToolCall("c2", "submit_review", result.text))
    assert review == ReviewReport(
        Verdict.REQUEST_CHANGES,
        "One bug",
        (
            Finding(Severity.BLOCKER, "src/parser.py", "off by one", 12),
            Finding(Severity.NOTE, "README.md", "typo"),
        ),
    )


async def test_an_approval_with_a_blocker_is_refused() -> None:
    result = await SubmitReview().call({**REVIEW, "verdict": "approve"})
    assert result.is_error
    assert "approval cannot carry a blocker" in result.summary


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({**REPORT, "extra": 1}, "unknown fields: 'extra'"),
        ({"summary": "x", "files": []}, "lacks required fields: commands"),
        ({**REPORT, "summary": "  "}, "summary must not be empty"),
        ({**REPORT, "files": "a.py"}, "files must be an array"),
        ({**REPORT, "files": [1]}, "files[0] must be a string"),
        ({**REPORT, "commands": [{"command": "x", "exit_code": True}]}, "must be an integer"),
        ({**REPORT, "commands": [{"command": "x", "exit_code": 1.0}]}, "must be an integer"),
        ({**REPORT, "commands": [{"command": "x", "shell": "sh"}]}, "unknown fields: 'shell'"),
        ({**REPORT, "files": ["a"] * (MAX_ITEMS + 1)}, f"at most {MAX_ITEMS}"),
        ({**REPORT, "summary": "\ud800"}, "lone surrogate"),
        ({**REPORT, "summary": "a\x00b"}, "NUL"),
        ({**REPORT, "summary": "x" * 9_000}, "at most 8000"),
        ({**REPORT, "files": ["f" * 900] * 40}, f"at most {MAX_REPORT_CHARS} fit"),
    ],
)
async def test_bad_reports_are_refused_with_a_reason(
    arguments: Mapping[str, object], says: str
) -> None:
    result = await SubmitReport().call(arguments)
    assert result.is_error
    assert says in result.summary
    assert "\n" not in result.summary


@pytest.mark.parametrize(
    ("finding", "says"),
    [
        ({"severity": "critical", "file": "a", "message": "m"}, "blocker, major, minor, note"),
        ({"severity": "note", "file": "a", "message": "m", "line": 0}, "between 1 and"),
        ({"severity": "note", "file": "a", "message": "m", "line": "3"}, "must be an integer"),
        ({"severity": "note", "message": "m"}, "lacks required fields: file"),
        ("just text", "findings[0] must be an object"),
    ],
)
async def test_bad_findings_are_refused_with_a_reason(finding: object, says: str) -> None:
    result = await SubmitReview().call({**REVIEW, "findings": [finding]})
    assert result.is_error
    assert says in result.summary


def test_only_report_tools_parse() -> None:
    with pytest.raises(InvalidRequest, match="not a report tool"):
        parse_report(ToolCall("c", "bash", json.dumps(REPORT)))
    with pytest.raises(InvalidRequest, match="not JSON"):
        parse_report(ToolCall("c", "submit_report", "{"))
    with pytest.raises(InvalidRequest, match="must be a JSON object"):
        parse_report(ToolCall("c", "submit_review", "[]"))


def test_the_schemas_refuse_unknown_fields() -> None:
    for tool in (SubmitReport(), SubmitReview()):
        assert tool.parameters["additionalProperties"] is False


# -- properties -------------------------------------------------------------------------------

TEXT = st.text(min_size=0, max_size=40)
JSON_SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
ANY_JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
COMMAND = st.fixed_dictionaries(
    {"command": TEXT},
    optional={"exit_code": st.integers(-300, 300) | ANY_JSON, "outcome": TEXT | ANY_JSON},
)
FINDING = st.fixed_dictionaries(
    {
        "severity": st.sampled_from([s.value for s in Severity]) | TEXT,
        "file": TEXT,
        "message": TEXT,
    },
    optional={"line": st.integers(-5, 10**8) | ANY_JSON},
)
REPORTS = st.fixed_dictionaries(
    {"summary": TEXT, "files": st.lists(TEXT, max_size=5), "commands": st.lists(COMMAND)},
    optional={"extra": ANY_JSON},
)
REVIEWS = st.fixed_dictionaries(
    {
        "verdict": st.sampled_from([v.value for v in Verdict]) | TEXT,
        "summary": TEXT,
        "findings": st.lists(FINDING, max_size=5),
    },
    optional={"extra": ANY_JSON},
)


@settings(max_examples=300, deadline=None)
@given(arguments=REPORTS | st.dictionaries(TEXT, ANY_JSON, max_size=4))
async def test_any_report_round_trips_or_is_refused(arguments: dict[str, object]) -> None:
    result = await SubmitReport().call(arguments)
    assert "\n" not in result.summary
    if result.is_error:
        assert result.summary.startswith("report refused: ")
        return
    report = parse_report(ToolCall("c", "submit_report", result.text))
    assert isinstance(report, ImplementationReport)
    assert json.loads(result.text) == _without_nulls(arguments)
    assert report_json(report) == result.text
    assert parse_report(ToolCall("c", "submit_report", json.dumps(arguments))) == report


@settings(max_examples=300, deadline=None)
@given(arguments=REVIEWS | st.dictionaries(TEXT, ANY_JSON, max_size=4))
async def test_any_review_round_trips_or_is_refused(arguments: dict[str, object]) -> None:
    result = await SubmitReview().call(arguments)
    assert "\n" not in result.summary
    if result.is_error:
        assert result.summary.startswith("review refused: ")
        return
    review = parse_report(ToolCall("c", "submit_review", result.text))
    assert isinstance(review, ReviewReport)
    assert json.loads(result.text) == _without_nulls(arguments)
    assert report_json(review) == result.text
    approving = review.verdict is Verdict.APPROVE
    assert not (approving and any(f.severity is Severity.BLOCKER for f in review.findings))


def _without_nulls(value: object) -> object:
    """The arguments as the canonical form states them: an explicit null optional is absent."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value
