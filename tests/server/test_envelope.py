import inspect

import yoi.errors
from yoi.errors import YoiError
from yoi.server.envelope import STATUS, status_of

# Codes that never become an HTTP response's status: the stream errors end a WebSocket or
# an event stream already under way, and a script error is raised only by the scripted
# model of the tests.
NOT_HTTP = {"slow_consumer", "observation_only", "script_error"}


def error_classes() -> list[type[YoiError]]:
    return [
        value
        for value in vars(yoi.errors).values()
        if inspect.isclass(value) and issubclass(value, YoiError)
    ]


def test_every_error_code_has_an_http_status() -> None:
    unmapped = {
        cls.code
        for cls in error_classes()
        if cls.code not in STATUS
        and cls.code not in NOT_HTTP
        and not cls.code.startswith("provider_")
    }
    assert unmapped == set()


def test_provider_codes_are_a_bad_gateway_and_scope_denied_is_forbidden() -> None:
    for cls in error_classes():
        if cls.code.startswith("provider_") and cls.code not in STATUS:
            assert status_of(cls("upstream said no")) == 502, cls
    assert status_of(yoi.errors.ScopeError("'src' is outside the granted paths")) == 403
