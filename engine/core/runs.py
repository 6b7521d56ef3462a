"""RunStore: every training run, its metrics and its checkpoints, kept on disk as they happen.

Layout under `root`:
    runs.sqlite                                   runs, metrics, commands, artifacts and the SHA-256 of
                                                  every checkpoint (SQLite in WAL mode)
    checkpoints/<run_id>/epoch_0003.safetensors   one state_dict per saved epoch; its metadata holds the
                                                  run's model, dataset and params, so `runs recover`
                                                  can rebuild the run if runs.sqlite is lost

Which epochs a run keeps is its retention policy (engine/core/retention.py); checkpoint_epochs()
lists the files that exist, so every epoch picker offers only those.

Faults it survives: a checkpoint whose bytes changed fails its checksum (DamagedCheckpoint, never
silently loaded); a damaged runs.sqlite raises StoreDamaged, whose message says how to recover
(engine/core/recovery.py); a data dir that cannot be written (read-only, or a full disk) opens
read-only: runs can be listed and opened, and every write raises StoreReadOnly saying why. Temp
files left by a process killed while writing a checkpoint are removed when the store opens.

Every run trains in a process of its own (engine/core/jobs.py). The store is how that process and the
pages meet: the job writes metrics, its live `progress` (step, epoch, paused, ETA) and small
per-epoch `artifacts` (a confusion matrix, a decision grid) here; pages read them, and send control
(stop, pause, resume, step) as rows of the `commands` table that the job polls between steps.

The app (several threads) and the CLI (another process) write the same database at once, so every
public method opens its own short-lived connection: nothing is shared between threads, and SQLite's
locking (with a 30 s busy timeout) serialises the writers.

Metric values: SQLite cannot store NaN (it turns it into NULL), so a NaN value is stored as NULL
and reads back as NaN in the DataFrames. +/-inf are stored as they are.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import os
import shutil
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import torch
from safetensors import safe_open
from safetensors.torch import load as load_safetensors, save as save_safetensors

from engine.core.numbers import SQLITE_MAX_INT, is_whole
from engine.core.sweep_records import SweepRecords

# "pruned": a sweep's scheduler (ASHA, median) ended the trial early, its metric behind the others'.
RUN_STATUSES = ("running", "completed", "stopped", "diverged", "failed", "interrupted", "pruned")

INTERRUPTED_MESSAGE = (
    "the process training it stopped unexpectedly; metrics and checkpoints up to then are kept"
)

# The live frame (RunStore.save_frame) lives in the artifacts table at this epoch, its arrays
# names prefixed, beside FRAME_STEP: the step it was drawn at.
LIVE_EPOCH = -1
LIVE_PREFIX = "live/"
FRAME_STEP = "step"
METRIC_COLUMNS = ["step", "epoch", "name", "value", "wall_time"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    model    TEXT NOT NULL,
    dataset  TEXT NOT NULL,
    params   TEXT NOT NULL,              -- JSON
    status   TEXT NOT NULL,
    message  TEXT,
    owner    TEXT NOT NULL DEFAULT '',   -- "host:pid:start_time" of the process training it
    created  REAL NOT NULL,
    updated  REAL NOT NULL,
    final    TEXT NOT NULL DEFAULT '{}', -- JSON
    progress TEXT NOT NULL DEFAULT '{}', -- JSON: the job's live state (engine.core.jobs.Progress)
    sweep_id INTEGER                     -- the sweep it is a trial of (engine/sweep), or NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step      INTEGER NOT NULL,
    epoch     INTEGER,
    name      TEXT NOT NULL,
    value     REAL,                      -- NULL where the value was NaN or missing
    wall_time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_run_id ON metrics(run_id);
CREATE TABLE IF NOT EXISTS sweeps (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    created  REAL NOT NULL,
    updated  REAL NOT NULL,
    spec     TEXT NOT NULL,              -- JSON: engine.sweep.spec.SweepSpec
    status   TEXT NOT NULL,              -- running | completed | stopped | failed | interrupted
    message  TEXT,
    metric   TEXT NOT NULL,
    mode     TEXT NOT NULL,              -- max | min
    best_run INTEGER,                    -- the trial with the best metric, once known
    owner    TEXT NOT NULL DEFAULT ''    -- "host:pid:start_time" of the process driving it
);
CREATE TABLE IF NOT EXISTS sweep_commands (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    sweep_id INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    verb     TEXT NOT NULL,              -- stop
    created  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    verb     TEXT NOT NULL,              -- stop | pause | resume | step | ...
    args     TEXT NOT NULL DEFAULT '{}', -- JSON
    created  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_run_id ON commands(run_id);
CREATE TABLE IF NOT EXISTS artifacts (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch    INTEGER NOT NULL,
    name     TEXT NOT NULL,
    data     BLOB NOT NULL,              -- one array in .npy format
    PRIMARY KEY (run_id, name, epoch)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch    INTEGER NOT NULL,
    sha256   TEXT NOT NULL,              -- of the file's bytes, checked each time it is loaded
    PRIMARY KEY (run_id, epoch)
);
"""

