"""The vendor SDKs at the lowest versions pyproject.toml allows still drive the providers.

The floors are installed from the package index into a folder of the test's own, and a
child interpreter started without site-packages (``-S``) sees only that folder, yoi's
sources and the standard library: what a user gets from ``pip install 'yoi[openai,anthropic]'``
on the oldest versions the project promises.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import textwrap
import tomllib
from pathlib import Path

import yoi

ROOT = Path(__file__).resolve().parents[2]
SOURCES = Path(yoi.__file__).resolve().parents[1]

PROGRAM = textwrap.dedent(
    """
    import asyncio, sys

    import anthropic, openai
    from yoi.engine.messages import UserMessage
    from yoi.engine.model import ModelRequest, TextChunk
    from yoi.providers.anthropic import AnthropicModel
    from yoi.providers.openai import OpenAIModel
    from yoi.testing import FakeAnthropicServer, FakeOpenAIServer, Text

    REQUEST = ModelRequest(system="Be brief.", messages=(UserMessage("hello"),))

    async def text(model):
        async with model:
            chunks = [chunk async for chunk in model.stream(REQUEST)]
        return "".join(chunk.text for chunk in chunks if isinstance(chunk, TextChunk))

    async def main():
        print("versions", openai.__version__, anthropic.__version__)
        async with FakeOpenAIServer([[Text("Hel", "lo")]]) as server:
            model = OpenAIModel("gpt-test", api_key="sk-floor", base_url=server.base_url)
            print("openai", await text(model))
        async with FakeAnthropicServer([[Text("Bon", "jour")]]) as server:
            model = AnthropicModel("claude-test", api_key="sk-floor", base_url=server.base_url)
            print("anthropic", await text(model))
        print("site-packages", [p for p in sys.path if "site-packages" in p])

    asyncio.run(main())
    """
)


def floor(extra: str) -> str:
    """The lowest version of the vendor SDK that the extra of the same name admits."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (requirement,) = project["optional-dependencies"][extra]
    match = re.fullmatch(rf"{extra}>=([0-9.]+)(,<[0-9.]+)?", requirement)
    assert match is not None, f"the {extra} extra should name a floor: {requirement!r}"
    return match.group(1)


async def run(*argv: str, env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(100):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-3000:]
    return out.decode()


async def test_the_providers_stream_with_the_lowest_sdks_allowed(tmp_path: Path) -> None:
    openai, anthropic = floor("openai"), floor("anthropic")
    target = tmp_path / "floor"
    home = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    await run(
        sys.executable,
        *("-m", "pip", "install", "--quiet", "--no-cache-dir", "--disable-pip-version-check"),
        *("--target", str(target), f"openai=={openai}", f"anthropic=={anthropic}"),
        env={**os.environ, **home},
    )
    env = {"PYTHONPATH": f"{target}:{SOURCES}", "PATH": "/usr/bin:/bin", **home}
    out = await run(sys.executable, "-S", "-c", PROGRAM, env=env)
    assert out.splitlines() == [
        f"versions {openai} {anthropic}",
        "openai Hello",
        "anthropic Bonjour",
        "site-packages []",
    ]
