"""Reading a model's tool arguments: each value checked for its type and range, unknown
names refused, so an accepted call means exactly what its JSON says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["ArgumentError", "Arguments"]


class ArgumentError(Exception):
    """An argument is missing, unknown, of the wrong type or out of range."""


class Arguments:
    def __init__(self, values: Mapping[str, object]) -> None:
        self._values = values
        self._read: set[str] = set()

    def _get(self, name: str) -> object | None:
        self._read.add(name)
        return self._values.get(name)

    def string(self, name: str, *, default: str) -> str:
        value = self._get(name)
        return default if value is None else _text(name, value)

    def pattern(self, name: str) -> str:
        value = self._get(name)
        if value is None:
            raise ArgumentError(f"{name!r} is required")
        return _text(name, value)

    def glob(self, name: str, *, required: bool, negatable: bool = False) -> str | None:
        value = self._get(name)
        if value is None:
            if required:
                raise ArgumentError(f"{name!r} is required")
            return None
        text = _text(name, value)
        if not text:
            raise ArgumentError(f"{name!r} must not be empty")
        if text.startswith("!") and not negatable:
            raise ArgumentError(f"{name!r} must not start with '!'")
        return text

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.optional_integer(name, low, high)
        return default if value is None else value

    def optional_integer(self, name: str, low: int, high: int) -> int | None:
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ArgumentError(f"{name!r} must be an integer from {low} to {high}")
        return value

    def boolean(self, name: str) -> bool:
        value = self._get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ArgumentError(f"{name!r} must be true or false")
        return value

    def choice(self, name: str, options: Sequence[str]) -> str:
        value = self._get(name)
        if value is None:
            return options[0]
        if not isinstance(value, str) or value not in options:
            raise ArgumentError(f"{name!r} must be one of {', '.join(options)}")
        return value

    def done(self) -> None:
        """Refuse names the tool does not know (a misspelt option must not be ignored)."""
        unknown = sorted(set(self._values) - self._read)
        if unknown:
            raise ArgumentError(f"unknown argument(s): {', '.join(map(repr, unknown))}")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ArgumentError(f"{name!r} must be a string")
    if "\x00" in value:
        raise ArgumentError(f"{name!r} must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ArgumentError(f"{name!r} must be valid Unicode (no lone surrogates)") from None
    return value
