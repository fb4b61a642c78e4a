"""The one error tree of yoi. Every error carries a stable ``code``.

Codes are part of the public contract (ARCHITECTURE §4.2): clients branch on
them, so a code never changes meaning once published. Messages are for people
and never carry secrets, URLs with credentials or tracebacks.

::

    YoiError                          internal
    ├── InvalidRequest                invalid_request
    │   ├── AddressInUse              address_in_use
    │   ├── LimitTooLarge             limit_too_large
    │   ├── InvalidCursor             invalid_cursor
    │   ├── InvalidProfile            invalid_profile
    │   ├── InvalidTicketId           invalid_ticket_id
    │   └── ConfigBundleDigestMismatch config_bundle_digest_mismatch
    ├── RouteNotFound                 not_found
    ├── MethodNotAllowed              method_not_allowed
    ├── PayloadTooLarge               payload_too_large
    ├── Unauthorized                  unauthorized
    ├── ForbiddenOrigin               forbidden_origin
    ├── ForbiddenHost                 forbidden_host
    ├── UnsupportedMediaType          unsupported_media_type
    ├── TicketNotFound                ticket_not_found
    ├── TicketUnreadable              ticket_unreadable
    ├── InvalidTransition             invalid_transition
    ├── StateConflict                 state_conflict
    ├── TicketBlocked                 ticket_blocked
    ├── DuplicateRelation             duplicate_relation
    ├── RelationCycle                 relation_cycle
    ├── WorkerNotFound                worker_not_found
    ├── RuntimeNotFound               runtime_not_found
    ├── ConfigBundleMissing           config_bundle_missing
    ├── DuplicateWorker               duplicate_worker
    ├── WorkerBusy                    worker_busy
    ├── WorkerStopped                 worker_stopped
    ├── WorkerProtected               worker_protected
    ├── WorkdirNotFound               workdir_not_found
    ├── WorkdirUnmerged               workdir_unmerged
    ├── WorkdirExists                 workdir_exists
    ├── WorkdirFailed                 workdir_failed
    ├── IntegrationBranchBusy         integration_branch_busy
    ├── RunStalled                    run_stalled
    ├── ApprovalNotFound              approval_not_found
    ├── WorkspaceMismatch             workspace_mismatch
    ├── CursorExpired                 cursor_expired
    ├── SlowConsumer                  slow_consumer
    ├── ObservationOnly               observation_only
    ├── UnsupportedOperation          unsupported_operation
    ├── RuntimeUnavailable            runtime_unavailable
    │   └── RuntimeTimeout            runtime_timeout
    ├── RuntimeAuthFailed             runtime_auth_failed
    ├── WorkerUnavailable             worker_unavailable
    ├── StoreError                    store_error
    │   ├── StoreCorrupt              store_corrupt
    │   ├── StoreMissing              store_missing
    │   ├── StoreLocked               store_locked
    │   ├── StoreFull                 store_full
    │   └── StoreTooNew               store_too_new
    ├── ModelUnavailable              model_unavailable
    ├── ScriptError                   script_error
    ├── ScopeError                    scope_denied
    └── ProviderError                 provider_error
        ├── ProviderRateLimited       provider_rate_limited   (transient)
        ├── ProviderServerError       provider_server_error   (transient)
        ├── ProviderConnectionError   provider_connection     (transient)
        ├── ProviderTimeout           provider_timeout        (transient)
        ├── ProviderStreamBroken      provider_stream_broken  (transient)
        ├── ProviderAuthError         provider_auth
        └── ProviderRequestRejected   provider_request_rejected
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

__all__ = [
    "AddressInUse",
    "ApprovalNotFound",
    "ConfigBundleDigestMismatch",
    "ConfigBundleMissing",
    "CursorExpired",
    "DuplicateRelation",
    "DuplicateWorker",
    "ForbiddenHost",
    "ForbiddenOrigin",
    "IntegrationBranchBusy",
    "InvalidCursor",
    "InvalidProfile",
    "InvalidRequest",
    "InvalidTicketId",
    "InvalidTransition",
    "LimitTooLarge",
    "MethodNotAllowed",
    "ModelUnavailable",
    "ObservationOnly",
    "PayloadTooLarge",
    "ProviderAuthError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRequestRejected",
    "ProviderServerError",
    "ProviderStreamBroken",
    "ProviderTimeout",
    "RelationCycle",
    "RouteNotFound",
    "RuntimeAuthFailed",
    "RuntimeNotFound",
    "RuntimeTimeout",
    "RunStalled",
    "RuntimeUnavailable",
    "ScopeError",
    "ScriptError",
    "SlowConsumer",
    "StateConflict",
    "StoreCorrupt",
    "StoreError",
    "StoreFull",
    "StoreLocked",
    "StoreMissing",
    "StoreTooNew",
    "TicketBlocked",
    "TicketNotFound",
    "TicketUnreadable",
    "Unauthorized",
    "UnsupportedMediaType",
    "UnsupportedOperation",
    "WorkerBusy",
    "WorkerNotFound",
    "WorkerProtected",
    "WorkerStopped",
    "WorkdirExists",
    "WorkdirFailed",
    "WorkdirNotFound",
    "WorkdirUnmerged",
    "WorkerUnavailable",
    "WorkspaceMismatch",
    "YoiError",
    "error_class",
]


class YoiError(Exception):
    """The root of every error yoi raises on purpose."""

    code: ClassVar[str] = "internal"

    def __init__(self, message: str, *, details: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, object] = dict(details or {})

    def to_dict(self) -> dict[str, object]:
        """The error as the JSON body of the ``{"error": ...}`` envelope."""
        return {"code": self.code, "message": self.message, "details": dict(self.details)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidRequest(YoiError):
    code = "invalid_request"


class AddressInUse(InvalidRequest):
    """A server cannot listen where it was asked to: another program listens there."""

    code = "address_in_use"


class LimitTooLarge(InvalidRequest):
    code = "limit_too_large"


class InvalidCursor(InvalidRequest):
    code = "invalid_cursor"


class InvalidProfile(InvalidRequest):
    code = "invalid_profile"


class ConfigBundleDigestMismatch(InvalidRequest):
    code = "config_bundle_digest_mismatch"


class RouteNotFound(YoiError):
    """No route of the API has this path."""

    code = "not_found"


class MethodNotAllowed(YoiError):
    code = "method_not_allowed"


class PayloadTooLarge(YoiError):
    code = "payload_too_large"


class Unauthorized(YoiError):
    code = "unauthorized"


class ForbiddenOrigin(YoiError):
    code = "forbidden_origin"


class ForbiddenHost(YoiError):
    """A request to a tokenless server named a host other than loopback or its bind address."""

    code = "forbidden_host"


class UnsupportedMediaType(YoiError):
    """A mutating request to the backend whose body is not declared ``application/json``."""

    code = "unsupported_media_type"


class InvalidTicketId(InvalidRequest):
    """A ticket id that is not 13 Crockford base-32 characters; it never becomes a path."""

    code = "invalid_ticket_id"


class TicketNotFound(YoiError):
    code = "ticket_not_found"


class TicketUnreadable(YoiError):
    """A ticket's files exist but cannot be read as a ticket (``yoi ticket doctor`` says why)."""

    code = "ticket_unreadable"


