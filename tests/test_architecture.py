"""The layering of ARCHITECTURE §2, enforced on every module's imports."""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "yoi"

# An arrow means "may import": errors, ids <- engine, providers, tools, tickets <- runtime
# <- server, client <- backend <- orchestrator, web, tui, cli (and the public test kit).
RANK = {
    "errors": 0,
    "ids": 0,
    "workspace": 0,
    "engine": 1,
    "providers": 1,
    "tools": 1,
    "tickets": 1,
    "runtime": 2,
    "server": 3,
    "client": 3,
    "backend": 4,
    "orchestrator": 5,
    "web": 5,
    "tui": 5,
    "cli": 5,
    "testing": 5,
    "__main__": 6,  # `python -m yoi`: the command line, entered another way
}
# Peers of one layer that may lean on each other: the engine's seams, the error tree, and
# the command that serves the web console's assets.
PEERS = {("providers", "engine"), ("tools", "engine"), ("ids", "errors"), ("cli", "web")}

WEB_FRAMEWORKS = {"starlette", "fastapi", "uvicorn", "websockets"}
VENDOR_SDKS = {"openai", "anthropic"}
CORE = {"errors", "ids", "workspace", "engine", "providers", "tools", "runtime"}
CORE_THIRD_PARTY: set[str] = set()


def modules() -> Iterator[tuple[Path, str]]:
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        yield path, parts[0]


def imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def internal_target(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "yoi":
        return None
    return parts[1] if len(parts) > 1 else "yoi"


def test_every_package_has_a_layer() -> None:
    packages = {package for _, package in modules()}
    assert packages - {"__init__"} <= set(RANK), packages - set(RANK)


@pytest.mark.parametrize(("path", "package"), list(modules()), ids=lambda v: str(v))
def test_imports_respect_the_layers(path: Path, package: str) -> None:
    if package == "__init__":
        return
    for name in imports(path):
        target = internal_target(name)
        if target is None or target in (package, "yoi"):
            continue
        allowed = RANK[target] < RANK[package] or (package, target) in PEERS
        assert allowed, f"{path.relative_to(SRC)} imports {name}: {package} may not use {target}"


@pytest.mark.parametrize(("path", "package"), list(modules()), ids=lambda v: str(v))
def test_third_party_imports_stay_in_their_place(path: Path, package: str) -> None:
    relative = path.relative_to(SRC).as_posix()
    for name in imports(path):
        top = name.split(".")[0]
        if top in WEB_FRAMEWORKS:
            assert package in {"server", "backend", "client"}, f"{relative} imports {name}"
            assert package != "client" or top == "websockets", f"{relative} imports {name}"
        if top == "textual":
            assert package == "tui", f"{relative} imports {name}"
        if top in VENDOR_SDKS:
            assert relative == f"providers/{top}.py", f"{relative} imports {name}"
        vendor_module = relative in {f"providers/{sdk}.py" for sdk in VENDOR_SDKS}
        if package in CORE and not vendor_module and top != "yoi":
            is_stdlib = top in sys.stdlib_module_names or top == "__future__"
            assert is_stdlib or top in CORE_THIRD_PARTY, f"{relative} imports {name}"
