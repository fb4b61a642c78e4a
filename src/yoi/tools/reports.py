"""Report tools: structured results a worker hands back instead of prose.

``submit_report`` (a coder's implementation report), ``submit_review`` (a reviewer's
verdict and findings) and ``submit_intent`` (an intake worker's IntentPacket, in
:mod:`yoi.tools.intent`) change nothing. They validate their arguments strictly (unknown
fields, wrong types and oversized values are refused) and answer with the canonical JSON
of the validated report, so the orchestrator can read the same value back later from the
recorded tool call with :func:`parse_report`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from yoi.engine.messages import ToolCall
from yoi.engine.tool import ToolResult
from yoi.errors import InvalidRequest
from yoi.tools import _report_fields as read
from yoi.tools._report_fields import MAX_EXIT_CODE, MAX_ITEMS, MAX_REPORT_CHARS
from yoi.tools.intent import IntakeReport, SubmitIntent, intake_json, intake_report

__all__ = [
    "MAX_EXIT_CODE",
    "MAX_ITEMS",
    "MAX_REPORT_CHARS",
    "CommandRun",
    "Finding",
    "ImplementationReport",
    "ReviewReport",
    "Severity",
    "SubmitReport",
    "SubmitReview",
    "Verdict",
    "implementation_report",
    "parse_report",
    "report_json",
    "review_report",
]

MAX_TEXT = 8_000
MAX_FIELD = 1_000
MAX_LINE = 10_000_000


class Verdict(StrEnum):
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"


class Severity(StrEnum):
    BLOCKER = "blocker"
    MAJOR = "major"
    MINOR = "minor"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class CommandRun:
    command: str
    exit_code: int | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class ImplementationReport:
    summary: str
    files: tuple[str, ...]
    commands: tuple[CommandRun, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    file: str
    message: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class ReviewReport:
    verdict: Verdict
    summary: str
    findings: tuple[Finding, ...]


Report = ImplementationReport | ReviewReport | IntakeReport


def _text(limit: int) -> dict[str, object]:
    return {"type": "string", "minLength": 1, "maxLength": limit}


_COMMAND_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "command": _text(MAX_FIELD),
        "exit_code": {"type": "integer"},
        "outcome": _text(MAX_FIELD),
    },
    "required": ["command"],
    "additionalProperties": False,
}
_FINDING_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "severity": {"type": "string", "enum": [s.value for s in Severity]},
        "file": _text(MAX_FIELD),
        "line": {"type": "integer", "minimum": 1, "maximum": MAX_LINE},
        "message": _text(MAX_TEXT),
    },
    "required": ["severity", "file", "message"],
    "additionalProperties": False,
}
REPORT_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "summary": _text(MAX_TEXT),
        "files": {"type": "array", "items": _text(MAX_FIELD), "maxItems": MAX_ITEMS},
        "commands": {"type": "array", "items": _COMMAND_SCHEMA, "maxItems": MAX_ITEMS},
    },
    "required": ["summary", "files", "commands"],
    "additionalProperties": False,
}
REVIEW_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": [v.value for v in Verdict]},
        "summary": _text(MAX_TEXT),
        "findings": {"type": "array", "items": _FINDING_SCHEMA, "maxItems": MAX_ITEMS},
    },
    "required": ["verdict", "summary", "findings"],
    "additionalProperties": False,
}


class SubmitReport:
    """A coder's implementation report: what changed, which files, which commands ran."""

    name = "submit_report"
    description = (
        "Submit your implementation report when the work is done: a summary, the files you "
        "changed and the commands you ran (with exit code and outcome). Changes nothing."
    )
    parameters: Mapping[str, object] = REPORT_SCHEMA

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        try:
            report = implementation_report(arguments)
        except InvalidRequest as error:
            return ToolResult(f"report refused: {error.message}", is_error=True)
        summary = f"report recorded: {len(report.files)} files, {len(report.commands)} commands"
        return ToolResult(summary, report_json(report))


class SubmitReview:
    """A reviewer's verdict with findings. An approval may not carry a blocker."""

    name = "submit_review"
    description = (
        "Submit your review: verdict approve or request_changes, a summary, and findings "
        "(severity blocker|major|minor|note, file, optional line, message). An approval "
        "cannot carry a blocker finding. Changes nothing."
    )
    parameters: Mapping[str, object] = REVIEW_SCHEMA

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        try:
            review = review_report(arguments)
        except InvalidRequest as error:
            return ToolResult(f"review refused: {error.message}", is_error=True)
        summary = f"review recorded: {review.verdict.value}, {len(review.findings)} findings"
        return ToolResult(summary, report_json(review))


