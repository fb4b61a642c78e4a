import inspect

import yoi.errors
from yoi.errors import ProviderRateLimited, WorkerBusy, YoiError


def error_classes() -> list[type[YoiError]]:
    return [
        value
        for value in vars(yoi.errors).values()
        if inspect.isclass(value) and issubclass(value, YoiError)
    ]


def test_every_code_is_unique_and_named_in_the_module_tree() -> None:
    codes = [cls.code for cls in error_classes()]
    assert len(codes) == len(set(codes))
    doc = yoi.errors.__doc__ or ""
    for cls in error_classes():
        assert cls.__name__ in doc, cls
        assert cls.code in doc, cls


def test_the_contract_codes_exist() -> None:
    contract = {
        "invalid_request",
        "limit_too_large",
        "invalid_cursor",
        "invalid_profile",
        "config_bundle_digest_mismatch",
        "unauthorized",
        "forbidden_origin",
        "worker_not_found",
        "config_bundle_missing",
        "duplicate_worker",
        "worker_busy",
        "worker_stopped",
        "payload_too_large",
        "unsupported_operation",
        "runtime_unavailable",
        "internal",
        "cursor_expired",
        "slow_consumer",
    }
    assert contract <= {cls.code for cls in error_classes()}


def test_errors_render_as_the_wire_envelope() -> None:
    error = WorkerBusy("worker w1 is running", details={"queued": 2})
    assert error.to_dict() == {
        "code": "worker_busy",
        "message": "worker w1 is running",
        "details": {"queued": 2},
    }
    limited = ProviderRateLimited("slow down", retry_after=3.0)
    assert limited.details == {"retry_after": 3.0, "status": 429}
    assert limited.transient