class InvalidTransition(YoiError):
    """A lifecycle move the ticket rules do not allow; the message names the allowed path."""

    code = "invalid_transition"


class StateConflict(YoiError):
    """A compare-and-set lost: the ticket is no longer in the state the change expected."""

    code = "state_conflict"


class TicketBlocked(YoiError):
    """The move waits for other tickets; ``details["blockers"]`` names each with its state."""

    code = "ticket_blocked"


class DuplicateRelation(YoiError):
    code = "duplicate_relation"


class RelationCycle(YoiError):
    """A ``depends_on`` or ``blocks`` relation that would close a cycle of tickets waiting for
    each other; ``details["cycle"]`` lists its ids in order."""

    code = "relation_cycle"


class WorkerNotFound(YoiError):
    code = "worker_not_found"


class RuntimeNotFound(YoiError):
    """The backend has no runtime by that id."""

    code = "runtime_not_found"


class ConfigBundleMissing(YoiError):
    code = "config_bundle_missing"


class DuplicateWorker(YoiError):
    code = "duplicate_worker"


class WorkerBusy(YoiError):
    code = "worker_busy"


class WorkerStopped(YoiError):
    code = "worker_stopped"


class WorkerProtected(YoiError):
    """An operation the worker refuses by its nature: the Companion is never stopped."""

    code = "worker_protected"


class WorkdirNotFound(YoiError):
    """The runtime holds no workdir by that id."""

    code = "workdir_not_found"


class WorkdirUnmerged(YoiError):
    """Deleting the workdir would drop commits no branch, tag or remote holds; ``force`` does
    it anyway. ``details["unmerged"]`` counts them."""

    code = "workdir_unmerged"


class WorkdirExists(YoiError):
    """A create request named a workdir id the runtime already holds."""

    code = "workdir_exists"


class WorkdirFailed(YoiError):
    """Git could not make or remove a workdir's worktree; the message carries git's reason."""

    code = "workdir_failed"


