"""The orchestrator's SQLite connection: how it is opened, how a write commits, how it fails.

A connection runs in WAL mode with ``synchronous=FULL`` (a commit is on disk before it
returns, so a crash or a power cut loses no committed step), foreign keys on and
``trusted_schema`` off. Every write is one ``BEGIN IMMEDIATE`` transaction: it takes the
write lock up front, so two writers queue (for ``BUSY_TIMEOUT_MS``) instead of failing
half way. SQLite's errors become the store errors of :mod:`yoi.errors` here; nothing above
this module sees a ``sqlite3`` exception.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from yoi.errors import StoreCorrupt, StoreError, StoreFull, StoreLocked
from yoi.runtime.stores.fs.disk import store_failure

__all__ = ["BUSY_TIMEOUT_MS", "Database", "database_failure"]

BUSY_TIMEOUT_MS = 5000

_CORRUPT = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def database_failure(error: sqlite3.Error, doing: str) -> StoreError:
    """The store error for a SQLite error. SQLite's messages name no path, so they are kept."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    reason = str(error) or type(error).__name__
    if primary in _CORRUPT:
        return StoreCorrupt(f"{doing}: the orchestrator state is not a sound database ({reason})")
    if primary == sqlite3.SQLITE_FULL:
        return StoreFull(f"{doing}: {reason}; it works again once space is freed")
    if primary in _LOCKED:
        return StoreLocked(f"{doing}: another process holds the orchestrator state ({reason})")
    return StoreError(f"{doing}: {reason}")


class Database:
    """One connection, shared by the threads of one process under a lock."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, path: Path) -> Database:
        """Open (creating when missing) the database at ``path`` and set its pragmas."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise store_failure(error, "cannot make the orchestrator state's folder") from None
        try:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise database_failure(error, "cannot open the orchestrator state") from None
        # sqlite3's own decoding error quotes the undecodable text; a plain decode raises a
        # UnicodeDecodeError that ``reading`` turns into store_corrupt without it.
        connection.text_factory = _utf8
        database = cls(connection)
        try:
            database._configure()
        except BaseException:
            connection.close()
            raise
        return database

    def _configure(self) -> None:
        with self.reading("cannot open the orchestrator state") as connection:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StoreError("the orchestrator state's folder does not allow WAL mode")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA trusted_schema = OFF")
            problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise StoreCorrupt(
                    "the orchestrator state failed its integrity check",
                    details={"problems": [str(problem) for problem in problems[:5]]},
                )

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextmanager
    def reading(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection for statements outside a transaction; SQLite errors converted."""
        with self._lock:
            try:
                yield self._connection
            except sqlite3.Error as error:
                raise database_failure(error, doing) from None
            except UnicodeDecodeError:
                # Text that is not UTF-8, in a row or in one of SQLite's messages about a
                # damaged schema: only a damaged file holds it, as this code writes UTF-8.
                raise StoreCorrupt(
                    f"{doing}: the orchestrator state holds text that is not UTF-8"
                ) from None

    @contextmanager
    def writing(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back when it raises."""
        with self.reading(doing) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            finally:
                # A failed COMMIT may leave the transaction open (SQLITE_BUSY does):
                # end it so the next write starts clean.
                if connection.in_transaction:
                    connection.execute("ROLLBACK")


def _utf8(data: bytes) -> str:
    return data.decode("utf-8")
