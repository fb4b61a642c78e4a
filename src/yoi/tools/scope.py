"""The authority a tool holds: one workdir, opened as a directory descriptor, and a grant.

A tool never checks a path string by hand. It asks its :class:`Scope` for a file, and
the scope opens it relative to the workdir's descriptor one component at a time with
``O_NOFOLLOW``. Nothing a model writes can name a file outside the workdir: absolute
paths and ``..`` above the root are refused before any system call, a symbolic link is
never followed (a link swapped in after a check fails the open of that component), and
a file with a second hard link is refused since its other name may live elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from types import TracebackType

from yoi.errors import ScopeError

__all__ = ["Capability", "Grant", "Scope", "normalise"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO a model planted must not hang the tool; regular files ignore it.
_FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_ROOT = PurePosixPath(".")
_PROTECTED = (PurePosixPath(".yoi/tickets"),)


class Capability(StrEnum):
    READ = "read"
    WRITE = "write"
    EDIT = "edit"
    GLOB = "glob"
    GREP = "grep"
    COMMAND = "command"
    COMMIT = "commit"
    NETWORK = "network"


@dataclass(frozen=True, slots=True)
class Grant:
    """Capability bits, optionally narrowed to sub-paths of the workdir (``()`` = all of it)."""

    capabilities: frozenset[Capability]
    paths: tuple[str, ...] = ()


class Scope:
    """A workdir a tool may reach, and only as far as its grant says."""

    def __init__(self, root: Path, fd: int, grant: Grant, paths: tuple[PurePosixPath, ...]) -> None:
        self.root = root
        self.grant = grant
        self._fd = fd
        self._paths = paths

    @classmethod
    def open(cls, root: Path, grant: Grant) -> Scope:
        """Open ``root`` (a directory the runtime chose) for tools confined by ``grant``."""
        absolute = Path(os.path.realpath(root))
        paths = tuple(normalise(path) for path in grant.paths)
        try:
            fd = os.open(absolute, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise ScopeError(f"workdir {absolute} cannot be opened: {error.strerror}") from None
        return cls(absolute, fd, grant, paths)

    def __enter__(self) -> Scope:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def require(self, capability: Capability) -> None:
        if capability not in self.grant.capabilities:
            raise ScopeError(f"this worker's grant has no {capability.value!r} capability")

    def allows(self, path: PurePosixPath) -> bool:
        """Whether a normalised relative path lies within the grant's sub-paths."""
        return not self._paths or any(_within(path, granted) for granted in self._paths)

    def relative(self, path: str, *, write: bool = False) -> PurePosixPath:
        """``path`` checked and normalised: relative, inside the workdir and the grant,
        and (for ``write``) outside ``.git`` and ``.yoi/tickets``."""
        normal = normalise(path)
        if not self.allows(normal):
            granted = ", ".join(str(granted) for granted in self._paths)
            raise ScopeError(f"{normal} is outside the granted paths ({granted})")
        if write:
            _refuse_protected(normal)
        return normal

    def open_read(self, path: str) -> int:
        """A descriptor for reading a regular file or directory at ``path``."""
        relative = self.relative(path)
        if relative == _ROOT:
            return os.dup(self._check_open())
        parent = self._walk(relative.parent, create=False)
        try:
            fd = _open_at(parent, relative, os.O_RDONLY | _FILE_FLAGS)
        finally:
            os.close(parent)
        return _checked(fd, relative, directories=True)

    def open_write(self, path: str, *, create: bool) -> int:
        """A descriptor for writing the regular file at ``path`` (created when ``create``)."""
        relative = self.relative(path, write=True)
        parent, _ = self.open_parent(path, create=create)
        flags = os.O_WRONLY | _FILE_FLAGS | (os.O_CREAT if create else 0)
        try:
            fd = _open_at(parent, relative, flags)
        finally:
            os.close(parent)
        return _checked(fd, relative, directories=False)

    def open_parent(self, path: str, *, create: bool) -> tuple[int, str]:
        """The directory holding ``path`` (its missing directories made when ``create``) and
        the final name, for writers that replace a file by renaming within that directory."""
        relative = self.relative(path, write=True)
        if relative == _ROOT:
            raise ScopeError("the workdir itself is not a file")
        return self._walk(relative.parent, create=create), relative.name

    def _walk(self, directory: PurePosixPath, *, create: bool) -> int:
        fd = os.dup(self._check_open())
        for part in directory.parts if directory != _ROOT else ():
            fd = _step(fd, part, directory, create=create)  # _step closes the fd it is given
        return fd

    def _check_open(self) -> int:
        if self._fd < 0:
            raise ScopeError("the scope is closed")
        return self._fd


