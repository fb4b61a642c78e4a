"""The layering of ARCHITECTURE §2, enforced on every module's imports."""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "yoi"

# An arrow means "may import": errors, ids <- engine, providers, tools, tickets <- runtime
# <- server, client, orchestrator <- backend <- web, tui, cli (and the public test kit).
# The orchestrator never imports the backend: it defines the protocol it needs.
RANK = {
    "errors": 0,
    "ids": 0,
    "workspace": 0,
    "cancelling": 0,
    "engine": 1,
    "serving": 1,
    "providers": 1,
    "tools": 1,
    "tickets": 1,
    "runtime": 2,
    "server": 3,
    "client": 3,
    "backend": 4,
    "orchestrator": 3,
    "web": 5,
    "tui": 5,
    "cli": 5,
    "testing": 5,
    "__main__": 6,  # `python -m yoi`: the command line, entered another way
}
# Peers of one layer that may lean on each other: the engine's seams, the error tree, the
# command that serves the web console's assets and the one that starts the terminal UI.
PEERS = {
    ("providers", "engine"),
    ("tools", "engine"),
    ("ids", "errors"),
    ("cli", "web"),
    ("cli", "tui"),
}

WEB_FRAMEWORKS = {"starlette", "fastapi", "uvicorn", "websockets"}
VENDOR_SDKS = {"openai", "anthropic"}
CORE = {
    "errors",
    "ids",
    "workspace",
    "cancelling",
    "serving",
    "engine",
    "providers",
    "tools",
    "runtime",
}
CORE_THIRD_PARTY: set[str] = set()
# The ticket store is plain files: the standard library and PyYAML (a core dependency) only.
TICKETS_THIRD_PARTY = {"yaml"}
# The terminal UI is a client of the backend's API and streams, never of a runtime, the
# tickets' files or the orchestrator: of yoi it imports only the client, errors and ids.
TUI_INTERNAL = {"tui", "client", "errors", "ids"}
TUI_THIRD_PARTY = {"textual", "rich"}
# Textual is the terminal UI's, and the command that starts it may reach for it.
TEXTUAL_USERS = {"tui", "cli"}


def modules() -> Iterator[tuple[Path, str]]:
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        yield path, parts[0]


def imports(path: Path) -> list[str]:
    package = ["yoi", *path.relative_to(SRC).parent.parts]
    return imports_of(path.read_text(encoding="utf-8"), package)