class IntegrationBranchBusy(YoiError):
    """The orchestrator's integration branch is checked out in a worktree other than its own
    (a person's checkout, say); the orchestrator would move it under them, so it refuses."""

    code = "integration_branch_busy"


class RunStalled(YoiError):
    """A worker's run gave no sign of life (no event, no tool call running) for longer than its
    phase's stall timeout; the orchestrator cancels it and tries again."""

    code = "run_stalled"


class ApprovalNotFound(YoiError):
    """The worker waits for no approval by that id: it never asked, or it was answered, timed
    out or cancelled with its run."""

    code = "approval_not_found"


class WorkspaceMismatch(YoiError):
    """The backend a client found on its own serves another workspace than the one it is in."""

    code = "workspace_mismatch"


class CursorExpired(YoiError):
    code = "cursor_expired"


class SlowConsumer(YoiError):
    code = "slow_consumer"


class ObservationOnly(YoiError):
    """A client sent an observation stream something other than ping or close."""

    code = "observation_only"


class UnsupportedOperation(YoiError):
    code = "unsupported_operation"


class RuntimeUnavailable(YoiError):
    code = "runtime_unavailable"


class RuntimeTimeout(RuntimeUnavailable):
    """The runtime did not answer in time; it may still have acted on the request."""

    code = "runtime_timeout"


class RuntimeAuthFailed(YoiError):
    """A runtime refused the backend's credential. The browser is never asked for it."""

    code = "runtime_auth_failed"


class WorkerUnavailable(YoiError):
    """The worker exists, but its stored state cannot be used (see the runtime's diagnostics)."""

    code = "worker_unavailable"


class StoreError(YoiError):
    """A store cannot do what was asked of it."""

    code = "store_error"


class StoreCorrupt(StoreError):
    """A stored record cannot be read, or belongs to another runtime or worker."""

    code = "store_corrupt"


class StoreMissing(StoreError):
    """A file the store needs is not there."""

    code = "store_missing"


class StoreLocked(StoreError):
    """Another process holds the store: a runtime root, or the ticket lock past its bounded wait."""

    code = "store_locked"


class StoreFull(StoreError):
    """The disk (or a quota) has no room for a write; it works again once space is freed."""

    code = "store_full"


class StoreTooNew(StoreError):
    """The store was written by a newer yoi, in a format this one does not know; upgrade yoi
    to open it. ``details`` names the store's ``version`` and the ``supported`` one."""

    code = "store_too_new"


class ModelUnavailable(YoiError):
    """A model was asked for that cannot be used here: unknown provider, SDK or key missing."""

    code = "model_unavailable"


class ScriptError(YoiError):
    """A scripted model was used in a way its script did not foresee."""

    code = "script_error"


class ScopeError(YoiError):
    """A tool reached for something its scope does not hold: a path outside the workdir or the
    grant, a link, git's internals, or a capability the grant lacks. The message says which."""

    code = "scope_denied"


class ProviderError(YoiError):
    """A model provider refused or failed a request.

    ``transient`` errors are worth retrying; the others are not.
    """

    code = "provider_error"
    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        merged = dict(details or {})
        if status is not None:
            merged["status"] = status
        super().__init__(message, details=merged)
        self.status = status


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    transient = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        details: Mapping[str, object] | None = None,
    ) -> None:
        merged = dict(details or {})
        if retry_after is not None:
            merged["retry_after"] = retry_after
        super().__init__(message, status=status, details=merged)
        self.retry_after = retry_after


class ProviderServerError(ProviderError):
    code = "provider_server_error"
    transient = True


class ProviderConnectionError(ProviderError):
    code = "provider_connection"
    transient = True


class ProviderTimeout(ProviderError):
    code = "provider_timeout"
    transient = True


class ProviderStreamBroken(ProviderError):
    code = "provider_stream_broken"
    transient = True


class ProviderAuthError(ProviderError):
    code = "provider_auth"


class ProviderRequestRejected(ProviderError):
    code = "provider_request_rejected"


def error_class(code: str) -> type[YoiError]:
    """The error class that carries ``code``; :class:`YoiError` for a code this version lacks.

    Clients use it to raise, from an error envelope, the same class the library raises.
    """
    return _BY_CODE.get(code, YoiError)


def _subclasses(root: type[YoiError]) -> list[type[YoiError]]:
    found = [root]
    for sub in root.__subclasses__():
        found.extend(_subclasses(sub))
    return found


_BY_CODE: dict[str, type[YoiError]] = {cls.code: cls for cls in _subclasses(YoiError)}
