"""A worker's approvals: the gate that applies its profile's permission rules to each tool call.

``deny`` refuses a call at once. ``ask`` holds it with an ``approval_requested``
event until a person answers (:meth:`Approvals.answer`), its timeout passes (a
denial, ``by: timeout``) or its run ends (a denial, ``by: cancelled``); each
ends with one ``approval_resolved``. Pending approvals belong to the run in
flight, so a worker's detail and a late observer's snapshot show them. They
live in memory only: after a restart there are none, as their run ended
``interrupted``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

from yoi.engine.messages import ToolCall
from yoi.engine.permissions import Action, PermissionRule, Rules
from yoi.engine.tool import ToolResult
from yoi.engine.tool_calls import truncate
from yoi.errors import ApprovalNotFound, InvalidRequest
from yoi.ids import IdGenerator, validate_id
from yoi.runtime.events import ApprovalRequested, ApprovalResolved, EventBody, format_time

__all__ = ["DECISIONS", "MAX_ARGUMENT_CHARS", "Approval", "ApprovalAck", "Approvals"]

DECISIONS = ("allow", "deny")
MAX_ARGUMENT_CHARS = 4_000
"""How much of a held call's arguments its event and views carry."""


@dataclass(frozen=True, slots=True)
class Approval:
    """A tool call waiting for a person's answer."""

    approval_id: str
    run_id: str
    call_id: str
    tool: str
    arguments: str
    rule: str
    expires_at: float

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "expires_at": format_time(self.expires_at)}

    def requested(self) -> ApprovalRequested:
        """The event that asked for this approval."""
        return ApprovalRequested(
            run_id=self.run_id,
            approval_id=self.approval_id,
            call_id=self.call_id,
            tool=self.tool,
            arguments=self.arguments,
            rule=self.rule,
            expires_at=format_time(self.expires_at),
        )


@dataclass(frozen=True, slots=True)
class ApprovalAck:
    approval_id: str
    decision: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class LiveRun(Protocol):
    """The run in flight, as far as approvals need it."""

    @property
    def run_id(self) -> str: ...

    @property
    def approvals(self) -> dict[str, Approval]: ...


class Host(Protocol):
    """The worker an :class:`Approvals` gate belongs to."""

    @property
    def worker_id(self) -> str: ...

    @property
    def live(self) -> LiveRun | None: ...

    def emit(self, body: EventBody) -> Awaitable[None]: ...


@dataclass(slots=True)
class _Waiting:
    approval: Approval
    run: LiveRun
    answer: asyncio.Future[tuple[str, str]]


class Approvals:
    """One worker's gate (an engine :class:`~yoi.engine.ToolGate`) and its pending approvals.

    The engine is built before its worker, so the worker is attached afterwards.
    """

    def __init__(self, rules: Rules, *, timeout: float, clock: Callable[[], float]) -> None:
        self.rules = rules
        self._timeout = timeout
        self._clock = clock
        self._ids = IdGenerator("ap-", clock=clock)
        self._host: Host | None = None
        self._waiting: dict[str, _Waiting] = {}

    def attach(self, host: Host) -> None:
        self._host = host

    async def admit(self, call: ToolCall, arguments: Mapping[str, object]) -> ToolResult | None:
        rule = self.rules.match(call.name, arguments)
        if rule is None or rule.action is Action.ALLOW:
            return None
        if rule.action is Action.DENY:
            return ToolResult(f"{call.name} refused by the rule {rule}", is_error=True)
        decision, by = await self._ask(call, rule)
        if decision == "allow":
            return None
        return ToolResult(self._denial(call.name, rule, by), is_error=True)

    async def answer(self, approval_id: str, decision: str) -> ApprovalAck:
        """Decide a pending approval; ``approval_not_found`` when none waits by that id."""
        validate_id(approval_id, field="approval_id")
        if decision not in DECISIONS:
            raise InvalidRequest("decision is allow or deny", details={"field": "decision"})
        durable = self._resolve(approval_id, decision, "person")
        if durable is None:
            where = "" if self._host is None else f" of worker {self._host.worker_id}"
            raise ApprovalNotFound(
                f"no approval {approval_id} is waiting{where}: it was answered, timed out, "
                "or its run ended",
                details={"approval_id": approval_id},
            )
        await durable
        return ApprovalAck(approval_id, decision)

    def cancel_all(self) -> None:
        """Deny every pending approval as ``cancelled``: their run is being ended."""
        for approval_id in list(self._waiting):
            self._resolve(approval_id, "deny", "cancelled")

    async def _ask(self, call: ToolCall, rule: PermissionRule) -> tuple[str, str]:
        run = None if self._host is None else self._host.live
        if self._host is None or run is None:
            return "deny", "cancelled"
        approval = Approval(
            approval_id=self._ids.new(),
            run_id=run.run_id,
            call_id=call.id,
            tool=call.name,
            arguments=truncate(call.arguments, MAX_ARGUMENT_CHARS)[0],
            rule=str(rule),
            expires_at=self._clock() + self._timeout,
        )
        answer: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
        self._waiting[approval.approval_id] = _Waiting(approval, run, answer)
        run.approvals[approval.approval_id] = approval
        self._host.emit(approval.requested())
        try:
            # Shielded: only _resolve settles the answer, whoever gets there first.
            async with asyncio.timeout(self._timeout):
                await asyncio.shield(answer)
        except TimeoutError:
            self._resolve(approval.approval_id, "deny", "timeout")
        except asyncio.CancelledError:
            self._resolve(approval.approval_id, "deny", "cancelled")
            raise
        return answer.result()

    def _resolve(self, approval_id: str, decision: str, by: str) -> Awaitable[None] | None:
        waiting = self._waiting.pop(approval_id, None)
        if waiting is None or self._host is None:
            return None
        waiting.run.approvals.pop(approval_id, None)
        waiting.answer.set_result((decision, by))
        run_id = waiting.approval.run_id
        return self._host.emit(ApprovalResolved(run_id, approval_id, decision, by))

    def _denial(self, tool: str, rule: PermissionRule, by: str) -> str:
        match by:
            case "person":
                why = "a person denied it"
            case "timeout":
                why = f"no one answered within {self._timeout:g}s, which counts as a denial"
            case _:
                why = "its run ended while it waited for approval"
        return f"{tool} was not run: {why} (rule {rule})"