def imports_of(source: str, package: list[str]) -> list[str]:
    """Every module ``source`` imports, by absolute name, relative imports resolved
    against ``package`` (the dotted parts of the folder the source lives in)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append(node.module or "")
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - (node.level - 1)])
            if node.module:
                found.append(f"{base}.{node.module}")
            else:  # `from .. import backend` names modules of the base package
                found.extend(f"{base}.{alias.name}" for alias in node.names)
    return found


def internal_target(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "yoi":
        return None
    return parts[1] if len(parts) > 1 else "yoi"


def test_every_package_has_a_layer() -> None:
    packages = {package for _, package in modules()}
    assert packages - {"__init__"} <= set(RANK), packages - set(RANK)


def layer_violations(package: str, names: list[str]) -> list[str]:
    found = []
    for name in names:
        target = internal_target(name)
        if target is None or target in (package, "yoi"):
            continue
        if not (RANK[target] < RANK[package] or (package, target) in PEERS):
            found.append(f"imports {name}: {package} may not use {target}")
    return found


def placement_violations(relative: str, package: str, names: list[str]) -> list[str]:
    """Third-party imports outside the modules allowed to hold them."""
    vendor_module = relative in {f"providers/{sdk}.py" for sdk in VENDOR_SDKS}
    found = []
    for name in names:
        top = name.split(".")[0]
        stdlib = top in sys.stdlib_module_names or top in {"__future__", "yoi"}
        misplaced = (
            (top in WEB_FRAMEWORKS and package not in {"server", "backend", "client"})
            or (top in WEB_FRAMEWORKS and package == "client" and top != "websockets")
            or (top == "textual" and package not in TEXTUAL_USERS)
            or (top in VENDOR_SDKS and relative != f"providers/{top}.py")
            or (
                package in CORE and not vendor_module and not stdlib and top not in CORE_THIRD_PARTY
            )
            or (package == "tickets" and not stdlib and top not in TICKETS_THIRD_PARTY)
        )
        if misplaced:
            found.append(f"{relative} imports {name}")
    return found


@pytest.mark.parametrize(("path", "package"), list(modules()), ids=lambda v: str(v))
def test_imports_respect_the_layers(path: Path, package: str) -> None:
    if package == "__init__":
        return
    assert layer_violations(package, imports(path)) == [], path.relative_to(SRC)


@pytest.mark.parametrize(("path", "package"), list(modules()), ids=lambda v: str(v))
def test_third_party_imports_stay_in_their_place(path: Path, package: str) -> None:
    relative = path.relative_to(SRC).as_posix()
    assert placement_violations(relative, package, imports(path)) == []


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("from ..backend import app", ["yoi", "tickets"], ["yoi.backend"]),
        ("from . import store", ["yoi", "tickets"], ["yoi.tickets.store"]),
        ("from .. import backend, errors", ["yoi", "cli"], ["yoi.backend", "yoi.errors"]),
        ("from ...errors import YoiError", ["yoi", "runtime", "stores"], ["yoi.errors"]),
        (
            "from .fs.store import FsStore",
            ["yoi", "runtime", "stores"],
            ["yoi.runtime.stores.fs.store"],
        ),
        ("import yaml\nfrom os import path", ["yoi", "tickets"], ["yaml", "os"]),
    ],
)
def test_relative_imports_are_read_as_absolute(
    source: str, package: list[str], expected: list[str]
) -> None:
    assert imports_of(source, package) == expected


def test_a_relative_import_across_layers_is_caught() -> None:
    names = imports_of("from ..backend import app", ["yoi", "tickets"])
    assert layer_violations("tickets", names) == [
        "imports yoi.backend: tickets may not use backend"
    ]


def test_a_third_party_import_in_the_ticket_store_is_caught() -> None:
    names = ["yaml", "json", "httpx", "markdown_it.main"]
    assert placement_violations("tickets/store.py", "tickets", names) == [
        "tickets/store.py imports httpx",
        "tickets/store.py imports markdown_it.main",
    ]


def tui_violations(names: list[str]) -> list[str]:
    """What a module of ``yoi.tui`` imports beyond the client, errors, ids, itself, the
    standard library, Textual and Rich."""
    found = []
    for name in names:
        top, target = name.split(".")[0], internal_target(name)
        if target is not None:
            allowed = target in TUI_INTERNAL
        else:
            allowed = top in sys.stdlib_module_names or top in {"__future__", *TUI_THIRD_PARTY}
        if not allowed:
            found.append(name)
    return found


TUI_MODULES = [(path, package) for path, package in modules() if package == "tui"]


@pytest.mark.parametrize("path", [path for path, _ in TUI_MODULES], ids=lambda v: v.name)
def test_the_tui_imports_only_the_client_textual_and_rich(path: Path) -> None:
    assert tui_violations(imports(path)) == [], path.relative_to(SRC)


def test_the_tui_has_modules_to_check() -> None:
    assert len(TUI_MODULES) >= 3


def test_a_tui_module_reaching_past_the_client_is_caught() -> None:
    source = (
        "import asyncio\nfrom textual.app import App\nfrom rich.text import Text\n"
        "from yoi.client.backend import BackendClient\nfrom ..errors import YoiError\n"
        "from yoi.backend import Backend\nfrom ..runtime import Runtime\n"
        "from yoi.tickets import TicketStore\nfrom yoi.orchestrator import Phase\n"
        "from yoi import cli\nimport httpx\n"
    )
    names = imports_of(source, ["yoi", "tui"])
    assert tui_violations(names) == [
        "yoi.backend",
        "yoi.runtime",
        "yoi.tickets",
        "yoi.orchestrator",
        "yoi",  # the package's front door reaches everything
        "httpx",
    ]


def test_textual_outside_the_tui_and_its_command_is_caught() -> None:
    names = ["textual.app", "rich.text"]
    assert placement_violations("backend/app.py", "backend", names) == [
        "backend/app.py imports textual.app"
    ]
    assert placement_violations("cli/tui.py", "cli", names) == []
