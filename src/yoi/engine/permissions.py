"""Permission rules: ``allow``, ``deny`` or ``ask`` for a tool call, by tool and argument pattern.

A rule's text form is one line, as profiles and config bundles write it::

    bash: "git push*" -> deny
    write_file: "docs/*" -> ask
    git_* -> allow

The tool is a name or an ``fnmatch`` pattern over names; the quoted pattern, a
JSON string, is matched (``fnmatch``, case-sensitive, ``*`` crossing ``/`` and
newlines) against the whole *subject* of the call; a rule without one matches
any arguments. The subject is the argument :data:`SUBJECTS` names for the tool
when it is a string (``bash`` → ``command``, file tools → ``path``), else the
compact JSON of all the arguments. The first rule that matches decides; with
none, the call is allowed.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from yoi.errors import InvalidRequest

__all__ = ["SUBJECTS", "Action", "PermissionRule", "Rules", "subject_of"]

SUBJECTS: Mapping[str, str] = {
    "bash": "command",
    "read_file": "path",
    "write_file": "path",
    "edit_file": "path",
    "list_files": "path",
    "glob": "pattern",
    "grep": "pattern",
    "git_show": "revision",
    "git_commit": "message",
}
"""The argument a rule's pattern is matched against, per tool."""

MAX_RULE_CHARS = 2_000

_TOOL = re.compile(r"[A-Za-z0-9_.*?-]{1,64}")
_HEAD = re.compile(r"\s*([A-Za-z0-9_.*?-]+?)\s*(?=:|->)")
_ARROW = re.compile(r"\s*->\s*([a-z]+)\s*")
_DECODER = json.JSONDecoder()


class Action(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    ASK = "ask"


@dataclass(frozen=True, slots=True)
class PermissionRule:
    """One rule; ``str(rule)`` is its canonical text, which :meth:`parse` reads back."""

    tool: str
    pattern: str | None
    action: Action

    def __post_init__(self) -> None:
        if not isinstance(self.tool, str) or _TOOL.fullmatch(self.tool) is None:
            raise _refused("the tool is a name or pattern of A-Z a-z 0-9 _ . - * ? (1 to 64)")
        if self.pattern is not None and not _is_text(self.pattern):
            raise _refused("the pattern is a string of Unicode text")
        if not isinstance(self.action, Action):
            raise _refused("the action is allow, deny or ask")
        if len(str(self)) > MAX_RULE_CHARS:
            raise _refused(f"a rule is at most {MAX_RULE_CHARS} characters")

    @classmethod
    def parse(cls, text: str) -> PermissionRule:
        """Read ``tool[: "pattern"] -> action``; anything else is ``invalid_request``."""
        if not isinstance(text, str):
            raise _refused('a rule is a string such as bash: "git push*" -> deny')
        if len(text) > MAX_RULE_CHARS:
            raise _refused(f"a rule is at most {MAX_RULE_CHARS} characters")
        head = _HEAD.match(text)
        if head is None:
            raise _refused("a rule starts with a tool name, then a quoted pattern or ->", text)
        tool, end = head.group(1), head.end()
        pattern: str | None = None
        if text.startswith(":", end):
            pattern, end = _quoted(text, end + 1)
        arrow = _ARROW.fullmatch(text, end)
        if arrow is None:
            raise _refused("a rule ends with -> allow, -> deny or -> ask", text)
        try:
            action = Action(arrow.group(1))
        except ValueError:
            raise _refused("the action is allow, deny or ask", text) from None
        return cls(tool, pattern, action)

    def matches(self, tool: str, arguments: Mapping[str, object]) -> bool:
        if not fnmatchcase(tool, self.tool):
            return False
        return self.pattern is None or fnmatchcase(subject_of(tool, arguments), self.pattern)

    def __str__(self) -> str:
        if self.pattern is None:
            return f"{self.tool} -> {self.action}"
        return f"{self.tool}: {_quote(self.pattern)} -> {self.action}"


@dataclass(frozen=True, slots=True)
class Rules:
    """A profile's rules, in order: the first that matches a call decides."""

    rules: tuple[PermissionRule, ...] = ()

    @classmethod
    def parse(cls, lines: Iterable[str]) -> Rules:
        """Rules from their text forms, one per item; a bad one is refused, naming its place."""
        parsed = []
        for index, line in enumerate(lines):
            try:
                parsed.append(PermissionRule.parse(line))
            except InvalidRequest as error:
                details = {**error.details, "index": index}
                raise InvalidRequest(
                    f"rule {index + 1}: {error.message}", details=details
                ) from None
        return cls(tuple(parsed))

    def lines(self) -> list[str]:
        return [str(rule) for rule in self.rules]

    def match(self, tool: str, arguments: Mapping[str, object]) -> PermissionRule | None:
        """The rule that decides this call, or None when none matches (it is allowed)."""
        return next((rule for rule in self.rules if rule.matches(tool, arguments)), None)

    def decide(self, tool: str, arguments: Mapping[str, object]) -> Action:
        rule = self.match(tool, arguments)
        return Action.ALLOW if rule is None else rule.action


def subject_of(tool: str, arguments: Mapping[str, object]) -> str:
    """What a rule's pattern is matched against for a call of ``tool``."""
    name = SUBJECTS.get(tool)
    value = None if name is None else arguments.get(name)
    if isinstance(value, str):
        return value
    return json.dumps(arguments, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _quote(pattern: str) -> str:
    """The pattern as a JSON string with every unprintable character escaped, so a rule
    stays one line however it is split (``str.splitlines`` also breaks at U+2028)."""
    return "".join(
        char if char.isprintable() else _escape(ord(char))
        for char in json.dumps(pattern, ensure_ascii=False)
    )


def _escape(code: int) -> str:
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The JSON string after ``tool:`` and where it ends."""
    at = len(text) - len(text[start:].lstrip())
    if not text.startswith('"', at):
        raise _refused('the pattern after ":" is a double-quoted string', text)
    try:
        value, end = _DECODER.raw_decode(text, at)
    except json.JSONDecodeError:
        raise _refused("the pattern is not a well-formed quoted string", text) from None
    return value, end


def _is_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refused(message: str, text: str | None = None) -> InvalidRequest:
    details: dict[str, object] = {"field": "permissions"}
    if text is not None:
        details["rule"] = text[:200]
    return InvalidRequest(f"bad permission rule: {message}", details=details)
