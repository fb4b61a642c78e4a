"""The OS sandbox a worker's shell commands run in: bubblewrap, and whether it can run here.

The root filesystem is bound read-only, the workdir writable, ``/tmp`` is a private tmpfs,
and the command lives in new PID and IPC (and, unless the grant says ``network``, network)
namespaces whose init dies with bwrap, holding no capabilities (not even when the runtime is
root: one could unmount what is bound read-only). The environment is cleared to an
allow-list, so no model key or runtime token reaches a command.

Of git's common dir, a command may write only what a commit writes: ``objects``, ``refs``,
``logs`` and its own worktree's gitdir. The rest stays read-only, because git on the host
runs what it finds there — hooks, ``core.fsmonitor``, filters and aliases in ``config``,
``info/attributes``, a ``commondir`` redirecting to another repository — when the
orchestrator or a person later runs git in the repository. The workdir's ``.git`` file and
its gitdir's ``commondir``, ``gitdir`` and ``config.worktree`` are read-only too, so they
cannot point host git elsewhere; a missing ``config.worktree`` is covered by an empty
read-only one (git reads it once ``extensions.worktreeConfig`` is on).

Where a pids cgroup can be made (a root runtime with cgroup v1's ``pids`` hierarchy, or a
delegated v2 subtree), every command also runs under a process cap: a fork bomb stops at
``pids_max`` instead of exhausting the machine's pid space, and the whole cgroup is killed
when the command ends, including anything that left the process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = [
    "Confinement",
    "GitAuthor",
    "Launch",
    "PidsCgroup",
    "Sandbox",
    "SandboxMode",
    "SandboxStatus",
    "bwrap_arguments",
    "sandbox_environment",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_PIDS_MAX = 1024
PROBE_TIMEOUT = 10.0
STOP_TIMEOUT = 1.0  # for a command's processes to be gone once killed
_CGROUP_PREFIX = "yoi-sandbox-"
# Joins the cgroup named by $1, then becomes the command: the script is constant and every
# model-supplied word stays a separate argument.
_JOIN_CGROUP = 'echo 0 > "$1" || exit 125; shift; exec "$@"'


class SandboxMode(StrEnum):
    """How ``bash`` is confined: ``bwrap``, or ``none`` — unconfined, chosen explicitly in the
    runtime's config and shown as a warning."""

    BWRAP = "bwrap"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    """What the probe found. ``diagnostic`` says why commands cannot run, or warns that they
    run unconfined; it is empty when the sandbox works."""

    mode: SandboxMode
    available: bool
    diagnostic: str = ""
    pids_limited: bool = False


@dataclass(frozen=True, slots=True)
class GitAuthor:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Confinement:
    """What one command may reach: paths are absolute, on the host."""

    workdir: Path
    cwd: Path
    home: Path
    network: bool = False
    git_common_dir: Path | None = None
    author: GitAuthor | None = None
    git_read_only: bool = False
    """Bind ``git_common_dir`` read-only whole: the command reads the repository's history
    but writes none of it (a validation command, not a coder's)."""


@dataclass(frozen=True, slots=True)
class Launch:
    """A command ready to start: its argument list, environment and process cap (if any)."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    cgroup: PidsCgroup | None


def sandbox_environment(confinement: Confinement, parent: Mapping[str, str]) -> dict[str, str]:
    """The allow-list: a command sees these variables and nothing else of ``parent``."""
    env = {
        "PATH": parent.get("PATH") or DEFAULT_PATH,
        "HOME": str(confinement.home),
        "LANG": parent.get("LANG") or "C.UTF-8",
        "TERM": "dumb",
    }
    if confinement.author is not None:
        for role in ("AUTHOR", "COMMITTER"):
            env[f"GIT_{role}_NAME"] = confinement.author.name
            env[f"GIT_{role}_EMAIL"] = confinement.author.email
    return env


def bwrap_arguments(
    confinement: Confinement, env: Mapping[str, str], *, bwrap: str = "bwrap"
) -> list[str]:
    """bwrap's arguments up to and including ``--``; the command follows them."""
    arguments = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    arguments += ["--tmpfs", "/tmp", "--bind", str(confinement.workdir), str(confinement.workdir)]
    arguments += _git_binds(
        confinement.workdir, confinement.git_common_dir, read_only=confinement.git_read_only
    )
    arguments += ["--unshare-pid", "--unshare-ipc", "--cap-drop", "ALL"]
    if not confinement.network:
        arguments.append("--unshare-net")
    arguments += ["--die-with-parent", "--new-session", "--clearenv"]
    for name, value in env.items():
        arguments += ["--setenv", name, value]
    arguments += ["--chdir", str(confinement.cwd), "--"]
    return arguments


