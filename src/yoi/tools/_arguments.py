"""Reading a model's tool arguments: each value checked for its type and range, unknown
names refused, so an accepted call means exactly what its JSON says.

Every tool module reads its arguments here. Two wordings exist because tools published
their refusals before they shared a reader: the search tools and ``bash`` quote a name
(``'limit' must be …``), the file and git tools name it bare (``limit must be …``). A
``null`` for a required value is "required"; for an optional one the search and git tools
take it as absent (models in strict schema modes send it so), the file tools and ``bash``
refuse it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from yoi.errors import InvalidRequest

__all__ = ["ArgumentError", "Arguments"]


class ArgumentError(InvalidRequest):
    """An argument is missing, unknown, of the wrong type or out of range."""


class _Absent:
    """The value of an argument the call does not give."""


_ABSENT: Final = _Absent()


class Arguments:
    def __init__(
        self,
        values: Mapping[str, object],
        *,
        quote_names: bool = True,
        null_is_absent: bool = True,
    ) -> None:
        self._values = values
        self._read: set[str] = set()
        self._quote = quote_names
        self._null_is_absent = null_is_absent

    def _get(self, name: str) -> object:
        self._read.add(name)
        value = self._values.get(name, _ABSENT)
        return _ABSENT if value is None and self._null_is_absent else value

    def _named(self, name: str) -> str:
        return repr(name) if self._quote else name

    def _required(self, name: str) -> ArgumentError:
        return ArgumentError(f"{self._named(name)} is required")

    def string(self, name: str, *, default: str) -> str:
        value = self.optional_string(name)
        return default if value is None else value

    def required_string(self, name: str, *, nul: bool = False) -> str:
        """A string that must be given; ``nul`` lets it hold NUL characters (file content)."""
        value = self._get(name)
        if value is _ABSENT or value is None:  # a null for a required value is no value
            raise self._required(name)
        return self._text(name, value, nul=nul)

    def optional_string(self, name: str) -> str | None:
        value = self._get(name)
        return None if value is _ABSENT else self._text(name, value)

    def strings(self, name: str, *, most: int) -> list[str]:
        """An array of at most ``most`` strings; absent is the empty list."""
        value = self._get(name)
        if value is _ABSENT:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ArgumentError(f"{self._named(name)} must be an array of strings")
        if len(value) > most:
            raise ArgumentError(f"{self._named(name)} has {len(value)} items; at most {most}")
        return [self._text(f"{name}[{index}]", item) for index, item in enumerate(value)]

    def glob(self, name: str, *, required: bool, negatable: bool = False) -> str | None:
        text = self.required_string(name) if required else self.optional_string(name)
        if text is None:
            return None
        if not text:
            raise ArgumentError(f"{self._named(name)} must not be empty")
        if text.startswith("!") and not negatable:
            raise ArgumentError(f"{self._named(name)} must not start with '!'")
        return text

    def integer(self, name: str, default: int, low: int, high: int | None) -> int:
        value = self.optional_integer(name, low, high)
        return default if value is None else value

    def optional_integer(self, name: str, low: int, high: int | None) -> int | None:
        """An integer from ``low`` to ``high`` (no upper bound when ``high`` is None)."""
        value = self._get(name)
        if value is _ABSENT:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            bound = f"of at least {low}" if high is None else f"from {low} to {high}"
            raise ArgumentError(f"{self._named(name)} must be an integer {bound}")
        return value

    def number(self, name: str, default: float, *, above: float, most: float) -> float:
        """A JSON number more than ``above`` and at most ``most``, as a float."""
        value = self._get(name)
        if value is _ABSENT:
            return default
        # compared before any conversion: a JSON integer may be too large for a float, and
        # with finite bounds NaN and the infinities fail the comparison
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not above < value <= most
        ):
            raise ArgumentError(
                f"{self._named(name)} must be a number more than {above:g} and at most {most:g}"
            )
        return float(value)

    def boolean(self, name: str, *, default: bool = False) -> bool:
        value = self._get(name)
        if value is _ABSENT:
            return default
        if not isinstance(value, bool):
            raise ArgumentError(f"{self._named(name)} must be true or false")
        return value

    def choice(self, name: str, options: Sequence[str]) -> str:
        value = self._get(name)
        if value is _ABSENT:
            return options[0]
        if not isinstance(value, str) or value not in options:
            raise ArgumentError(f"{self._named(name)} must be one of {', '.join(options)}")
        return value

    def done(self) -> None:
        """Refuse names the tool does not know (a misspelt option must not be ignored)."""
        unknown = sorted(str(name) for name in self._values if name not in self._read)
        if unknown:
            what = "unknown argument(s)" if self._quote else "unknown arguments"
            raise ArgumentError(f"{what}: {', '.join(map(repr, unknown))}")

    def _text(self, name: str, value: object, *, nul: bool = False) -> str:
        if not isinstance(value, str):
            raise ArgumentError(f"{self._named(name)} must be a string")
        if not nul and "\x00" in value:
            raise ArgumentError(f"{self._named(name)} must not contain a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: JSON allows it, no file or text can
            raise ArgumentError(
                f"{self._named(name)} is not valid Unicode (it holds lone surrogates)"
            ) from None
        return value
