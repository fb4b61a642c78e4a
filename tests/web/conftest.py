"""Browser tests: every ``expect`` waits as long as the rig allows a page to show something."""

from __future__ import annotations

from playwright.async_api import expect
from tests.web.rig import DEADLINE

expect.set_options(timeout=DEADLINE * 1000)
