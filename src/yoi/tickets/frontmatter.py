"""``item.md``: YAML front matter between ``---`` lines, a blank line, then the Markdown body.

Reading is lenient: single- or double-quoted values, bare timestamps, the
legacy ``workflow_state`` and ``status`` fields as a fallback for ``state``,
and the legacy state ``intake`` as ``planning``. YAML is only ever loaded
safely, so tags construct nothing.

Writing never re-serialises the mapping. A new item is written in the
canonical key order with single-quoted values; a field update rewrites only
that field's line (or inserts it before the closing ``---``), so every other
byte of a hand-written file survives. A value holding a character YAML
folds or refuses inside single quotes (a control character, ``\\x85``,
``\\u2028``, ``\\u2029``, a BOM) is double-quoted with escapes instead, so
each value stays on its one line and reads back exactly. An update whose
result would not read back to the old fields with the new values (a
hand-written file with a duplicate key, a value over several lines that
looks like a key) is refused rather than written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from yoi.tickets.model import Meta, State

__all__ = [
    "FIELD_ORDER",
    "FrontMatterError",
    "Item",
    "format_value",
    "parse_item",
    "render_item",
    "set_fields",
]

FIELD_ORDER = (
    "title",
    "state",
    "created_at",
    "updated_at",
    "assignee",
    "readiness",
    "risk_flags",
    "queued_by",
    "queued_at",
    "priority",
)

_LEGACY_STATUS = {"closed": State.CLOSED, "done": State.DONE}
# Line breaks to YAML, and code points its reader refuses or drops.
_FOLDED = frozenset("\u2028\u2029\ufeff\ufffe\uffff")

Value = str | None | Sequence[str]


class FrontMatterError(ValueError):
    """``item.md`` is not front matter the ticket format can read; the message says where."""


@dataclass(frozen=True, slots=True)
class Item:
    meta: Meta
    body: str
    fields: Mapping[str, object]


def parse_item(text: str) -> Item:
    """Read ``item.md``; raises :class:`FrontMatterError` with a reason a person can act on."""
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    close = _closing_line(lines)
    loaded = _load("".join(lines[1:close]))
    body = "".join(lines[close + 1 :])
    if body.startswith("\r\n"):
        body = body[2:]
    elif body.startswith("\n"):
        body = body[1:]
    return Item(meta=_meta(loaded), body=body, fields=loaded)


def render_item(meta: Meta, body: str) -> str:
    """A new ``item.md`` in the canonical order; absent optional fields are left out."""
    values: dict[str, Value] = {
        "title": meta.title,
        "state": meta.state.value,
        "created_at": meta.created_at,
        "updated_at": meta.updated_at,
        "assignee": meta.assignee,
    }
    optional: dict[str, Value] = {
        "readiness": meta.readiness,
        "risk_flags": list(meta.risk_flags) or None,
        "queued_by": meta.queued_by,
        "queued_at": meta.queued_at,
        "priority": meta.priority,
    }
    values.update({key: value for key, value in optional.items() if value is not None})
    head = "".join(f"{key}: {format_value(value)}\n" for key, value in values.items())
    text = body if not body or body.endswith("\n") else body + "\n"
    return f"---\n{head}---\n\n{text}"


def set_fields(text: str, updates: Mapping[str, Value]) -> str:
    """``text`` with each field's lines replaced, or inserted before the closing ``---``.

    Raises :class:`FrontMatterError` when the result would not read back as
    the fields of ``text`` with ``updates`` applied.
    """
    changed = _replaced(text, updates)
    expected = {**_fields(text), **{key: _loaded(value) for key, value in updates.items()}}
    try:
        intact = _fields(changed) == expected
    except FrontMatterError:
        intact = False
    if not intact:
        raise FrontMatterError(
            "item.md's front matter cannot be updated in place without changing another "
            "field; run `yoi ticket doctor` and fix it by hand"
        )
    return changed


def _replaced(text: str, updates: Mapping[str, Value]) -> str:
    lines = text.splitlines(keepends=True)
    close = _closing_line(lines)
    newline = "\r\n" if lines[close].endswith("\r\n") else "\n"
    for key, value in updates.items():
        line = f"{key}: {format_value(value)}{newline}"
        start = _field_line(lines, close, key)
        if start is None:
            lines.insert(close, line)
            close += 1
            continue
        end = _field_end(lines, start, close)
        lines[start:end] = [line]
        close -= end - start - 1
    return "".join(lines)


def format_value(value: Value) -> str:
    """A YAML scalar on one line: ``null``, ``'single-quoted'``, ``"escaped"`` or a flow list."""
    if value is None:
        return "null"
    if isinstance(value, str):
        if any(_escaped(char) for char in value):
            return '"' + "".join(_escape(char) for char in value) + '"'
        return "'" + value.replace("'", "''") + "'"
    return "[" + ", ".join(format_value(item) for item in value) + "]"


def _escaped(char: str) -> bool:
    """Whether YAML would fold, drop or refuse ``char`` inside single quotes."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or char in _FOLDED


