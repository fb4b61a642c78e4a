from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.errors import InvalidRequest
from yoi.tools._arguments import ArgumentError, Arguments

NAMES = ["text", "content", "count", "seconds", "flag", "paths", "mode", "extra"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 13) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=5,
)
VALUES = st.dictionaries(
    st.sampled_from(NAMES),
    JSON
    | st.sampled_from(["a", "b", "a\x00b", "\ud800", ["x", "y"], ["x\x00"], ["\udfff"]])
    | st.sampled_from([10**400, -(10**400), 600, 600.5, 0.0, 1e-300, float("inf")]),
)


def read(arguments: Arguments) -> tuple[object, ...]:
    values = (
        arguments.optional_string("text"),
        arguments.required_string("content", nul=True),
        arguments.integer("count", 5, 1, 10),
        arguments.number("seconds", 1.5, above=0, most=600),
        arguments.boolean("flag"),
        arguments.strings("paths", most=3),
        arguments.choice("mode", ("a", "b")),
    )
    arguments.done()
    return values


def expected(values: Mapping[str, object], null_is_absent: bool) -> tuple[object, ...] | None:
    """An independent statement of what the reader accepts, and what it then means."""
    given = {
        name: value for name, value in values.items() if not (value is None and null_is_absent)
    }

    def text(value: object, nul: bool = False) -> bool:
        return (
            isinstance(value, str)
            and (nul or "\x00" not in value)
            and not any(0xD800 <= ord(char) <= 0xDFFF for char in value)
        )

    count, paths = given.get("count", 5), given.get("paths", [])
    seconds = given.get("seconds", 1.5)
    checks = [
        "extra" not in given,
        "text" not in given or text(given["text"]),
        "content" in given and text(given["content"], nul=True),
        type(count) is int and 1 <= count <= 10,
        isinstance(seconds, int | float) and type(seconds) is not bool and 0 < seconds <= 600,
        type(given.get("flag", False)) is bool,
        isinstance(paths, list) and len(paths) <= 3 and all(map(text, paths)),
        given.get("mode", "a") in ("a", "b"),
    ]
    if not all(checks):
        return None
    mode = given.get("mode", "a")
    flag = given.get("flag", False)
    return (given.get("text"), given["content"], count, seconds, flag, paths, mode)


@given(values=VALUES, null_is_absent=st.booleans(), quote_names=st.booleans())
def test_any_arguments_are_read_exactly_or_refused(
    values: dict[str, object], null_is_absent: bool, quote_names: bool
) -> None:
    arguments = Arguments(values, quote_names=quote_names, null_is_absent=null_is_absent)
    meaning = expected(values, null_is_absent)
    if meaning is None:
        with pytest.raises(ArgumentError) as refused:
            read(arguments)
        assert "\n" not in refused.value.message
    else:
        assert read(arguments) == meaning


def test_null_is_absent_or_refused_as_the_tool_chose() -> None:
    assert Arguments({"count": None}).integer("count", 5, 1, 10) == 5
    strict = Arguments({"count": None}, null_is_absent=False)
    with pytest.raises(ArgumentError, match="'count' must be an integer from 1 to 10"):
        strict.integer("count", 5, 1, 10)


@pytest.mark.parametrize(
    ("quote_names", "required", "unknown"),
    [
        (True, "'content' is required", "unknown argument(s): 'extra'"),
        (False, "content is required", "unknown arguments: 'extra'"),
    ],
)
def test_both_wordings_name_the_argument(quote_names: bool, required: str, unknown: str) -> None:
    with pytest.raises(ArgumentError) as missing:
        Arguments({}, quote_names=quote_names).required_string("content")
    assert missing.value.message == required
    extra = Arguments({"extra": 1}, quote_names=quote_names)
    with pytest.raises(ArgumentError) as refused:
        extra.done()
    assert refused.value.message == unknown


def test_a_refusal_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest) as refused:
        Arguments({"paths": ["a"] * 4}).strings("paths", most=3)
    assert refused.value.code == "invalid_request"
    assert refused.value.message == "'paths' has 4 items; at most 3"
