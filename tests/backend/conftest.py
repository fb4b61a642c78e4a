"""The ``stack`` fixture: the backend over the runtime under test, once embedded, once remote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.backend.rig import Stack, open_stack

from yoi.providers.script import Turn


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "script(*turns): the turns the runtime under test's scripted model plays"
    )


@pytest.fixture(params=["embedded", "remote"])
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stack]:
    """A backend whose runtime under test is embedded or remote; the same tests run on both."""
    async with open_stack(request.param, scripted(request), tmp_path) as opened:
        yield opened
    opened.model.assert_consumed()


@pytest.fixture
async def pair(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stack]:
    """A backend of two runtimes: the embedded one, and the scripted one behind a remote source."""
    async with open_stack("both", scripted(request), tmp_path) as opened:
        yield opened
    opened.model.assert_consumed()


def scripted(request: pytest.FixtureRequest) -> tuple[Turn, ...]:
    marker = request.node.get_closest_marker("script")
    return () if marker is None else marker.args
