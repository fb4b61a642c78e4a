"""The web console: plain ES modules, CSS and one page, served by ``yoi serve`` at ``/``.

There is no build step: the files under ``static/`` are what the browser
loads. Nothing here is fetched from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ASSETS"]

ASSETS = Path(__file__).with_name("static")
"""The console's folder: ``index.html`` and the files it loads."""
