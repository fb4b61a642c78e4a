"""The orchestrator database's schema, built one numbered migration at a time.

``PRAGMA user_version`` counts the migrations applied; a new (empty) database is version 0.
Each migration runs in one transaction together with its version bump, so a crash leaves
the database at the version before or after it, never in between. A database at a version
this code does not know was written by a newer yoi: it is refused (``store_too_new``)
rather than written in a schema this code does not understand.

Version 1:

- ``runs``: one row per ticket, the ticket's current run (:class:`~.run_record.Run`).
- ``steps``: the append-only log of operations, one row per status an operation took
  (started, done, failed), in ``seq`` order. Triggers refuse any update or delete.

Version 2:

- ``usage``: the tokens each worker of a ticket's attempt has used so far, one row per
  worker (:class:`~.usage_record.WorkerUsage`); the runs of version 1 are kept as they are.

Version 3:

- ``runs.gate``: the gate a run is parked at (``plan``, ``merge``), null for none.
- ``transitions``: the log of phase changes and gate moves (:mod:`~.transitions`), written
  with the run's save; ``meta``: the database's ``epoch``, which a cursor names.
"""

from __future__ import annotations

from collections.abc import Sequence

from yoi.errors import StoreCorrupt, StoreTooNew
from yoi.orchestrator.database import Database

__all__ = ["MIGRATIONS", "Migration", "migrate", "version"]

Migration = Sequence[str]
"""The statements of one migration, run in order in one transaction."""

_V1: Migration = (
    """
    CREATE TABLE runs (
        ticket_id TEXT PRIMARY KEY,
        attempt INTEGER NOT NULL,
        phase TEXT NOT NULL,
        workdir_id TEXT,
        branch TEXT,
        coder_worker_id TEXT,
        reviewer_worker_id TEXT,
        base_commit TEXT,
        head_commit TEXT,
        approved_commit TEXT,
        review_round INTEGER NOT NULL,
        fix_rounds INTEGER NOT NULL,
        phase_deadline REAL,
        run_deadline REAL,
        started_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        stop_reason TEXT
    ) STRICT
    """,
    """
    CREATE TABLE steps (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        op_id TEXT NOT NULL,
        ticket_id TEXT NOT NULL REFERENCES runs (ticket_id),
        attempt INTEGER NOT NULL,
        kind TEXT NOT NULL,
        round INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('started', 'done', 'failed')),
        result TEXT NOT NULL,
        error TEXT,
        at REAL NOT NULL
    ) STRICT
    """,
    "CREATE INDEX steps_by_op ON steps (op_id, seq)",
    "CREATE INDEX steps_by_ticket ON steps (ticket_id, seq)",
    """
    CREATE TRIGGER steps_never_change BEFORE UPDATE ON steps
    BEGIN SELECT RAISE(ABORT, 'the step log is append-only'); END
    """,
    """
    CREATE TRIGGER steps_never_go BEFORE DELETE ON steps
    BEGIN SELECT RAISE(ABORT, 'the step log is append-only'); END
    """,
)

_V2: Migration = (
    """
    CREATE TABLE usage (
        ticket_id TEXT NOT NULL REFERENCES runs (ticket_id),
        attempt INTEGER NOT NULL,
        worker_id TEXT NOT NULL,
        role TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL CHECK (input_tokens >= 0),
        output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
        cached_tokens INTEGER NOT NULL CHECK (cached_tokens >= 0),
        updated_at REAL NOT NULL,
        PRIMARY KEY (ticket_id, attempt, worker_id)
    ) STRICT
    """,
)

_V3: Migration = (
    "ALTER TABLE runs ADD COLUMN gate TEXT CHECK (gate IN ('plan', 'merge'))",
    """
    CREATE TABLE transitions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ticket_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('phase', 'gate')),
        from_phase TEXT,
        to_value TEXT NOT NULL,
        gate TEXT,
        reason TEXT,
        at REAL NOT NULL
    ) STRICT
    """,
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
    "INSERT INTO meta (key, value) VALUES ('epoch', lower(hex(randomblob(8))))",
)

MIGRATIONS: Sequence[Migration] = (_V1, _V2, _V3)


def version(database: Database) -> int:
    with database.reading("cannot read the orchestrator state's version") as connection:
        row = connection.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(database: Database, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database to ``len(migrations)``, one transaction per step; the version reached.

    The version is read again inside each transaction, so two processes opening a new
    database at once apply each migration once.
    """
    latest = len(migrations)
    found = version(database)
    _refuse_unknown(found, latest)
    for number in range(found + 1, latest + 1):
        with database.writing(f"cannot apply migration {number}") as connection:
            current = int(connection.execute("PRAGMA user_version").fetchone()[0])
            _refuse_unknown(current, latest)
            if current >= number:
                continue
            for statement in migrations[number - 1]:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number}")
    return latest


def _refuse_unknown(found: int, latest: int) -> None:
    if found < 0:
        raise StoreCorrupt(f"the orchestrator state has a negative version ({found})")
    if found > latest:
        raise StoreTooNew(
            f"the orchestrator state is at version {found}, newer than this yoi's {latest}: "
            "upgrade yoi to open it",
            details={"version": found, "supported": latest},
        )