# The tables a run's rows live in (besides `runs`), in the order they are deleted.
RUN_TABLES = ("metrics", "commands", "artifacts", "checkpoints")

# The key of a checkpoint's safetensors metadata that holds its run (id, model, dataset, params, created,
# and its sweep's id for a sweep's trial).
RUN_METADATA_KEY = "deep_playground_run"

RECOVER_HINT = ("run `python -m engine runs recover` to move it aside and rebuild the runs from their "
                "checkpoints (or move it aside yourself: a new, empty store is made in its place)")

# Columns added after the first release: (table, column, definition), added to older stores on open.
_MIGRATIONS = (("runs", "progress", "TEXT NOT NULL DEFAULT '{}'"), ("runs", "sweep_id", "INTEGER"))


class RunStoreError(Exception):
    """The run store cannot do what was asked; the message says what is wrong and what to do."""


class StoreDamaged(RunStoreError):
    """runs.sqlite is not a readable SQLite database (bad header, truncated, overwritten)."""


class StoreReadOnly(RunStoreError):
    """The store cannot be written here (read-only folder or file system, or a full disk)."""


class DamagedCheckpoint(ValueError):
    """A checkpoint file whose bytes are not those saved (its SHA-256 differs)."""


def sqlite_error_kind(err: sqlite3.Error) -> str | None:
    """"damaged", "unwritable" or None (an error of the caller's, e.g. a constraint), from SQLite's
    own error code (Python 3.11+), else from its message."""
    name = getattr(err, "sqlite_errorname", None) or ""
    text = str(err).lower()
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or text in (
            "file is not a database", "database disk image is malformed"):
        return "damaged"
    if name.startswith(("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_PERM")) or \
            any(words in text for words in ("readonly database", "disk is full", "disk i/o error",
                                            "unable to open database file")):
        return "unwritable"
    return None


def read_only_uri(db_path: Path, immutable: bool = False) -> str:
    """The URI that opens a database file read-only (`immutable`: not even its -shm is needed)."""
    return Path(db_path).resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")


_UNWRITABLE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT}


def _disk_full(path: Path) -> bool:
    try:
        return os.statvfs(path).f_bavail == 0
    except (OSError, AttributeError):  # no statvfs on Windows
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # exists, owned by another user
    except (ProcessLookupError, OverflowError, OSError):
        return False
    stat = _proc_stat(pid)
    return not (stat and stat[0] == "Z")  # a zombie writes nothing any more


@dataclass
class Run:
    id: int
    model: str
    dataset: str
    params: dict
    status: str
    message: str | None
    created: float
    updated: float
    final: dict
    progress: dict = field(default_factory=dict)
    sweep_id: int | None = None  # the sweep it is a trial of


@dataclass(frozen=True)
class Command:
    id: int
    verb: str
    args: dict


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc/<pid>/stat, or None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], fields[19]  # field 3 (state) and field 22 (start time in clock ticks)


def _owner_of(pid: int) -> str:
    stat = _proc_stat(pid)
    return f"{socket.gethostname()}:{pid}:{stat[1] if stat else ''}"


def _owner_alive(owner: str) -> bool:
    """False only when we can tell the owning process is gone; runs of other machines count as alive."""
    try:
        host, pid_text, start = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return True  # not an owner we wrote: leave the run alone
    if host != socket.gethostname():
        return True
    if not _pid_alive(pid):  # gone, or killed and not reaped yet by its parent
        return False
    stat = _proc_stat(pid)
    # A different start time means the pid was reused by an unrelated process.
    return (stat[1] if stat else "") == start