def _escape(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    if not _escaped(char):
        return char
    return f"\\x{ord(char):02X}" if ord(char) <= 0xFF else f"\\u{ord(char):04X}"


def _loaded(value: Value) -> object:
    return list(value) if value is not None and not isinstance(value, str) else value


def _fields(text: str) -> dict[str, object]:
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    return _load("".join(lines[1 : _closing_line(lines)]))


def _closing_line(lines: list[str]) -> int:
    if not lines or lines[0].removeprefix("\ufeff").rstrip("\r\n") != "---":
        raise FrontMatterError("item.md does not start with a '---' front matter line")
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") == "---":
            return index
    raise FrontMatterError("item.md's front matter has no closing '---' line")


def _field_line(lines: list[str], close: int, key: str) -> int | None:
    for index in range(1, close):
        name, colon, _ = lines[index].partition(":")
        if colon and name == key:
            return index
    return None


def _field_end(lines: list[str], start: int, close: int) -> int:
    """One past the last line of the field at ``start``: its indented or ``- `` continuations."""
    end = start + 1
    while end < close and lines[end][:1] in (" ", "\t", "-") and lines[end].strip():
        end += 1
    return end


def _load(source: str) -> dict[str, object]:
    import yaml  # here, not on top: a listing served from the read cache never parses YAML

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        loaded = yaml.load(source, Loader=loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise FrontMatterError(f"item.md's front matter is not readable YAML{where}") from None
    except RecursionError:
        raise FrontMatterError("item.md's front matter nests too deeply") from None
    except (ValueError, TypeError, AttributeError, OverflowError):
        # The safe loader still lets a bad ``!!int`` or an impossible date raise plainly.
        raise FrontMatterError("item.md's front matter holds a value YAML cannot read") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict) or not all(isinstance(key, str) for key in loaded):
        raise FrontMatterError("item.md's front matter is not a mapping of field names")
    return loaded


def _meta(fields: Mapping[str, object]) -> Meta:
    created = _time(fields, "created_at")
    return Meta(
        title=_required_text(fields, "title"),
        state=_state(fields),
        created_at=created,
        updated_at=_time(fields, "updated_at") if "updated_at" in fields else created,
        assignee=_optional_text(fields, "assignee"),
        readiness=_optional_text(fields, "readiness"),
        risk_flags=_flags(fields),
        queued_by=_optional_text(fields, "queued_by"),
        queued_at=_optional_time(fields, "queued_at"),
        priority=_optional_text(fields, "priority"),
    )


def _state(fields: Mapping[str, object]) -> State:
    for key in ("state", "workflow_state", "status"):
        raw = fields.get(key)
        if raw is None:
            continue
        if not isinstance(raw, str):
            raise FrontMatterError(f"item.md's {key} is not a string")
        if raw == "intake":
            return State.PLANNING
        if key == "status":
            return _LEGACY_STATUS.get(raw, State.PLANNING)
        try:
            return State(raw)
        except ValueError:
            allowed = ", ".join(state.value for state in State)
            raise FrontMatterError(f"item.md's {key} {raw!r} is not one of {allowed}") from None
    raise FrontMatterError("item.md has no state field")


def _required_text(fields: Mapping[str, object], key: str) -> str:
    value = _optional_text(fields, key)
    if value is None or not value.strip():
        raise FrontMatterError(f"item.md has no {key}")
    return value


def _optional_text(fields: Mapping[str, object], key: str) -> str | None:
    value = fields.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FrontMatterError(f"item.md's {key} is not a string")
    return str(value)


def _time(fields: Mapping[str, object], key: str) -> str:
    value = _optional_time(fields, key)
    if value is None:
        raise FrontMatterError(f"item.md has no {key}")
    return value


def _optional_time(fields: Mapping[str, object], key: str) -> str | None:
    value = fields.get(key)
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%dT00:00:00Z")
    if value is None or isinstance(value, str):
        return value
    raise FrontMatterError(f"item.md's {key} is not a timestamp")


def _flags(fields: Mapping[str, object]) -> tuple[str, ...]:
    value = fields.get("risk_flags")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(flag, str) for flag in value):
        raise FrontMatterError("item.md's risk_flags is not a list of strings")
    return tuple(value)
