"""The ``yoi`` command line."""

from __future__ import annotations

from yoi.cli.app import app

__all__ = ["main"]


def main() -> None:
    """The ``yoi`` console script."""
    app(prog_name="yoi")
