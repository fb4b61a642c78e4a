import pytest

from yoi.errors import InvalidRequest
from yoi.ids import ID_PATTERN, IdGenerator, validate_id


@pytest.mark.parametrize("value", ["a", "0", "worker-1", "w.x_y-z", "a" * 64])
def test_valid_ids_pass(value: str) -> None:
    assert validate_id(value) == value


@pytest.mark.parametrize(
    "value", ["", "A", "-a", ".a", "a b", "a/b", "../x", "a" * 65, "é", None, 7, "a\n"]
)
def test_invalid_ids_are_refused(value: object) -> None:
    with pytest.raises(InvalidRequest) as raised:
        validate_id(value, field="worker_id")
    assert raised.value.details == {"field": "worker_id"}


def test_generated_ids_are_valid_unique_and_sorted_even_within_one_millisecond() -> None:
    frozen = IdGenerator("w", clock=lambda: 1_700_000_000.0)
    ids = [frozen.new() for _ in range(5000)]
    assert all(ID_PATTERN.fullmatch(i) for i in ids)
    assert len(set(ids)) == 5000
    assert ids == sorted(ids)


def test_a_clock_that_goes_backwards_does_not_break_the_order() -> None:
    times = iter([2.0, 1.0, 3.0])
    generator = IdGenerator("r", clock=lambda: next(times))
    ids = [generator.new() for _ in range(3)]
    assert ids == sorted(ids)
