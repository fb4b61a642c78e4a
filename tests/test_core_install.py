"""`import yoi.runtime` and a scripted worker run with the core dependencies alone."""

import asyncio
import sys
import textwrap

OPTIONAL = [
    "openai",
    "anthropic",
    "httpx",
    "httpx2",
    "anyio",
    "pydantic",
    "starlette",
    "fastapi",
    "uvicorn",
    "websockets",
    "textual",
]

PROGRAM = textwrap.dedent(
    """
    import asyncio, importlib.abc, sys

    BLOCKED = set(sys.argv[1].split(","))

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"blocked optional package: {name}")
            return None

    sys.meta_path.insert(0, Block())

    from yoi.runtime import Runtime
    from yoi.testing import ScriptedModel, Text, until

    async def main():
        model = ScriptedModel([[Text("core ", "only")]])
        async with Runtime(model=model) as runtime:
            worker = await runtime.create_worker()
            async with await runtime.subscribe(worker.worker_id) as events:
                await runtime.send_input(worker.worker_id, "hi")
                await until(events, "run_finished")
            page = await runtime.transcript(worker.worker_id)
        print(page.items[-1].content)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        print("loaded:", loaded)

    asyncio.run(main())
    """
)


async def test_the_runtime_runs_without_any_optional_package() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROGRAM,
        ",".join(OPTIONAL),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["core only", "loaded: []"]
