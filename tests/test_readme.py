"""The README's embedded-runtime example runs as written, on the core package alone."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
DEADLINE = 60.0
OPTIONAL = ("openai", "anthropic", "httpx", "starlette", "uvicorn", "websockets", "pydantic")

# Runs the example as if no optional extra were installed: it needs the core only.
CORE_ONLY = f"""
import runpy, sys
for name in {OPTIONAL!r}:
    sys.modules[name] = None
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def first_python_block(markdown: str) -> str:
    found = re.search(r"^```python\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL)
    assert found is not None, "README.md has no ```python block"
    return found.group(1)


async def test_the_embedded_runtime_example_streams_its_reply(tmp_path: Path) -> None:
    example = tmp_path / "example.py"
    example.write_text(first_python_block(README.read_text(encoding="utf-8")), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CORE_ONLY,
        str(example),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        async with asyncio.timeout(DEADLINE):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert out.decode() == "Hello, world!\n[completed]\n"