def normalise(path: str) -> PurePosixPath:
    """``path`` made relative-normal (``a/./b`` is ``a/b``), or refused: absolute, leaving
    the workdir by ``..``, holding a NUL or a lone surrogate."""
    if not isinstance(path, str):
        raise ScopeError("a path must be a string")
    if "\x00" in path:
        raise ScopeError("a path must not contain a NUL byte")
    try:
        os.fsencode(path)
    except UnicodeEncodeError:  # JSON allows a lone surrogate; no file name can hold one
        raise ScopeError("a path must be valid Unicode (it holds a lone surrogate)") from None
    if path.startswith("/"):
        raise ScopeError(f"{path!r} is absolute; paths are relative to the workdir")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part != "..":
            parts.append(part)
        elif parts:
            parts.pop()
        else:
            raise ScopeError(f"{path!r} leaves the workdir")
    return PurePosixPath(*parts) if parts else _ROOT


def _within(path: PurePosixPath, directory: PurePosixPath) -> bool:
    return directory == _ROOT or path == directory or directory in path.parents


def _refuse_protected(path: PurePosixPath) -> None:
    folded = PurePosixPath(*(part.casefold() for part in path.parts))
    if ".git" in folded.parts:
        raise ScopeError(f"{path} is inside git's internals (.git); tools never write there")
    if any(_within(folded, protected) for protected in _PROTECTED):
        raise ScopeError(f"{path} is in the ticket store (.yoi/tickets); use the ticket tools")


def _step(fd: int, part: str, directory: PurePosixPath, *, create: bool) -> int:
    """Descend from ``fd`` (closed here) into its child directory ``part``."""
    try:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=fd)
        return os.open(part, _DIR_FLAGS, dir_fd=fd)
    except OSError as error:
        raise _refusal(error, directory, part) from None
    finally:
        os.close(fd)


def _open_at(parent: int, relative: PurePosixPath, flags: int) -> int:
    try:
        return os.open(relative.name, flags, 0o666, dir_fd=parent)
    except OSError as error:
        raise _refusal(error, relative, relative.name) from None


def _checked(fd: int, path: PurePosixPath, *, directories: bool) -> int:
    """``fd`` when it is a regular file with one link (or a directory, when allowed)."""
    info = os.fstat(fd)
    problem = None
    if stat.S_ISDIR(info.st_mode):
        problem = None if directories else f"{path} is a directory"
    elif not stat.S_ISREG(info.st_mode):
        problem = f"{path} is not a regular file"
    elif info.st_nlink > 1:
        problem = f"{path} has {info.st_nlink} hard links; a linked file may live outside"
    if problem is not None:
        os.close(fd)
        raise ScopeError(problem)
    return fd


def _refusal(error: OSError, path: PurePosixPath, part: str) -> ScopeError:
    if error.errno == errno.ELOOP:
        return ScopeError(f"{path}: {part} is a symbolic link; tools never follow links")
    if error.errno == errno.ENOTDIR:
        return ScopeError(f"{path}: {part} is not a directory (or is a symbolic link)")
    if error.errno == errno.ENOENT:
        return ScopeError(f"{path} does not exist")
    return ScopeError(f"{path} cannot be opened: {error.strerror}")