def _git_binds(workdir: Path, common: Path | None, *, read_only: bool = False) -> list[str]:
    """bwrap's binds for git's metadata: what of it a command may write, and what it may
    only read. They follow the workdir's bind, so they cover parts of it; they look at the
    host to learn what exists."""
    dotgit = workdir / ".git"
    binds: list[str] = []
    if common is not None and not common.is_relative_to(workdir) and common.is_dir():
        binds += (
            _read_only(common) if read_only else _common_binds(common, _own_gitdir(dotgit, common))
        )
    if dotgit.is_file():
        binds += _read_only(dotgit)
    elif dotgit.is_dir():
        # The workdir is a main worktree, whose index and HEAD git rewrites by renames in
        # its gitdir: that stays writable but for what host git would run. A missing
        # ``commondir`` cannot be covered there (git refuses an empty one); the runtime's
        # workdirs are linked worktrees, covered whole by ``_common_binds``.
        for name in _RUN_BY_GIT:
            binds += _read_only(dotgit / name, placeholder=name != "commondir")
    return binds


_COMMIT_WRITES = ("objects", "refs", "logs")
_GITDIR_POINTERS = ("commondir", "gitdir")
_RUN_BY_GIT = ("config", "hooks", "info", "commondir")
_DIRECTORIES = frozenset({"hooks", "info"})


def _common_binds(common: Path, own: Path | None) -> list[str]:
    """The common dir read-only, so nothing can be added to it either, but for what a
    commit writes: objects, refs, logs and the worktree's own gitdir (its pointers aside)."""
    binds = _read_only(common)
    binds += [bind for name in _COMMIT_WRITES for bind in _writable(common / name)]
    if own is not None:
        binds += _writable(own)
        binds += [bind for name in _GITDIR_POINTERS for bind in _read_only(own / name)]
        binds += _read_only(own / "config.worktree", placeholder=True)
    return binds


def _own_gitdir(dotgit: Path, common: Path) -> Path | None:
    """The worktree's gitdir named by its ``.git`` file, when that is one of ``common``'s
    worktrees; anything else leaves every worktree read-only."""
    try:
        text = dotgit.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    own = (dotgit.parent / text.removeprefix("gitdir:").strip()).resolve()
    if own.parent != (common / "worktrees").resolve() or not (own / "commondir").is_file():
        return None
    return own


def _writable(path: Path) -> list[str]:
    return ["--bind", str(path), str(path)] if path.is_dir() else []


def _read_only(path: Path, *, placeholder: bool = False) -> list[str]:
    """Bind ``path`` read-only; when it is missing and ``placeholder``, mount an empty
    read-only one in its place (bwrap makes the mount point on the host: an empty file or
    directory), so a command cannot create it either."""
    where = str(path)
    if path.exists():
        return ["--ro-bind", where, where]
    if not placeholder:
        return []
    if path.name in _DIRECTORIES:
        return ["--tmpfs", where, "--remount-ro", where]
    return ["--ro-bind", os.devnull, where]


