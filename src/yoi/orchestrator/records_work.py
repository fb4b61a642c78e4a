"""The orchestrator's reports of the work on a ticket, in the original format: the kickoff,
the implementation report (the coder's report checked against its branch), the review,
the integration report and the cleanup report.

Each renderer is a pure function from typed values to the Markdown body of one event.
What a model wrote is quoted, so no line of it can pose as one of the orchestrator's;
names, paths and commands are code spans, shown on one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from yoi.orchestrator.branch_facts import BranchFacts, Commit, FileChange
from yoi.orchestrator.records_markdown import code, labelled, quoted, shown
from yoi.orchestrator.validation import CommandResult
from yoi.tickets.model import ReviewStatus
from yoi.tools.reports import Finding, ImplementationReport, ReviewReport, Severity, Verdict

__all__ = [
    "Check",
    "Cleanup",
    "IntegrationReport",
    "Kickoff",
    "ConflictReport",
    "ValidationRun",
    "StopReport",
    "check_claims",
    "render_cleanup",
    "render_implementation",
    "render_integration",
    "render_kickoff",
    "render_merge_conflict",
    "render_review",
    "render_stop",
    "review_status",
]

MAX_LISTED = 30
MAX_SHOWN = 300
_SEVERITY_LABELS = {
    Severity.BLOCKER: "Blockers",
    Severity.MAJOR: "Major findings",
    Severity.MINOR: "Minor findings",
    Severity.NOTE: "Notes",
}


@dataclass(frozen=True, slots=True)
class Kickoff:
    worktree: Path
    branch: str
    base: str
    coder: str


@dataclass(frozen=True, slots=True)
class Check:
    """Whether a coder's report is borne out by its branch; ``problems`` say where not."""

    problems: tuple[str, ...]

    @property
    def believed(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class ValidationRun:
    command: str
    exit_code: int | None
    """``None`` when the command ran out of time and was killed."""
    seconds: float
    log: str | None = None
    """The artifact that holds its output."""

    @classmethod
    def of(cls, result: CommandResult, log: str | None) -> ValidationRun:
        """A command's run as the validation ran it, its output stored as artifact ``log``."""
        return cls(result.command, result.exit_code, result.duration, log)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True, slots=True)
class IntegrationReport:
    branch: str
    target: str
    merge: Commit
    approved: str
    """The reviewed commit that was merged."""
    commits: tuple[Commit, ...]
    validation: tuple[ValidationRun, ...]
    skipped: tuple[str, ...] = ()
    """Commands not run after one failed."""

    @property
    def passed(self) -> bool:
        return all(run.passed for run in self.validation) and not self.skipped


@dataclass(frozen=True, slots=True)
class ConflictReport:
    branch: str
    target: str
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cleanup:
    workers: tuple[str, ...]
    worktrees: tuple[Path, ...]
    branches: tuple[str, ...]
    kept: tuple[str, ...] = ()
    """What was left in place, and why (a branch holding unmerged commits)."""


@dataclass(frozen=True, slots=True)
class StopReport:
    """A run that ends without a merge: ``code`` names why (``review_rounds_exhausted``)."""

    code: str
    reason: tuple[str, ...]
    next_action: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RetryNote:
    """A step failed (or stalled) and is tried again after a backoff."""

    code: str
    reason: str
    try_: int
    of: int
    seconds: float


def render_retry(note: RetryNote) -> str:
    return "\n\n".join(
        [
            f"Retry scheduled: {shown(note.code)}",
            labelled("Reason", [shown(note.reason)]),
            labelled(
                "Next action",
                [f"try {note.try_} of {note.of} in {note.seconds:g} s, eligibility checked first"],
            ),
        ]
    )


def render_stop(stop: StopReport) -> str:
    parts = [f"Run stopped: {shown(stop.code)}", labelled("Reason", map(shown, stop.reason))]
    if stop.next_action:
        parts.append(labelled("Next action", map(shown, stop.next_action)))
    return "\n\n".join(parts)


def render_kickoff(kickoff: Kickoff) -> str:
    return "\n\n".join(
        [
            "Implementation kickoff:",
            "\n".join(
                [
                    f"- Worktree created: {code(str(kickoff.worktree))}",
                    f"- Branch: {code(kickoff.branch)}",
                    f"- Base commit: {code(kickoff.base)}",
                    f"- Coder Worker spawned: {code(kickoff.coder)}",
                ]
            ),
        ]
    )


def check_claims(report: ImplementationReport, facts: BranchFacts) -> Check:
    """What the branch does not hold of what the report says: no commit at all, files the
    report names that no commit changes, work left uncommitted."""
    problems: list[str] = []
    if not facts.commits:
        problems.append(f"the branch holds no commit after its base {code(facts.base[:12])}")
    unclaimed = facts.unclaimed_by_git(report.files)
    if unclaimed and facts.commits:
        names = ", ".join(_span(path) for path in _most(unclaimed))
        problems.append(f"the report names files no commit changes: {names}")
    if not facts.clean:
        problems.append(f"the worktree has uncommitted changes ({len(facts.dirty)} paths)")
    return Check(tuple(problems))


def render_implementation(report: ImplementationReport, facts: BranchFacts, check: Check) -> str:
    parts = ["Implementation report:", "Coder's summary:\n" + quoted(report.summary)]
    parts.append(labelled("Commits", _most(_commits(facts.commits)) or ["none"]))
    changes = [_change(change) for change in facts.changes]
    parts.append(labelled("Diffstat", _most(changes) or ["none"]))
    tree = "clean" if facts.clean else f"{len(facts.dirty)} uncommitted paths"
    worktree = [f"Working tree: {tree}"] + [f"- {line}" for line in _most(_spans(facts.dirty))]
    parts.append("\n".join(worktree))
    if not facts.complete:
        parts.append("Note: git said more than fits; the lists above hold what fit.")
    parts.append(labelled("Files reported", _most(_spans(report.files)) or ["none"]))
    runs = [_reported_run(run.command, run.exit_code, run.outcome) for run in report.commands]
    parts.append(labelled("Validation", runs or ["none reported"]))
    if check.believed:
        parts.append("Verdict: the branch holds the reported work; it goes to review.")
    else:
        parts.append(labelled("Verdict: sent back to the coder", check.problems))
    return "\n\n".join(parts)


