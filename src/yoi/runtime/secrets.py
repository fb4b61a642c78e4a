"""Refusing values that must never travel in shared configuration.

A config bundle is synced between hosts and shown to people, so it may name a
secret (``api_key_env = "OPENAI_API_KEY"``) but never hold one. The checks are
deliberately conservative: a value that merely *looks like* a credential, a
URL carrying credentials, or an absolute path on some host is refused, and the
message names the field, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from yoi.errors import InvalidRequest

__all__ = ["find_leak", "refuse_leaks"]

_SECRET_VALUES = (
    re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"),  # OpenAI, Anthropic
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),  # Slack
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API key
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),  # Hugging Face
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*"),
)
_CREDENTIAL_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/@:]+(?::[^\s/@]*)?@")
_LOCAL_PATH = re.compile(r"(?:^|[\s\"'(=])(?:~/|/(?:home|Users|root)/|[A-Za-z]:\\)")
_SECRET_KEY = re.compile(r"(?:secret|token|password|passwd|api[_-]?key|credential|private[_-]?key)")
_REFERENCE_KEY = re.compile(r"_(?:env|ref|name)$")


def find_leak(value: object, where: str = "") -> str | None:
    """Where in ``value`` something secret-looking sits, with what kind; None if clean."""
    for path, key, text in _walk(value, where):
        problem = _problem(key, text)
        if problem is not None:
            return f"{path or 'the value'} {problem}"
    return None


def refuse_leaks(value: object, where: str = "") -> None:
    """Raise ``invalid_request`` if :func:`find_leak` finds anything."""
    leak = find_leak(value, where)
    if leak is not None:
        raise InvalidRequest(
            f"{leak}; name secrets by reference (an environment variable), never by value",
            details={"field": leak.split(" ", 1)[0]},
        )


def _problem(key: str, text: str) -> str | None:
    if any(pattern.search(text) for pattern in _SECRET_VALUES):
        return "looks like a secret value"
    if _CREDENTIAL_URL.search(text):
        return "holds a URL with credentials"
    if _LOCAL_PATH.search(text) or (key != "prompt" and text.startswith("/")):
        return "holds an absolute local path"
    if text and _SECRET_KEY.search(key.lower()) and not _REFERENCE_KEY.search(key.lower()):
        return "is named like a secret; give the name of an environment variable instead"
    return None


def _walk(value: object, path: str, key: str = "") -> Iterator[tuple[str, str, str]]:
    if isinstance(value, str):
        yield path, key, value
    elif isinstance(value, Mapping):
        for name, item in value.items():
            yield path, "", str(name)  # a name can leak too; it is reported by its parent
            yield from _walk(item, f"{path}.{name}" if path else str(name), str(name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]", key)