def _metric_value(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _npy(array) -> bytes:
    """One array in .npy format (no pickles: what is read back can never run code)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _storable_id(run_id) -> bool:
    """Whether SQLite can hold (and so look up) `run_id`: a larger int raises OverflowError there."""
    return not isinstance(run_id, int) or -SQLITE_MAX_INT - 1 <= run_id <= SQLITE_MAX_INT


class RunStore(SweepRecords):
    _owner_of = staticmethod(_owner_of)  # for SweepRecords: a sweep has an owning process too

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.db_path = self.root / "runs.sqlite"
        self.checkpoint_root = self.root / "checkpoints"
        # Why the store cannot be written here (read-only, full disk), or None where it can.
        self.read_only: str | None = None
        self._read_uri: str | None = None  # the URI reads use while read-only
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._prepare()
            self.mark_interrupted()
            self.mark_sweeps_interrupted()
        except (StoreReadOnly, OSError) as err:
            if isinstance(err, OSError) and err.errno not in _UNWRITABLE_ERRNOS:
                raise
            self._open_read_only(err)
            return
        self._remove_orphaned_temp_files()

    def _prepare(self) -> None:
        """WAL mode, the schema, and the columns added since older stores were made. On a store
        that has them all this reads and never writes."""
        with self._connect() as conn:
            # WAL lets readers (the app drawing curves) run while a trainer writes; it is a
            # property of the database file, so setting it once here is enough.
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            for table, column, definition in _MIGRATIONS:
                if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def _open_read_only(self, err: Exception) -> None:
        """Read through SQLite's read-only mode: listing and opening runs needs no writes. A
        WAL-mode database needs its -shm file even to be read; where that cannot be created either,
        read it as immutable (nothing can write there anyway)."""
        why = self._why_unwritable(err)
        if not self.db_path.is_file():
            raise StoreReadOnly(f"cannot create the run store in {self.root}: {why}") from err
        self.read_only = why
        for uri in (read_only_uri(self.db_path), read_only_uri(self.db_path, immutable=True)):
            self._read_uri = uri
            try:
                with self._connect() as conn:
                    conn.execute("SELECT COUNT(*) FROM runs").fetchone()
                    self._read_older_schema(conn)
                return
            except StoreReadOnly:
                continue
        raise StoreReadOnly(f"cannot read the run store {self.db_path}: {why}") from err

    def _read_older_schema(self, conn: sqlite3.Connection) -> None:
        """A store made before the latest columns, opened read-only, cannot be migrated: read the
        columns it lacks as their defaults (no sweeps, no sweep tag), so its runs still list and open."""
        have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        defaults = {"progress": "'{}'", "sweep_id": "NULL"}
        self._RUN_COLUMNS = ", ".join(name if name in have or name not in defaults else f"{defaults[name]} AS {name}"
                                      for name in RunStore._RUN_COLUMNS.split(", "))
        self.has_sweeps = "sweep_id" in have and conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sweeps'").fetchone() is not None

    def _why_unwritable(self, err: Exception) -> str:
        cause = err.__cause__ if isinstance(err, StoreReadOnly) and err.__cause__ else err
        if _disk_full(self.root) or getattr(cause, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or \
                "disk is full" in str(cause):
            return "the disk is full"
        try:
            if os.statvfs(self.root).f_flag & os.ST_RDONLY:
                return "it is on a read-only file system"
        except (OSError, AttributeError):
            pass
        if self.root.is_dir() and not os.access(self.root, os.W_OK):
            return "this user may not write to its folder"
        detail = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        return f"it is read-only here ({detail})"

    def _cannot_write(self, why: str | None = None) -> StoreReadOnly:
        why = why or self.read_only
        if why == "the disk is full":
            fix = "free some space (Home's \"Disk used by runs\" deletes old checkpoints) and try again"
        else:
            fix = ("make the folder writable, or use another data dir ($DEEP_PLAYGROUND_DATA or --data-dir); "
                   "runs can still be listed and opened")
        return StoreReadOnly(f"the run store in {self.root} cannot be written: {why}: {fix}")

    # -- connections -------------------------------------------------------------------------

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A fresh connection per call, so any thread may use the store; commits and closes.
        SQLite errors that are the store's (damaged file, cannot write) come out as StoreDamaged or
        StoreReadOnly, with what to do."""
        if write and self.read_only:
            raise self._cannot_write()
        try:
            # isolation_level=None: we open transactions ourselves, below.
            if self._read_uri:
                conn = sqlite3.connect(self._read_uri, uri=True, timeout=30, isolation_level=None)
            else:
                conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        except sqlite3.Error as err:
            raise self._store_error(err) from err
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")  # safe in WAL mode, far fewer fsyncs
            if not write:
                yield conn
                return
            # IMMEDIATE takes the write lock up front, where the busy timeout applies; a deferred
            # transaction that reads first can fail at once with "database is locked" on upgrade.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may already have rolled back (disk full, ...)
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            error = self._store_error(err)
            if error is err:
                raise
            raise error from err
        finally:
            conn.close()

    def _store_error(self, err: sqlite3.Error) -> Exception:
        """The store's own problem in words (damaged, cannot write), or `err` itself."""
        kind = sqlite_error_kind(err)
        if kind == "damaged":
            return StoreDamaged(f"the run store {self.db_path} is damaged ({err}): {RECOVER_HINT}")
        if kind == "unwritable":
            return self._cannot_write(self._why_unwritable(err))
        return err

    @staticmethod
    def _require_run(conn: sqlite3.Connection, run_id: int) -> None:
        if not _storable_id(run_id) or conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise KeyError(f"no run with id {run_id}")

    def mark_interrupted(self, run_id: int | None = None, message: str = INTERRUPTED_MESSAGE) -> list[int]:
        """Runs left "running" by a process that no longer exists will never finish: say so.
        Checks every running run, or only `run_id`; returns the ids it marked (none while the
        store is read-only: it cannot mark them)."""
        return self._interrupt_dead("runs", message, run_id)

    def _interrupt_dead(self, table: str, message: str, only_id: int | None = None) -> list[int]:
        """Rows of `table` (runs, sweeps) left "running" by a process that no longer exists, or only
        row `only_id`, marked interrupted with `message`; returns their ids."""
        if self.read_only:
            return []
        query, args = f"SELECT id, owner FROM {table} WHERE status = 'running'", ()
        if only_id is not None:
            query, args = query + " AND id = ?", (only_id,)
        with self._connect() as conn:
            running = conn.execute(query, args).fetchall()
        dead = [i for i, owner in running if not _owner_alive(owner)]
        if dead:
            with self._connect(write=True) as conn:
                conn.executemany(
                    f"UPDATE {table} SET status = 'interrupted', message = ?, updated = ?"
                    " WHERE id = ? AND status = 'running'",
                    [(message, time.time(), i) for i in dead],
                )
        return dead

    # -- runs --------------------------------------------------------------------------------

    def create_run(self, model: str, dataset: str, params: dict, sweep_id: int | None = None) -> int:
        now = time.time()
        with self._connect(write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO runs (model, dataset, params, status, owner, created, updated, sweep_id)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                (model, dataset, json.dumps(params), _owner_of(os.getpid()), now, now, sweep_id),
            )
            return cursor.lastrowid

    def set_status(self, run_id: int, status: str, message: str | None = None,
                   final: dict | None = None) -> None:
        """Set status and message; `final` replaces the final metrics when given."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {RUN_STATUSES}")
        with self._connect(write=True) as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, message = ?, updated = ?,"
                " final = COALESCE(?, final) WHERE id = ?",
                (status, message, time.time(), None if final is None else json.dumps(final), run_id),
            )
            if cursor.rowcount == 0:
                raise KeyError(f"no run with id {run_id}")

    def set_owner(self, run_id: int, pid: int) -> None:
        """The process training the run (a job's child process): when it is gone, so is the run."""
        with self._connect(write=True) as conn:
            cursor = conn.execute("UPDATE runs SET owner = ? WHERE id = ?", (_owner_of(pid), run_id))
            if cursor.rowcount == 0:
                raise KeyError(f"no run with id {run_id}")

    def set_progress(self, run_id: int, progress: dict) -> None:
        with self._connect(write=True) as conn:
            self._write_progress(conn, run_id, progress)

    @staticmethod
    def _write_progress(conn: sqlite3.Connection, run_id: int, progress: dict) -> None:
        cursor = conn.execute("UPDATE runs SET progress = ?, updated = ? WHERE id = ?",
                              (json.dumps(progress), time.time(), run_id))
        if cursor.rowcount == 0:
            raise KeyError(f"no run with id {run_id}")

    _RUN_COLUMNS = "id, model, dataset, params, status, message, created, updated, final, progress, sweep_id"

    @staticmethod
    def _run_from_row(row: tuple) -> Run:
        id_, model, dataset, params, status, message, created, updated, final, progress, sweep_id = row
        return Run(id_, model, dataset, json.loads(params), status, message, created, updated,
                   json.loads(final), json.loads(progress), sweep_id)

    def get_run(self, run_id: int) -> Run:
        if not _storable_id(run_id):  # e.g. a 20-digit id typed in a URL: no such run, not an OverflowError
            raise KeyError(f"no run with id {run_id}")
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise KeyError(f"no run with id {run_id}")
        return self._run_from_row(row)

    def list_runs(self, limit: int | None = None) -> list[Run]:
        """Newest first (ids only grow, so they order runs even when clocks tie)."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [self._run_from_row(row) for row in rows]

    def delete_run(self, run_id: int) -> None:
        with self._connect(write=True) as conn:
            self._require_run(conn, run_id)
            for table in RUN_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self._checkpoint_dir(run_id), ignore_errors=True)

    # -- metrics -----------------------------------------------------------------------------

    def append_metrics(self, run_id: int, rows: Iterable[tuple], progress: dict | None = None) -> None:
        """rows: (step, epoch or None, name, value, wall_time); NaN values are stored as NULL.
        `progress`, when given, is written in the same transaction: a reader never sees an
        epoch's metrics without the state that goes with them (e.g. "paused after this epoch")."""
        records = [
            (run_id, int(step), None if epoch is None else int(epoch), str(name),
             _metric_value(value), float(wall_time))
            for step, epoch, name, value, wall_time in rows
        ]
        if not records and progress is None:
            return
        try:
            with self._connect(write=True) as conn:
                conn.executemany(
                    "INSERT INTO metrics (run_id, step, epoch, name, value, wall_time)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    records,
                )
                if progress is not None:
                    self._write_progress(conn, run_id, progress)
        except sqlite3.IntegrityError as error:  # the foreign key: no such run
            raise KeyError(f"no run with id {run_id}") from error

    def metrics(self, run_id: int, names: list[str] | None = None) -> pd.DataFrame:
        """Long format (step, epoch, name, value, wall_time) in the order the rows were written."""
        return self.metrics_since(run_id, 0, names)[0]

    def metrics_since(self, run_id: int, after: int, names: list[str] | None = None) -> tuple[pd.DataFrame, int]:
        """The rows written after row number `after` (0: all), and the number to pass next time:
        a live view reads only what is new since its last refresh."""
        query = "SELECT rowid, step, epoch, name, value, wall_time FROM metrics WHERE run_id = ? AND rowid > ?"
        args: list = [run_id, after]
        if names is not None:
            query += f" AND name IN ({','.join('?' * len(names))})"
            args += list(names)
        with self._connect() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(query + " ORDER BY rowid", args).fetchall()
        last = rows[-1][0] if rows else after
        frame = pd.DataFrame([row[1:] for row in rows], columns=METRIC_COLUMNS)
        # Fixed dtypes, also for an empty run: epoch may be missing (step-level metrics).
        return frame.astype({"step": "int64", "epoch": "Int64", "name": "str",
                             "value": "float64", "wall_time": "float64"}), last

    # -- commands: how a page (or the CLI) controls a job running in another process -----------

    def send_command(self, run_id: int, verb: str, **args) -> int:
        with self._connect(write=True) as conn:
            self._require_run(conn, run_id)
            cursor = conn.execute("INSERT INTO commands (run_id, verb, args, created) VALUES (?, ?, ?, ?)",
                                  (run_id, verb, json.dumps(args), time.time()))
            return cursor.lastrowid

    def commands_since(self, run_id: int, after: int) -> list[Command]:
        """Commands sent to the run after command id `after`, oldest first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT id, verb, args FROM commands WHERE run_id = ? AND id > ? ORDER BY id",
                                (run_id, after)).fetchall()
        return [Command(i, verb, json.loads(args)) for i, verb, args in rows]

    # -- artifacts: small arrays a job computes per epoch, so pages need not recompute them ----

    def save_artifacts(self, run_id: int, epoch: int, arrays: dict[str, np.ndarray]) -> None:
        with self._connect(write=True) as conn:
            conn.executemany("INSERT OR REPLACE INTO artifacts (run_id, epoch, name, data) VALUES (?, ?, ?, ?)",
                             [(run_id, int(epoch), name, _npy(a)) for name, a in arrays.items()])

    def artifact(self, run_id: int, name: str, epoch: int | None = None) -> tuple[int, np.ndarray] | None:
        """(epoch, array) of `name` at `epoch` (the latest when None), or None if there is none."""
        query = "SELECT epoch, data FROM artifacts WHERE run_id = ? AND name = ?"
        args: tuple = (run_id, name)
        if epoch is not None:
            query, args = query + " AND epoch = ?", args + (int(epoch),)
        with self._connect() as conn:
            row = conn.execute(query + " ORDER BY epoch DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        return row[0], np.load(io.BytesIO(row[1]), allow_pickle=False)

    # -- the live frame: what a job draws while it trains (the 2D boundary, each neuron's map) --
    # One frame per run, replaced each time: the arrays of the newest one, at epoch LIVE_EPOCH of
    # the artifacts table, under "live/<name>", with the step it was drawn at. A page polls it.

    def save_frame(self, run_id: int, step: int, arrays: dict[str, np.ndarray]) -> None:
        """Replace the run's live frame by these arrays, drawn at `step` (one transaction: a reader
        sees the whole old frame or the whole new one). Names missing from this frame are dropped."""
        rows = [(run_id, LIVE_EPOCH, f"{LIVE_PREFIX}{name}", _npy(a)) for name, a in
                {**arrays, FRAME_STEP: np.array([int(step)], dtype=np.int64)}.items()]
        with self._connect(write=True) as conn:
            conn.execute("DELETE FROM artifacts WHERE run_id = ? AND epoch = ?", (run_id, LIVE_EPOCH))
            conn.executemany("INSERT INTO artifacts (run_id, epoch, name, data) VALUES (?, ?, ?, ?)", rows)

    def frame_step(self, run_id: int) -> int | None:
        """The step the run's live frame was drawn at (None: no frame yet): a cheap "has it changed"."""
        with self._connect() as conn:
            row = conn.execute("SELECT data FROM artifacts WHERE run_id = ? AND epoch = ? AND name = ?",
                               (run_id, LIVE_EPOCH, f"{LIVE_PREFIX}{FRAME_STEP}")).fetchone()
        return None if row is None else int(np.load(io.BytesIO(row[0]), allow_pickle=False)[0])

    def frame(self, run_id: int) -> tuple[int, dict[str, np.ndarray]] | None:
        """(step, arrays) of the run's live frame, or None when it has none."""
        with self._connect() as conn:
            rows = conn.execute("SELECT name, data FROM artifacts WHERE run_id = ? AND epoch = ?",
                                (run_id, LIVE_EPOCH)).fetchall()
        arrays = {name[len(LIVE_PREFIX):]: np.load(io.BytesIO(data), allow_pickle=False) for name, data in rows}
        if FRAME_STEP not in arrays:
            return None
        return int(arrays.pop(FRAME_STEP)[0]), arrays

    def metrics_wide(self, run_id: int) -> pd.DataFrame:
        """One row per (step, epoch), one column per metric name, both in first-written order."""
        long = self.metrics(run_id)
        # A metric logged twice for the same step and epoch: the later value wins.
        long = long.drop_duplicates(["step", "epoch", "name"], keep="last")
        wide = long.set_index(["step", "epoch", "name"])["value"].unstack("name", sort=False)
        wide.columns.name = None
        return wide.reset_index()

    def export_csv(self, run_id: int) -> str:
        return self.metrics_wide(run_id).to_csv(index=False)

    # -- checkpoints -------------------------------------------------------------------------

    def _checkpoint_dir(self, run_id: int) -> Path:
        return self.checkpoint_root / str(int(run_id))

    def _checkpoint_path(self, run_id: int, epoch: int) -> Path:
        return self._checkpoint_dir(run_id) / f"epoch_{int(epoch):04d}.safetensors"

    def save_checkpoint(self, run_id: int, epoch: int, state_dict: dict[str, torch.Tensor]) -> Path:
        """Write the epoch's state_dict, with its run in the file's metadata, and record its SHA-256."""
        path = self._checkpoint_path(run_id, epoch)
        run = self.get_run(run_id)
        # safetensors wants contiguous CPU tensors that share no memory (tied weights would);
        # cloning gives each its own storage and a snapshot the trainer cannot change mid-write.
        tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
        data = save_safetensors(tensors, metadata={RUN_METADATA_KEY: json.dumps(
            {"id": run.id, "model": run.model, "dataset": run.dataset, "params": run.params,
             "created": run.created, "epoch": int(epoch),
             **({"sweep_id": run.sweep_id} if run.sweep_id is not None else {})})})
        # The old checksum goes first: a crash between the steps leaves a file without one (loaded
        # unchecked, as checkpoints from before checksums are), never a good file that fails its check.
        with self._connect(write=True) as conn:
            conn.execute("DELETE FROM checkpoints WHERE run_id = ? AND epoch = ?", (run.id, int(epoch)))
        # Write beside the target and rename: a kill mid-write leaves a stray temp file (its name
        # does not match epoch_*.safetensors, and the next open of the store removes it), never a
        # torn checkpoint.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # the bytes reach the disk before the name points at them
            os.replace(tmp, path)
        except OSError as err:
            if err.errno in _UNWRITABLE_ERRNOS:
                raise self._cannot_write(self._why_unwritable(err)) from err
            raise
        finally:
            tmp.unlink(missing_ok=True)
        with self._connect(write=True) as conn:
            conn.execute("INSERT OR REPLACE INTO checkpoints (run_id, epoch, sha256) VALUES (?, ?, ?)",
                         (run.id, int(epoch), hashlib.sha256(data).hexdigest()))
        return path

    def checkpoint_epochs(self, run_id: int) -> list[int]:
        """The epochs whose checkpoint files exist (a retention policy may have removed others)."""
        paths = self._checkpoint_dir(run_id).glob("epoch_*.safetensors")
        return sorted(int(p.stem.removeprefix("epoch_")) for p in paths)

    def load_checkpoint(self, run_id: int, epoch: int | None = None) -> dict[str, torch.Tensor]:
        """The state_dict of `epoch`, or of the latest saved epoch when None (never unpickles).
        Raises DamagedCheckpoint when its bytes are not those saved (a checkpoint saved before
        checksums were recorded loads unchecked)."""
        epochs = self.checkpoint_epochs(run_id)
        if not epochs:
            raise FileNotFoundError(f"run {run_id} has no checkpoints")
        if epoch is None:
            epoch = epochs[-1]
        elif epoch not in epochs:
            raise FileNotFoundError(
                f"run {run_id} has no checkpoint for epoch {epoch}; saved epochs: {epochs}"
            )
        data = self._checkpoint_path(run_id, epoch).read_bytes()  # one read: checked, then parsed
        expected = self.checksums(run_id).get(epoch)
        if expected is not None and hashlib.sha256(data).hexdigest() != expected:
            raise DamagedCheckpoint("its bytes have changed since it was saved: its SHA-256 differs from the "
                                    "one recorded then")
        return load_safetensors(data)

    def checksums(self, run_id: int) -> dict[int, str]:
        """{epoch: SHA-256} recorded for the run's checkpoints (none for those saved before checksums)."""
        try:
            with self._connect() as conn:
                rows = conn.execute("SELECT epoch, sha256 FROM checkpoints WHERE run_id = ?", (run_id,)).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):  # an older store opened read-only: it has none
                return {}
            raise
        return dict(rows)

    def checkpoint_problem(self, run_id: int, epoch: int) -> str | None:
        """Why the epoch's checkpoint is damaged (changed bytes, unreadable), or None; reads the whole file."""
        try:
            self.load_checkpoint(run_id, epoch)
        except Exception as err:  # DamagedCheckpoint, or safetensors' own errors on a torn file
            return f"{type(err).__name__}: {str(err)[:200]}"
        return None

    def record_checksums(self, run_id: int) -> int:
        """Record the SHA-256 of the run's checkpoints that have none (recovery; older runs): from
        now on a change to them is caught. Returns how many were recorded."""
        known = self.checksums(run_id)
        rows = [(run_id, epoch, hashlib.sha256(self._checkpoint_path(run_id, epoch).read_bytes()).hexdigest())
                for epoch in self.checkpoint_epochs(run_id) if epoch not in known]
        if rows:
            with self._connect(write=True) as conn:
                conn.executemany("INSERT OR REPLACE INTO checkpoints (run_id, epoch, sha256) VALUES (?, ?, ?)", rows)
        return len(rows)

    def delete_checkpoints(self, run_id: int, epochs: Iterable[int]) -> int:
        """Remove these epochs' checkpoints (files and checksums); returns the bytes freed."""
        epochs = [int(e) for e in epochs]
        if not epochs:
            return 0
        if self.read_only:
            raise self._cannot_write()
        freed = 0
        for epoch in epochs:
            path = self._checkpoint_path(run_id, epoch)
            try:
                size = path.stat().st_size
                path.unlink()
                freed += size
            except FileNotFoundError:
                pass
        with self._connect(write=True) as conn:
            conn.executemany("DELETE FROM checkpoints WHERE run_id = ? AND epoch = ?",
                             [(run_id, epoch) for epoch in epochs])
        return freed

    def checkpoint_sizes(self, run_id: int) -> dict[int, int]:
        """{epoch: bytes} of the run's checkpoint files."""
        return {epoch: self._checkpoint_path(run_id, epoch).stat().st_size for epoch in self.checkpoint_epochs(run_id)}

    def checkpoint_run_metadata(self, run_id: int) -> dict | None:
        """The run a checkpoint folder belongs to, as its newest readable checkpoint records it
        ({"id", "model", "dataset", "params", "created", "epoch"}), or None (none readable, or all
        saved before checkpoints carried their run)."""
        for epoch in reversed(self.checkpoint_epochs(run_id)):
            try:
                with safe_open(str(self._checkpoint_path(run_id, epoch)), framework="pt") as f:
                    text = (f.metadata() or {}).get(RUN_METADATA_KEY)
                return json.loads(text) if text else None
            except Exception:  # a torn header: try the epoch before
                continue
        return None

    def checkpoint_run_ids(self) -> list[int]:
        """The run ids that have a checkpoint folder, whether or not the store knows the run."""
        if not self.checkpoint_root.is_dir():
            return []
        return sorted(int(p.name) for p in self.checkpoint_root.iterdir() if p.is_dir() and is_whole(p.name)
                      and int(p.name) > 0)

    # -- disk ----------------------------------------------------------------------------------

    def disk_usage(self) -> int:
        """Bytes of every file of the store: the database (with its WAL) and the checkpoints."""
        total = 0
        for folder, _, files in os.walk(self.root):
            for name in files:
                try:
                    total += os.stat(os.path.join(folder, name), follow_symlinks=False).st_size
                except OSError:  # removed while we walked
                    pass
        return total

    def _remove_orphaned_temp_files(self) -> list[Path]:
        """Temp files of checkpoint writes whose process is gone (killed mid-write): nothing will
        ever finish or remove them. Those of a live process (maybe writing right now) are left."""
        removed = []
        if not self.checkpoint_root.is_dir():
            return removed
        with os.scandir(self.checkpoint_root) as folders:
            for folder in folders:
                if not folder.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(folder.path) as entries:
                    for entry in entries:
                        # .epoch_0003.safetensors.<pid>.tmp
                        parts = entry.name.split(".")
                        if not (entry.name.startswith(".") and parts[-1] == "tmp" and len(parts) >= 4
                                and is_whole(parts[-2])):
                            continue
                        pid = int(parts[-2])
                        if pid > 0 and _pid_alive(pid):
                            continue
                        try:
                            os.unlink(entry.path)
                            removed.append(Path(entry.path))
                        except OSError:
                            pass
        return removed