def review_status(review: ReviewReport) -> ReviewStatus:
    return ReviewStatus(review.verdict.value)


def render_review(review: ReviewReport, commit: str, reviewer: str, round_: int) -> str:
    parts = [
        f"Review result: {review.verdict.value}",
        "\n".join(
            [
                f"- Reviewed commit: {code(commit)}",
                f"- Reviewer: {code(reviewer)}",
                f"- Round: {round_}",
            ]
        ),
        "Summary:\n" + quoted(review.summary),
    ]
    for severity, label in _SEVERITY_LABELS.items():
        found = [_finding(f) for f in review.findings if f.severity is severity]
        if found:
            parts.append("\n".join([f"{label}:", *found]))
    if not review.findings:
        parts.append("Findings: none")
    if review.verdict is Verdict.APPROVE:
        parts.append(f"The approval holds for commit {code(commit)} only: a new commit voids it.")
    return "\n\n".join(parts)


def render_integration(integration: IntegrationReport) -> str:
    merged = f"{code(integration.merge.sha)} {shown(integration.merge.subject)}".rstrip()
    parts = [
        "Integration / validation report:",
        labelled(
            "Integration",
            [
                f"Implementation branch {code(integration.branch)} merged into "
                f"{code(integration.target)}",
                f"Merge commit: {merged}",
            ],
        ),
        labelled(
            "Included implementation commits", _most(_commits(integration.commits)) or ["none"]
        ),
        labelled(
            "Validation in Orchestrator worktree",
            [_validation(run) for run in integration.validation]
            + [f"{code(command)}: not run" for command in integration.skipped]
            or ["none configured"],
        ),
        labelled("Review", [f"approved at commit {code(integration.approved)}"]),
    ]
    if integration.passed:
        outcome = "merged, reviewed and validated: the ticket goes to `done`"
    else:
        failed = ", ".join(code(run.command) for run in integration.validation if not run.passed)
        outcome = f"validation failed ({failed}): the merge is undone and goes back to the coder"
    parts.append(labelled("Outcome", [outcome]))
    return "\n\n".join(parts)


def render_merge_conflict(conflict: ConflictReport) -> str:
    return "\n\n".join(
        [
            "Integration report:",
            f"Merging {code(conflict.branch)} into {code(conflict.target)} conflicts; the "
            "merge is aborted and the conflict goes back to the coder.",
            labelled("Conflicting paths", _most(_spans(conflict.paths)) or ["unknown"]),
        ]
    )


def render_cleanup(cleanup: Cleanup) -> str:
    groups = [
        ("Child Workers stopped one-by-one and scope reclaimed", cleanup.workers),
        ("Child implementation worktree removed", tuple(map(str, cleanup.worktrees))),
        ("Child implementation branch removed", cleanup.branches),
    ]
    lines = [
        f"- {label}:\n" + "\n".join(f"  - {item}" for item in _codes(values))
        for label, values in groups
    ]
    parts = ["Cleanup report:", "\n".join(lines)]
    if cleanup.kept:
        parts.append(labelled("Kept", [shown(reason) for reason in cleanup.kept]))
    return "\n\n".join(parts)


def _most(items: Sequence[str]) -> list[str]:
    """At most :data:`MAX_LISTED` items, then how many more there are: a ticket text is
    bounded, and git may list thousands of paths."""
    listed = list(items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        listed.append(f"… and {len(items) - MAX_LISTED} more")
    return listed


def _spans(values: Iterable[str]) -> list[str]:
    return [_span(value) for value in values]


def _span(value: str) -> str:
    return code(_clip(value))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}…"


def _codes(values: Sequence[str]) -> list[str]:
    return _most(_spans(values)) or ["none"]


def _commits(commits: Iterable[Commit]) -> list[str]:
    return [f"{code(commit.sha)} {shown(_clip(commit.subject))}".rstrip() for commit in commits]


def _change(change: FileChange) -> str:
    if change.added is None or change.deleted is None:
        return f"{_span(change.path)}: binary"
    return f"{_span(change.path)}: +{change.added} -{change.deleted}"


def _reported_run(command: str, exit_code: int | None, outcome: str | None) -> str:
    text = code(command)
    if exit_code is not None:
        text += f": exit {exit_code}"
    if outcome is not None:
        text += f" — {shown(outcome)}"
    return text


def _validation(run: ValidationRun) -> str:
    if run.exit_code is None:
        result = "timed out"
    elif run.exit_code < 0:
        result = f"killed by signal {-run.exit_code}"
    else:
        result = f"exit {run.exit_code}"
    text = f"{code(run.command)}: {result} ({run.seconds:.1f} s)"
    return text if run.log is None else f"{text}, log {code(run.log)}"


def _finding(finding: Finding) -> str:
    """One bullet; a message of several lines is quoted under it, so that none of its lines
    can open a code fence or pose as a label of the review."""
    where = finding.file if finding.line is None else f"{finding.file}:{finding.line}"
    message = finding.message.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if "\n" not in message:
        return f"- {code(where)}: {message}".rstrip()
    indented = "\n".join(f"  {line}" for line in quoted(message).split("\n"))
    return f"- {code(where)}:\n{indented}"
