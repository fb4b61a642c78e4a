"""Running git for the git tools, so a repository's config cannot run a program.

A sandboxed command can write the workdir's git config (its git directory is writable to
it), so every call switches off what config could make git run: hooks, the fsmonitor,
clean/smudge filters (listed and blanked per call), signing, and any fetch; diff drivers
and textconv are refused by the diff flags the tools pass. The environment is cleared
(nothing of the parent's ``GIT_*`` reaches git), global and system config are not read,
discovery stops at the workdir, and output is bounded: past the limit git is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from yoi.errors import YoiError
from yoi.tools.scope import Scope

__all__ = ["DIFF_FLAGS", "GitFailed", "GitOutput", "GitRunner", "GitSettings", "one_line"]

_STDERR_LIMIT = 16_384

# Config that would otherwise let the repository run programs or reach the network.
_SAFE_CONFIG = (
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.pager", "cat"),
    ("core.quotePath", "false"),
    ("commit.gpgSign", "false"),
    ("log.showSignature", "false"),
    ("log.mailmap", "false"),
    ("color.ui", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("submodule.recurse", "false"),
    ("diff.ignoreSubmodules", "all"),
    ("status.submoduleSummary", "false"),
    ("protocol.allow", "never"),
)
DIFF_FLAGS = ("--no-ext-diff", "--no-textconv", "--no-color", "--ignore-submodules=all")


@dataclass(frozen=True, slots=True)
class GitSettings:
    """How the git tools of one workdir run.

    ``branch`` is the branch ``git_commit`` may move (``None``: the workdir is detached);
    ``git_dir``, when known, pins the repository so a rewritten ``.git`` file cannot point
    the tools at another one.
    """

    branch: str | None = None
    author_name: str = "yoi"
    author_email: str = "yoi@localhost"
    git_dir: Path | None = None
    max_output: int = 30_000
    timeout: float = 60.0
    program: str = "git"


@dataclass(frozen=True, slots=True)
class GitOutput:
    code: int
    stdout: bytes
    stderr: str
    truncated: bool

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    def failure(self, what: str) -> str:
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        reason = next((line for line in lines if line.startswith(("fatal", "error"))), None)
        return f"{what}: {one_line(reason or (lines[0] if lines else f'exit {self.code}'))}"


class GitFailed(YoiError):
    """Git itself refused; converted to an error result at the tool boundary."""

    code = "git_failed"


class GitRunner:
    """Runs git for one scope, with the guards above on every call."""

    def __init__(self, scope: Scope, settings: GitSettings) -> None:
        self.scope = scope
        self.settings = settings

    async def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> GitOutput:
        filters = await self._filter_overrides()
        return await self._exec(args, stdin, {**(env or {}), **_config_env(filters)}, limit)

    async def ok(self, *args: str, stdin: bytes | None = None, what: str = "") -> str:
        output = await self.run(*args, stdin=stdin, env=self._author_env())
        if output.code != 0:
            raise GitFailed(output.failure(what or f"git {args[0]} failed"))
        return output.text

    async def _filter_overrides(self) -> tuple[tuple[str, str], ...]:
        """Blank every clean/smudge filter the config defines: git runs them wherever it
        compares a file with the index (even ``write-tree``), and whoever wrote the config
        chose the driver's name."""
        listed = await self._exec(
            ("config", "--null", "--name-only", "--get-regexp", r"^filter\."), None, {}, None
        )
        names = {
            key[len("filter.") : key.rindex(".")]
            for key in listed.stdout.decode("utf-8", errors="surrogateescape").split("\0")
            if key.count(".") >= 2
        }
        return tuple(
            (f"filter.{name}.{key}", value)
            for name in sorted(names)
            for key, value in (("clean", ""), ("smudge", ""), ("process", ""), ("required", "0"))
        )

    def _author_env(self) -> dict[str, str]:
        name, email = self.settings.author_name, self.settings.author_email
        return {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }

    def _command(self, args: Sequence[str]) -> list[str]:
        root = str(self.scope.root)
        command = [self.settings.program, "-C", root, "--no-pager", f"--work-tree={root}"]
        if self.settings.git_dir is not None:
            command.append(f"--git-dir={self.settings.git_dir}")
        return [*command, *args]

    def _environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_CEILING_DIRECTORIES": str(self.scope.root.parent),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_NO_LAZY_FETCH": "1",
            **extra,
        }

    async def _exec(
        self,
        args: Sequence[str],
        stdin: bytes | None,
        env: Mapping[str, str],
        limit: int | None,
    ) -> GitOutput:
        process = await asyncio.create_subprocess_exec(
            *self._command(args),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.scope.root,
            env=self._environment(env),
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(self.settings.timeout):
                return await _collect(process, stdin, limit or self.settings.max_output)
        except TimeoutError:
            raise GitFailed(
                f"git {args[0]} took longer than {self.settings.timeout:g}s and was stopped"
            ) from None
        finally:
            _kill(process)
            await process.wait()


async def _collect(
    process: asyncio.subprocess.Process, stdin: bytes | None, limit: int
) -> GitOutput:
    assert process.stdout is not None
    assert process.stderr is not None
    if stdin is not None and process.stdin is not None:
        process.stdin.write(stdin)
        await process.stdin.drain()
        process.stdin.close()
    errors = asyncio.ensure_future(_drain(process.stderr, _STDERR_LIMIT))
    try:
        stdout = await _read_bounded(process.stdout, limit)
        truncated = len(stdout) > limit
        if truncated:
            _kill(process)
        code = await process.wait()
        code = 0 if truncated else code  # killed by us for its length, not failed
        stderr = await errors
    finally:
        errors.cancel()
    return GitOutput(code, stdout[:limit], stderr.decode("utf-8", errors="replace"), truncated)


async def _read_bounded(stream: asyncio.StreamReader, limit: int) -> bytes:
    """At most ``limit + 1`` bytes: one past the limit says there was more."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await stream.read(min(65_536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def _drain(stream: asyncio.StreamReader, keep: int) -> bytes:
    """The first ``keep`` bytes of ``stream``, reading (and dropping) the rest to its end so
    git never blocks on a full pipe."""
    kept = b""
    while chunk := await stream.read(65_536):
        kept += chunk[: max(0, keep - len(kept))]
    return kept


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _config_env(extra: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Config as ``GIT_CONFIG_KEY_n``/``VALUE_n`` pairs: no name can be misparsed as
    ``-c key=value`` text would be when a driver's name holds ``=``."""
    pairs = [*_SAFE_CONFIG, *extra]
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for index, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def one_line(text: str, limit: int = 200) -> str:
    """``text`` flattened to one line of at most ``limit`` characters, for a summary."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
