"""Fixtures of the runtime server's tests."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.server.test_process import Launcher


@pytest.fixture
async def launcher(tmp_path: Path) -> AsyncIterator[Launcher]:
    """Starts real `yoi runtime serve` processes, and stops every one it started."""
    async with Launcher(tmp_path) as launcher:
        yield launcher
