"""The demo's project: a small program in a new git repository and three tickets to change it.

The program greets (``greet.py``, tested by ``test_greet.py`` with ``unittest``). Each ticket
spells its files out whole in blocks (``<<< path`` … ``>>>``), which the demo playbook model
writes as they are and a real model reads as the work to do: the first teaches ``greet`` two
more languages, the second adds a farewell (and asks, by a ``Demo:`` line, for one review
round, answered by its ``<<<fix`` block), the third lists the languages and depends on the
first.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from yoi.errors import InvalidRequest
from yoi.tickets import State, TicketStore
from yoi.tickets.model import RelationKind

__all__ = [
    "DEMO_AUTHOR",
    "DEMO_TICKETS",
    "DemoTicket",
    "make_demo_repository",
    "queue_demo_tickets",
]

DEMO_AUTHOR = "demo"
_GIT_AUTHOR = {
    "GIT_AUTHOR_NAME": "yoi demo",
    "GIT_AUTHOR_EMAIL": "demo@yoi.invalid",
    "GIT_COMMITTER_NAME": "yoi demo",
    "GIT_COMMITTER_EMAIL": "demo@yoi.invalid",
}

GREET = '''"""Greets people: the program of yoi's orchestrator demo."""

import sys


def greet(name: str) -> str:
    return f"Hello, {name}!"


if __name__ == "__main__":
    print(greet(sys.argv[1] if len(sys.argv) > 1 else "world"))
'''

TEST_GREET = """import unittest

from greet import greet


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self) -> None:
        self.assertEqual(greet("Ada"), "Hello, Ada!")


if __name__ == "__main__":
    unittest.main()
"""

_LANGUAGES_GREET = '''"""Greets people: the program of yoi's orchestrator demo."""

import sys

GREETINGS = {"en": "Hello", "fr": "Bonjour", "es": "Hola"}


def greet(name: str, language: str = "en") -> str:
    if language not in GREETINGS:
        raise ValueError(f"no greeting in {language!r}")
    return f"{GREETINGS[language]}, {name}!"
{extra}

if __name__ == "__main__":
    print(greet(*sys.argv[1:3]) if len(sys.argv) > 1 else greet("world"))
'''

_LANGUAGES_TEST = """import unittest

from greet import greet


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self) -> None:
        self.assertEqual(greet("Ada"), "Hello, Ada!")

    def test_greets_in_french_and_spanish(self) -> None:
        self.assertEqual(greet("Ada", "fr"), "Bonjour, Ada!")
        self.assertEqual(greet("Ada", "es"), "Hola, Ada!")

    def test_refuses_an_unknown_language(self) -> None:
        with self.assertRaises(ValueError):
            greet("Ada", "xx")


if __name__ == "__main__":
    unittest.main()
"""

_LIST = """

def languages() -> list[str]:
    return sorted(GREETINGS)
"""

_TEST_LIST = """import unittest

from greet import languages


class LanguagesTest(unittest.TestCase):
    def test_lists_every_language_in_order(self) -> None:
        self.assertEqual(languages(), ["en", "es", "fr"])


if __name__ == "__main__":
    unittest.main()
"""

_FAREWELL = '''"""Says goodbye."""


def farewell(name: str) -> str:
    return f"Goodbye, {name}!"
'''

_TEST_FAREWELL = """import unittest

from farewell import farewell


class FarewellTest(unittest.TestCase):
    def test_says_goodbye_by_name(self) -> None:
        self.assertEqual(farewell("Ada"), "Goodbye, Ada!"){more}


if __name__ == "__main__":
    unittest.main()
"""

_MORE_FAREWELL = """

    def test_says_goodbye_to_anyone(self) -> None:
        self.assertEqual(farewell("world"), "Goodbye, world!")"""


def _block(path: str, content: str, *, fix: bool = False) -> str:
    return f"<<<{'fix' if fix else ''} {path}\n{content}>>>\n"


@dataclass(frozen=True, slots=True)
class DemoTicket:
    title: str
    body: str
    depends_on: int | None = None
    """The index in :data:`DEMO_TICKETS` of the ticket this one waits for."""


DEMO_TICKETS = (
    DemoTicket(
        "Greet in French and Spanish too",
        "greet() takes a language: en (the default), fr or es; any other is a ValueError.\n\n"
        + _block("greet.py", _LANGUAGES_GREET.replace("{extra}", ""))
        + _block("test_greet.py", _LANGUAGES_TEST),
    ),
    DemoTicket(
        "Say goodbye",
        "A farewell() next to greet(), with its test.\nDemo: request changes once\n\n"
        + _block("farewell.py", _FAREWELL)
        + _block("test_farewell.py", _TEST_FAREWELL.replace("{more}", ""))
        + _block("test_farewell.py", _TEST_FAREWELL.replace("{more}", _MORE_FAREWELL), fix=True),
    ),
    DemoTicket(
        "List the languages greet knows",
        "languages() lists the language codes greet() takes, sorted.\n\n"
        + _block("greet.py", _LANGUAGES_GREET.replace("{extra}", _LIST))
        + _block("test_languages.py", _TEST_LIST),
        depends_on=0,
    ),
)


def make_demo_repository(root: Path) -> Path:
    """A new git repository at ``root`` (absent or empty) on ``main`` with the program in
    one commit; ``.yoi/state/`` is kept out of git."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise InvalidRequest(
            f"{root} is not an empty folder: the demo makes its repository in a new one",
            details={"field": "keep"},
        )
    root.mkdir(parents=True, exist_ok=True)
    files = {".gitignore": ".yoi/state/\n__pycache__/\n", "greet.py": GREET}
    files["test_greet.py"] = TEST_GREET
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "--", *files)
    _git(root, "commit", "-q", "--no-verify", "--no-gpg-sign", "-m", "A program that greets")
    return root


def queue_demo_tickets(store: TicketStore) -> list[str]:
    """Create the demo's tickets in order, relate them, mark them ready and queue them."""
    made: list[str] = []
    for ticket in DEMO_TICKETS:
        made.append(store.create(ticket.title, ticket.body, author=DEMO_AUTHOR).id)
        if ticket.depends_on is not None:
            target = made[ticket.depends_on]
            store.add_relation(made[-1], RelationKind.DEPENDS_ON, target, author=DEMO_AUTHOR)
    for ticket_id in made:
        store.move(ticket_id, State.READY, author=DEMO_AUTHOR)
        store.move(ticket_id, State.QUEUED, author=DEMO_AUTHOR)
    return made


def _git(root: Path, *args: str) -> str:
    """Git for the demo's own new repository, with the demo's author and no user hooks."""
    env: Mapping[str, str] = {**os.environ, **_GIT_AUTHOR, "GIT_CONFIG_NOSYSTEM": "1"}
    env = {key: value for key, value in env.items() if key not in ("GIT_DIR", "GIT_WORK_TREE")}
    done = subprocess.run(
        ["git", "-C", str(root), "-c", "core.hooksPath=/dev/null", *args],
        env=env,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise InvalidRequest(f"git {args[0]} failed in {root}: {problem}")
    return done.stdout.decode("utf-8", "replace")
