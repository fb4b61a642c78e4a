"""The steps after an approval: merge into the integration branch, validate the merged tree,
move the branch and the ticket to ``done``, clean up.

Merging and validating hold the crew's merge queue, one ticket at a time. The merge is made
on the integration worktree's detached HEAD; only a green validation moves the branch, and a
red one undoes the merge and sends the log back to the coder, as a conflict sends back its
paths (with the integration branch merged into the coder's workdir for it to resolve).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from yoi.errors import (
    RunStalled,
    RuntimeUnavailable,
    StateConflict,
    UnsupportedOperation,
    WorkdirNotFound,
    YoiError,
)
from yoi.orchestrator.asks import retire
from yoi.orchestrator.branch_facts import Commit, branch_facts
from yoi.orchestrator.crew import Crew
from yoi.orchestrator.failpoints import Failpoint
from yoi.orchestrator.integration import MergeConflict, Merged
from yoi.orchestrator.integration_names import merge_message
from yoi.orchestrator.prompts import FixReason
from yoi.orchestrator.records_work import Cleanup, ConflictReport, IntegrationReport, ValidationRun
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.steps import Steps
from yoi.orchestrator.ticket_validation import ticket_commands
from yoi.orchestrator.validation import ValidationResult, run_validation
from yoi.runtime.stores.fs.disk import OsDisk
from yoi.runtime.stores.fs.files import write_atomic

__all__ = ["Finish"]

_LOG_TAIL = 40
_RECHECK = 1.0


class Finish:
    def __init__(self, crew: Crew, steps: Steps) -> None:
        self.crew = crew
        self.steps = steps

    async def merge(self, run: Run) -> Run:
        """Merge the approved commit and validate it, holding the merge queue. While
        another run's merge waits in the integration worktree for its validation (after a
        restart the runs take the queue in any order), that run goes first: this one waits
        for it, without spending a try."""
        while True:
            async with self.crew.merge_queue:
                if not await self._behind_another(run):
                    return await self._merge(run)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_RECHECK), self.crew.changes:
                    await self.crew.changes.wait()

    async def _behind_another(self, run: Run) -> bool:
        """Whether the merge waiting in the integration worktree is another active run's."""
        pending = await self.crew.integration.pending()
        if pending is None or pending.merged == run.approved_commit:
            return False
        return any(
            other.ticket_id != run.ticket_id
            and other.approved_commit == pending.merged
            and other.phase in (Phase.MERGING, Phase.VALIDATING)
            for other in self.crew.state.runs(active_only=True)
        )

    async def _merge(self, run: Run) -> Run:
        crew = self.crew
        current = crew.rounds(run, "code")[-1]
        if run.phase is Phase.MERGING:
            result = await crew.step(run, "merge", lambda: self._merged(run), round_=current)
            if "conflict" in result:
                return await self._conflict(run, current, _texts(result["conflict"]))
            run = await crew.save(run.advance(Phase.VALIDATING, at=crew.clock()))
        merged = crew.done(run, "merge", current) or {}
        commit, previous = str(merged["commit"]), str(merged["previous"])
        checked = await crew.step(run, "validate", lambda: self._validate(run), round_=current)
        if not checked.get("passed"):
            await crew.integration.undo(commit)
            details = _texts(checked.get("details"))
            return await self.steps.send_back(
                run, current + 1, FixReason.VALIDATION, details, phase=run.phase
            )
        outcome = Merged(commit, previous, str(run.approved_commit))
        await crew.step(run, "advance", lambda: _advance(crew, outcome), round_=current)
        await crew.step(run, "integrate", lambda: self._integrate(run, outcome, checked))
        return await crew.save(run.advance(Phase.CLEANING_UP, at=crew.clock()))

    async def _merged(self, run: Run) -> dict[str, object]:
        crew = self.crew
        title = (await crew.record(lambda: crew.tickets.get(run.ticket_id))).meta.title
        outcome = await crew.integration.merge(
            str(run.approved_commit), merge_message(run.ticket_id, title)
        )
        if isinstance(outcome, MergeConflict):
            return {"conflict": list(outcome.paths)}
        return {"commit": outcome.commit, "previous": outcome.previous}

    async def _conflict(self, run: Run, current: int, paths: list[str]) -> Run:
        crew = self.crew
        target = crew.settings.target_branch
        report = ConflictReport(str(run.branch), target, tuple(paths))

        async def tell() -> dict[str, object]:
            await crew.record(lambda: crew.recorder.merge_conflict(run.ticket_id, report))
            worktree = crew.worktrees / str(run.workdir_id)
            left = await crew.integration.merge_into(worktree, await crew.integration.head())
            return {"paths": list(left)}

        await crew.step(run, "conflict", tell, round_=current)
        details = [f"conflicting path: {path}" for path in paths]
        return await self.steps.send_back(
            run, current + 1, FixReason.CONFLICT, details, phase=run.phase
        )

    async def _validate(self, run: Run) -> dict[str, object]:
        crew = self.crew
        commands = crew.settings.validation
        if crew.settings.ticket_validation:
            body = (await crew.record(lambda: crew.tickets.get(run.ticket_id))).body
            commands = (*commands, *ticket_commands(body))
        if not commands:
            return {"passed": True, "runs": [], "skipped": [], "details": []}
        if crew.sandbox is None:
            raise UnsupportedOperation("validation commands are configured but no sandbox is")
        common = await crew.integration.git_common_dir()
        wall = crew.settings.timeouts.validation
        try:
            async with asyncio.timeout(wall):  # all commands together
                result = await run_validation(
                    commands,
                    crew.integration.path,
                    crew.settings.validation_timeout,
                    crew.sandbox,
                    git_common_dir=common,
                )
        except TimeoutError:
            raise RunStalled(
                f"validation ran for more than {wall:g} s in all",
                details={"seconds": wall},
            ) from None
        logs = await asyncio.to_thread(_store_logs, crew, run, result)
        runs = [
            {
                "command": r.command,
                "exit_code": r.exit_code,
                "seconds": round(r.duration, 3),
                "log": log,
            }
            for r, log in zip(result.results, logs, strict=True)
        ]
        failure = result.failure
        details: list[str] = []
        if failure is not None:
            details = [failure.summary(), *failure.log.splitlines()[-_LOG_TAIL:]]
        return {
            "passed": result.passed,
            "runs": runs,
            "skipped": list(result.skipped),
            "details": details,
        }

    async def _integrate(
        self, run: Run, merged: Merged, checked: dict[str, object]
    ) -> dict[str, object]:
        crew = self.crew
        # the ticket's own commits: up to what was approved, not what merged on top since
        facts = await branch_facts(crew.integration.path, str(run.base_commit), merged.merged)
        runs = tuple(
            ValidationRun(
                str(item["command"]),
                item["exit_code"] if isinstance(item["exit_code"], int) else None,
                float(str(item["seconds"])),
                None if item.get("log") is None else str(item["log"]),
            )
            for item in _dicts(checked.get("runs"))
        )
        report = IntegrationReport(
            branch=str(run.branch),
            target=crew.settings.target_branch,
            merge=Commit(merged.commit, merge_message(run.ticket_id, "")),
            approved=merged.merged,
            commits=tuple(c for c in facts.commits if c.sha != merged.commit),
            validation=runs,
            skipped=tuple(_texts(checked.get("skipped"))),
        )
        await crew.record(lambda: crew.recorder.integration(run.ticket_id, report))
        return {"merge": merged.commit}

    # -- cleaning up -------------------------------------------------------------------

    async def clean_up(self, run: Run) -> Run:
        """Stop the workers one at a time, remove the workdir and its branch, say so."""
        crew = self.crew

        async def clean() -> dict[str, object]:
            host = crew.work_host()
            workers = []
            for worker in (run.coder_worker_id, run.reviewer_worker_id):
                if await retire(host, worker, "ticket done"):
                    workers.append(str(worker))
            kept: list[str] = []
            removed: list[Path] = []
            branches: list[str] = []
            if run.workdir_id is not None:
                try:
                    await host.delete_workdir(run.workdir_id)
                except WorkdirNotFound:
                    pass  # removed before a crash cut this step short: it is gone all the same
                except RuntimeUnavailable:
                    raise  # tried again once the runtime is back, not kept for good
                except YoiError as error:
                    kept.append(f"{run.workdir_id}: {error.message}")
                if not kept:
                    removed.append(Path(".worktree") / run.workdir_id)
                    branches.append(str(run.branch))
            cleanup = Cleanup(tuple(workers), tuple(removed), tuple(branches), tuple(kept))
            await crew.record(lambda: crew.recorder.cleanup(run.ticket_id, cleanup))
            return {"kept": kept}

        await crew.step(run, "cleanup", clean)
        return await crew.save(run.advance(Phase.DONE, at=crew.clock()))


async def _advance(crew: Crew, merged: Merged) -> dict[str, object]:
    crew.failpoints.reach(Failpoint.ADVANCE_BEFORE_MOVE)
    try:
        await crew.integration.advance(merged)
    except StateConflict:  # moved before a crash, and other tickets merged on top since?
        if not await crew.integration.holds(merged.commit):
            raise
    crew.failpoints.reach(Failpoint.ADVANCE_AFTER_MOVE)
    return {"head": merged.commit}


def _store_logs(crew: Crew, run: Run, result: ValidationResult) -> list[str | None]:
    """Each command's log as a ticket artifact; the names, relative to the artifacts."""
    folder = crew.tickets.root / run.ticket_id / "artifacts" / "validation"
    names: list[str | None] = []
    for index, command in enumerate(result.results, start=1):
        name = f"attempt-{run.attempt}-round-{len(crew.rounds(run, 'code')) - 1}-{index}.log"
        text = f"$ {command.command}\n{command.log}"
        try:
            _write(folder / name, text)
        except OSError:
            names.append(None)
            continue
        names.append(f"validation/{name}")
    return names


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"), OsDisk())


def _texts(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _dicts(value: object) -> list[dict[str, object]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
