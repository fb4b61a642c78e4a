"""The sandbox, against the real bubblewrap: what a command inside can and cannot reach."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from yoi.tools.sandbox import (
    Confinement,
    GitAuthor,
    Sandbox,
    SandboxMode,
    bwrap_arguments,
    sandbox_environment,
)

ALLOWED = {"PATH", "HOME", "LANG", "TERM", "PWD", "SHLVL", "_"}  # the last three: bash's own


@pytest.fixture
async def sandbox() -> Sandbox:
    probed = await Sandbox.probe()
    assert probed.status.available, probed.status.diagnostic
    return probed


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    root = tmp_path / "workdir"
    (root / "home").mkdir(parents=True)
    return root


def confined(workdir: Path, *, network: bool = False) -> Confinement:
    return Confinement(workdir=workdir, cwd=workdir, home=workdir / "home", network=network)


async def run(sandbox: Sandbox, confinement: Confinement, command: str) -> tuple[int, str]:
    launch = sandbox.launch(confinement, command)
    try:
        process = await asyncio.create_subprocess_exec(
            *launch.argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=dict(launch.env),
            cwd=launch.cwd,
        )
        async with asyncio.timeout(30):
            output, _ = await process.communicate()
    finally:
        if launch.cgroup is not None:
            await launch.cgroup.stop()
    return process.returncode or 0, output.decode()


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


CONNECT = "exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"


async def test_no_network_inside(sandbox: Sandbox, workdir: Path, listener: int) -> None:
    code, output = await run(sandbox, confined(workdir), CONNECT.format(port=listener))
    assert code != 0
    assert "connected" not in output


async def test_network_when_granted(sandbox: Sandbox, workdir: Path, listener: int) -> None:
    code, output = await run(
        sandbox, confined(workdir, network=True), CONNECT.format(port=listener)
    )
    assert (code, output.strip()) == (0, "connected")


async def test_no_secrets_in_the_environment(
    sandbox: Sandbox, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {"OPENAI_API_KEY": "sk-4f9a", "YOI_TOKEN": "tok-77c1", "ANTHROPIC_API_KEY": "ak-0b3e"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    code, output = await run(sandbox, confined(workdir), "env")
    names = {line.split("=", 1)[0] for line in output.splitlines() if "=" in line}
    assert code == 0
    assert names <= ALLOWED
    assert not [value for value in secrets.values() if value in output]
    assert f"HOME={workdir / 'home'}" in output.splitlines()


async def test_root_is_read_only(sandbox: Sandbox, workdir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("host\n")
    # tmp_path lies under /tmp, a private tmpfs inside: the write lands there, not on the host.
    await run(sandbox, confined(workdir), f"echo sandbox > {outside}")
    assert outside.read_text() == "host\n"
    system = Path("/usr") / f"yoi-sandbox-{os.getpid()}"
    code, output = await run(sandbox, confined(workdir), f"touch {system}")
    assert code != 0
    assert "Read-only file system" in output
    assert not system.exists()


async def test_workdir_is_writable(sandbox: Sandbox, workdir: Path) -> None:
    code, _ = await run(sandbox, confined(workdir), "mkdir -p a/b && echo made > a/b/c.txt")
    assert code == 0
    assert (workdir / "a" / "b" / "c.txt").read_text() == "made\n"


async def test_tmp_is_private(sandbox: Sandbox, workdir: Path) -> None:
    name = f"yoi-sandbox-{os.getpid()}-{id(workdir)}"
    code, _ = await run(sandbox, confined(workdir), f"echo x > /tmp/{name} && cat /tmp/{name}")
    assert code == 0
    assert not (Path("/tmp") / name).exists()


async def test_host_processes_are_invisible(sandbox: Sandbox, workdir: Path) -> None:
    code, output = await run(sandbox, confined(workdir), f"kill -0 {os.getpid()} && echo seen")
    assert code != 0
    assert "seen" not in output


async def test_git_common_dir_is_writable_where_commits_write(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    workdir, common = tmp_path / "workdir", tmp_path / "repo.git"
    workdir.mkdir()
    (common / "refs" / "heads").mkdir(parents=True)
    confinement = Confinement(workdir=workdir, cwd=workdir, home=workdir, git_common_dir=common)
    code, _ = await run(sandbox, confinement, f"echo ref > {common}/refs/heads/main")
    assert code == 0
    assert (common / "refs" / "heads" / "main").read_text() == "ref\n"
    code, _ = await run(sandbox, confinement, f"echo ref > {common}/HEAD")
    assert code != 0
    assert not (common / "HEAD").exists()


def test_arguments_bind_the_workdir_and_unshare(tmp_path: Path) -> None:
    confinement = confined(tmp_path)
    env = sandbox_environment(confinement, {"PATH": "/bin", "OPENAI_API_KEY": "sk"})
    arguments = bwrap_arguments(confinement, env)
    text = " ".join(arguments)
    assert "--ro-bind / /" in text
    assert f"--bind {tmp_path} {tmp_path}" in text
    for flag in ("--unshare-pid", "--unshare-ipc", "--unshare-net", "--die-with-parent"):
        assert flag in arguments
    assert "--cap-drop ALL" in text
    assert arguments.index("--clearenv") < arguments.index("--setenv")
    assert "sk" not in arguments
    assert arguments[-1] == "--"
    granted = bwrap_arguments(confined(tmp_path, network=True), env)
    assert "--unshare-net" not in granted


def test_environment_is_an_allow_list(tmp_path: Path) -> None:
    parent = {"PATH": "/opt/bin:/bin", "YOI_TOKEN": "t", "GIT_DIR": "/elsewhere", "LANG": "fr"}
    author = GitAuthor("Coder", "coder@example.test")
    confinement = Confinement(tmp_path, tmp_path, tmp_path / "home", author=author)
    assert sandbox_environment(confinement, parent) == {
        "PATH": "/opt/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "LANG": "fr",
        "TERM": "dumb",
        "GIT_AUTHOR_NAME": "Coder",
        "GIT_AUTHOR_EMAIL": "coder@example.test",
        "GIT_COMMITTER_NAME": "Coder",
        "GIT_COMMITTER_EMAIL": "coder@example.test",
    }


async def test_missing_bwrap_is_unavailable_with_a_diagnostic(tmp_path: Path) -> None:
    probed = await Sandbox.probe(bwrap=str(tmp_path / "no-bwrap"))
    assert probed.status.mode is SandboxMode.BWRAP
    assert not probed.status.available
    assert "not installed" in probed.status.diagnostic


async def test_bwrap_that_fails_is_unavailable_with_its_reason(tmp_path: Path) -> None:
    broken = tmp_path / "bwrap"
    broken.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    probed = await Sandbox.probe(bwrap=str(broken))
    assert not probed.status.available
    assert probed.status.diagnostic.endswith("No permissions to create new namespace")


async def test_mode_none_runs_unconfined_with_a_warning(workdir: Path, listener: int) -> None:
    probed = await Sandbox.probe(SandboxMode.NONE, bwrap=str(workdir / "no-bwrap"))
    assert probed.status.available
    assert "unconfined" in probed.status.diagnostic
    code, output = await run(probed, confined(workdir), CONNECT.format(port=listener))
    assert (code, output.strip()) == (0, "connected")


async def test_pids_cgroup_caps_processes(sandbox: Sandbox, workdir: Path) -> None:
    assert sandbox.status.pids_limited, "this machine offers no pids cgroup to cap processes"
    spawn = "for i in $(seq 20); do sleep 2 & done; echo spawned; kill $(jobs -p)"
    roomy = await Sandbox.probe(pids_max=64)
    assert await run(roomy, confined(workdir), spawn) == (0, "spawned\n")
    capped = await Sandbox.probe(pids_max=8)
    _, output = await run(capped, confined(workdir), spawn)
    assert "fork: retry: Resource temporarily unavailable" in output