def implementation_report(arguments: Mapping[str, object]) -> ImplementationReport:
    """The validated report, or :class:`InvalidRequest` saying what is wrong."""
    fields = read.fields(arguments, required={"summary", "files", "commands"}, optional=set())
    report = ImplementationReport(
        summary=read.string(fields["summary"], "summary", MAX_TEXT),
        files=tuple(
            read.string(item, f"files[{i}]", MAX_FIELD)
            for i, item in enumerate(read.array(fields["files"], "files"))
        ),
        commands=tuple(
            _command(item, f"commands[{i}]")
            for i, item in enumerate(read.array(fields["commands"], "commands"))
        ),
    )
    return _bounded(report)


def review_report(arguments: Mapping[str, object]) -> ReviewReport:
    """The validated review, or :class:`InvalidRequest` saying what is wrong."""
    fields = read.fields(arguments, required={"verdict", "summary", "findings"}, optional=set())
    review = ReviewReport(
        verdict=read.choice(fields["verdict"], "verdict", Verdict),
        summary=read.string(fields["summary"], "summary", MAX_TEXT),
        findings=tuple(
            _finding(item, f"findings[{i}]")
            for i, item in enumerate(read.array(fields["findings"], "findings"))
        ),
    )
    blockers = sum(finding.severity is Severity.BLOCKER for finding in review.findings)
    if review.verdict is Verdict.APPROVE and blockers:
        raise InvalidRequest(
            f"an approval cannot carry a blocker finding ({blockers} given): "
            "use request_changes, or lower the severity"
        )
    return _bounded(review)


def report_json(report: Report) -> str:
    """The canonical JSON of a report: sorted keys, no spaces, absent optionals left out."""
    if isinstance(report, IntakeReport):
        return intake_json(report)
    return read.canonical_json(_plain(report))


def parse_report(call: ToolCall) -> Report:
    """Read a report back from a recorded ``submit_report``, ``submit_review`` or
    ``submit_intent`` call, validated exactly as the tool validated it."""
    try:
        arguments = json.loads(call.arguments)
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"{call.name} arguments are not JSON: {error.msg}") from None
    if not isinstance(arguments, dict):
        raise InvalidRequest(f"{call.name} arguments must be a JSON object")
    if call.name == SubmitReport.name:
        return implementation_report(arguments)
    if call.name == SubmitReview.name:
        return review_report(arguments)
    if call.name == SubmitIntent.name:
        return intake_report(arguments)
    raise InvalidRequest(f"{call.name!r} is not a report tool")


def _plain(report: ImplementationReport | ReviewReport) -> dict[str, object]:
    if isinstance(report, ImplementationReport):
        return {
            "summary": report.summary,
            "files": list(report.files),
            "commands": [_without_none(_vars_of(run)) for run in report.commands],
        }
    return {
        "verdict": report.verdict.value,
        "summary": report.summary,
        "findings": [_without_none(_vars_of(finding)) for finding in report.findings],
    }


def _vars_of(value: CommandRun | Finding) -> dict[str, object]:
    if isinstance(value, CommandRun):
        return {"command": value.command, "exit_code": value.exit_code, "outcome": value.outcome}
    return {
        "severity": value.severity.value,
        "file": value.file,
        "line": value.line,
        "message": value.message,
    }


def _without_none(values: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in values.items() if value is not None}


_R = TypeVar("_R", ImplementationReport, ReviewReport)


def _bounded(report: _R) -> _R:
    read.within_bound(report_json(report))
    return report


def _command(value: object, where: str) -> CommandRun:
    fields = read.fields(
        value, required={"command"}, optional={"exit_code", "outcome"}, where=where
    )
    exit_code = fields.get("exit_code")
    outcome = fields.get("outcome")
    return CommandRun(
        command=read.string(fields["command"], f"{where}.command", MAX_FIELD),
        exit_code=None if exit_code is None else read.integer(exit_code, f"{where}.exit_code"),
        outcome=None if outcome is None else read.string(outcome, f"{where}.outcome", MAX_FIELD),
    )


def _finding(value: object, where: str) -> Finding:
    fields = read.fields(
        value, required={"severity", "file", "message"}, optional={"line"}, where=where
    )
    line = fields.get("line")
    if line is not None:
        line = read.integer(line, f"{where}.line")
        if not 1 <= line <= MAX_LINE:
            raise InvalidRequest(f"{where}.line must be between 1 and {MAX_LINE}")
    return Finding(
        severity=read.choice(fields["severity"], f"{where}.severity", Severity),
        file=read.string(fields["file"], f"{where}.file", MAX_FIELD),
        message=read.string(fields["message"], f"{where}.message", MAX_TEXT),
        line=line,
    )
