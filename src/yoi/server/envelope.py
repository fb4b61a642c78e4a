"""Errors on the wire: every failure is ``{"error": {code, message, details}}`` with its status.

The status of each code is ARCHITECTURE §4.2's table. An exception that is
not a :class:`~yoi.errors.YoiError` is a bug: it is logged here with its
traceback and answered 500 ``internal`` with a message that says nothing
about it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from yoi.errors import (
    InvalidRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
    YoiError,
)

__all__ = [
    "STATUS",
    "error_response",
    "install_error_handlers",
    "internal_error_response",
    "status_of",
]

log = logging.getLogger("yoi.server")

STATUS: Mapping[str, int] = {
    "invalid_request": 400,
    "address_in_use": 400,
    "limit_too_large": 400,
    "invalid_cursor": 400,
    "invalid_profile": 400,
    "config_bundle_digest_mismatch": 400,
    "invalid_ticket_id": 400,
    "unauthorized": 401,
    "forbidden_origin": 403,
    "forbidden_host": 403,
    "scope_denied": 403,
    "not_found": 404,
    "worker_not_found": 404,
    "runtime_not_found": 404,
    "config_bundle_missing": 404,
    "ticket_not_found": 404,
    "workdir_not_found": 404,
    "approval_not_found": 404,
    "method_not_allowed": 405,
    "duplicate_worker": 409,
    "worker_busy": 409,
    "worker_stopped": 409,
    "worker_protected": 409,
    "workspace_mismatch": 409,
    "invalid_transition": 409,
    "state_conflict": 409,
    "ticket_blocked": 409,
    "duplicate_relation": 409,
    "relation_cycle": 409,
    "workdir_unmerged": 409,
    "workdir_exists": 409,
    "run_stalled": 504,
    "integration_branch_busy": 409,
    "cursor_expired": 410,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "ticket_unreadable": 422,
    "internal": 500,
    "store_error": 500,
    "store_corrupt": 500,
    "store_missing": 500,
    "store_too_new": 500,
    "workdir_failed": 500,
    "unsupported_operation": 501,
    "runtime_auth_failed": 502,
    "runtime_unavailable": 503,
    "worker_unavailable": 503,
    "store_locked": 503,
    "model_unavailable": 503,
    "runtime_timeout": 504,
    "store_full": 507,
}


def status_of(error: YoiError) -> int:
    return STATUS.get(error.code, 502 if error.code.startswith("provider_") else 500)


def error_response(error: YoiError) -> JSONResponse:
    return JSONResponse({"error": error.to_dict()}, status_code=status_of(error))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(YoiError, _yoi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)


async def _yoi_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, YoiError)
    return error_response(error)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [_problem(item) for item in error.errors()]
    first = problems[0] if problems else {"field": "body", "message": "is not valid"}
    message = f"{first['field']}: {first['message']}"
    return error_response(InvalidRequest(message, details={"problems": problems}))


def _problem(item: Mapping[str, object]) -> dict[str, str]:
    """One validation problem, naming where and what, never echoing the value sent."""
    where = item.get("loc", ())
    parts = [str(part) for part in where] if isinstance(where, list | tuple) else []
    field = ".".join(parts[1:] if len(parts) > 1 else parts) or "body"
    return {"field": field, "message": str(item.get("msg", "is not valid"))}


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        return error_response(RouteNotFound(f"no route {request.url.path}"))
    if error.status_code == 405:
        return error_response(
            MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        )
    if error.status_code == 413:
        return error_response(PayloadTooLarge("the request body is too large"))
    if error.status_code == 400:
        return error_response(InvalidRequest("the request is malformed"))
    return error_response(YoiError("internal error"))


def internal_error_response(method: str, path: str, error: BaseException) -> JSONResponse:
    """Log a bug with its traceback; answer 500 ``internal`` without one."""
    log.error("unexpected error on %s %s", method, path, exc_info=error)
    return error_response(YoiError("internal error; the runtime's log has the details"))