class PidsCgroup:
    """One command's pids cgroup: a cap on how many processes it may hold, and a way to
    kill every one of them however it forked. ``leftovers`` is shared by the cgroups of one
    :class:`Sandbox`: a cgroup still busy when removed waits there for a later ``create`` —
    only its own, never another runtime's or a command's that is just starting."""

    def __init__(self, path: Path, leftovers: set[Path]) -> None:
        self.path = path
        self._leftovers = leftovers

    @classmethod
    def create(cls, parent: Path, limit: int, leftovers: set[Path]) -> PidsCgroup:
        """A fresh cgroup under ``parent`` holding at most ``limit`` processes (OSError when
        the hierarchy refuses)."""
        for leftover in list(leftovers):
            with contextlib.suppress(OSError):
                leftover.rmdir()
                leftovers.discard(leftover)
        path = parent / f"{_CGROUP_PREFIX}{secrets.token_hex(6)}"
        path.mkdir()
        cgroup = cls(path, leftovers)
        try:
            (path / "pids.max").write_text(f"{limit}\n", encoding="ascii")
        except OSError:
            cgroup.remove()
            raise
        return cgroup

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    async def stop(self, seconds: float = STOP_TIMEOUT) -> None:
        """SIGKILL every member, again while any remain (a fork may race a kill), awaiting
        their exits on pidfds; then remove the cgroup."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while members := self._members():
                    await _kill_and_wait(members)
        self.remove()

    def _members(self) -> list[int]:
        try:
            listed = self.procs.read_text(encoding="ascii").split()
        except OSError:
            return []
        return [int(pid) for pid in listed if pid.isdigit()]

    def remove(self) -> None:
        """Remove the cgroup, or leave it to a later ``create`` while its killed processes
        are still exiting."""
        try:
            self.path.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            self._leftovers.add(self.path)


class Sandbox:
    """Turns a shell command and its :class:`Confinement` into a :class:`Launch`."""

    def __init__(
        self,
        status: SandboxStatus,
        *,
        bwrap: str = "bwrap",
        pids_parent: Path | None = None,
        pids_max: int = DEFAULT_PIDS_MAX,
    ) -> None:
        self.status = status
        self._bwrap = bwrap
        self._pids_parent = pids_parent if status.pids_limited else None
        self._pids_max = pids_max
        self._leftovers: set[Path] = set()

    @classmethod
    async def probe(
        cls,
        mode: SandboxMode = SandboxMode.BWRAP,
        *,
        bwrap: str = "bwrap",
        pids_parent: Path | None = None,
        pids_max: int = DEFAULT_PIDS_MAX,
    ) -> Sandbox:
        """Find out whether commands can run confined here (``bwrap ... true``) and under a
        process cap (a pids cgroup under ``pids_parent``, or one found in /proc/self/cgroup)."""
        parent = pids_parent or _own_pids_cgroup()
        limited = parent is not None and _can_cap(parent, pids_max)
        if mode is SandboxMode.NONE:
            warning = "bash runs unconfined (sandbox = 'none'): commands reach the whole host"
            status = SandboxStatus(mode, True, warning, limited)
        else:
            status = await _probe_bwrap(bwrap, limited)
        return cls(status, bwrap=bwrap, pids_parent=parent, pids_max=pids_max)

    def launch(self, confinement: Confinement, command: str) -> Launch:
        """The process to start for ``command`` (a ``bash -c`` script). The caller removes the
        launch's cgroup once the process has ended."""
        env = sandbox_environment(confinement, os.environ)
        shell = ["bash", "--noprofile", "--norc", "-c", command]
        if self.status.mode is SandboxMode.BWRAP:
            argv = bwrap_arguments(confinement, env, bwrap=self._bwrap) + shell
        else:
            argv = shell
        cgroup = self._cgroup()
        if cgroup is not None:
            argv = ["/bin/sh", "-c", _JOIN_CGROUP, "sh", str(cgroup.procs), *argv]
        return Launch(tuple(argv), env, confinement.cwd, cgroup)

    def _cgroup(self) -> PidsCgroup | None:
        if self._pids_parent is None:
            return None
        try:
            return PidsCgroup.create(self._pids_parent, self._pids_max, self._leftovers)
        except OSError:
            return None


async def _probe_bwrap(bwrap: str, limited: bool) -> SandboxStatus:
    mode = SandboxMode.BWRAP
    if shutil.which(bwrap) is None:
        return SandboxStatus(mode, False, f"{bwrap} is not installed (Debian: bubblewrap)")
    with tempfile.TemporaryDirectory(prefix="yoi-sandbox-probe-") as scratch:
        where = Path(scratch)
        confinement = Confinement(workdir=where, cwd=where, home=where)
        env = sandbox_environment(confinement, os.environ)
        argv = [*bwrap_arguments(confinement, env, bwrap=bwrap), "true"]
        code, output = await _run_probe(argv, env)
    if code == 0:
        return SandboxStatus(mode, True, "", limited)
    reason = output.strip().splitlines()[-1] if output.strip() else f"exit status {code}"
    return SandboxStatus(mode, False, f"bwrap cannot run here: {reason}", limited)


async def _run_probe(argv: list[str], env: Mapping[str, str]) -> tuple[int, str]:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as error:
        return -1, error.strerror or str(error)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            output, _ = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return -1, f"the probe did not finish within {PROBE_TIMEOUT:g}s"
    return process.returncode or 0, output.decode("utf-8", "replace")


async def _kill_and_wait(pids: list[int]) -> None:
    loop = asyncio.get_running_loop()
    exits: list[asyncio.Future[None]] = []
    opened: list[int] = []
    try:
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            opened.append(fd)
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            exited = loop.create_future()
            loop.add_reader(fd, _settle, exited)  # a pidfd reads ready once its process exits
            exits.append(exited)
        await asyncio.gather(*exits)
    finally:
        for fd in opened:
            loop.remove_reader(fd)
            os.close(fd)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _own_pids_cgroup() -> Path | None:
    """This process's pids cgroup directory, from /proc/self/cgroup (v1 first, then v2)."""
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            return Path("/sys/fs/cgroup/pids") / path.lstrip("/")
    for line in lines:
        if line.startswith("0::"):
            return Path("/sys/fs/cgroup") / line[3:].lstrip("/")
    return None


def _can_cap(parent: Path, limit: int) -> bool:
    try:
        cgroup = PidsCgroup.create(parent, limit, set())
    except OSError:
        return False
    cgroup.remove()
    return True
