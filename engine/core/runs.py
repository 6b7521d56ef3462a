"""RunStore: every training run, its metrics and its checkpoints, kept on disk as they happen.

Layout under `root`:
    runs.sqlite                                   runs, metrics, commands, artifacts (SQLite in WAL mode)
    checkpoints/<run_id>/epoch_0003.safetensors   one state_dict per saved epoch

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
from safetensors.torch import load_file, save_file

from engine.core.numbers import SQLITE_MAX_INT

RUN_STATUSES = ("running", "completed", "stopped", "diverged", "failed", "interrupted")

INTERRUPTED_MESSAGE = (
    "the process training it stopped unexpectedly; metrics and checkpoints up to then are kept"
)

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
    progress TEXT NOT NULL DEFAULT '{}'  -- JSON: the job's live state (engine.core.jobs.Progress)
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
"""

# Columns added after the first release: (table, column, definition), added to older stores on open.
_MIGRATIONS = (("runs", "progress", "TEXT NOT NULL DEFAULT '{}'"),)


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
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass  # exists, owned by another user
    except (ProcessLookupError, OSError):
        return False
    stat = _proc_stat(pid)
    if stat and stat[0] == "Z":
        return False  # a killed process its parent has not reaped yet
    # A different start time means the pid was reused by an unrelated process.
    return (stat[1] if stat else "") == start


def _metric_value(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _storable_id(run_id) -> bool:
    """Whether SQLite can hold (and so look up) `run_id`: a larger int raises OverflowError there."""
    return not isinstance(run_id, int) or -SQLITE_MAX_INT - 1 <= run_id <= SQLITE_MAX_INT


class RunStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "runs.sqlite"
        self.checkpoint_root = self.root / "checkpoints"
        with self._connect() as conn:
            # WAL lets readers (the app drawing curves) run while a trainer writes; it is a
            # property of the database file, so setting it once here is enough.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            for table, column, definition in _MIGRATIONS:
                if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        self.mark_interrupted()

    # -- connections -------------------------------------------------------------------------

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A fresh connection per call, so any thread may use the store; commits and closes."""
        # isolation_level=None: we open transactions ourselves, below.
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
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
        finally:
            conn.close()

    @staticmethod
    def _require_run(conn: sqlite3.Connection, run_id: int) -> None:
        if not _storable_id(run_id) or conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise KeyError(f"no run with id {run_id}")

    def mark_interrupted(self, run_id: int | None = None, message: str = INTERRUPTED_MESSAGE) -> list[int]:
        """Runs left "running" by a process that no longer exists will never finish: say so.
        Checks every running run, or only `run_id`; returns the ids it marked."""
        query, args = "SELECT id, owner FROM runs WHERE status = 'running'", ()
        if run_id is not None:
            query, args = query + " AND id = ?", (run_id,)
        with self._connect() as conn:
            running = conn.execute(query, args).fetchall()
        dead = [i for i, owner in running if not _owner_alive(owner)]
        if dead:
            with self._connect(write=True) as conn:
                conn.executemany(
                    "UPDATE runs SET status = 'interrupted', message = ?, updated = ?"
                    " WHERE id = ? AND status = 'running'",
                    [(message, time.time(), i) for i in dead],
                )
        return dead

    # -- runs --------------------------------------------------------------------------------

    def create_run(self, model: str, dataset: str, params: dict) -> int:
        now = time.time()
        with self._connect(write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO runs (model, dataset, params, status, owner, created, updated)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?)",
                (model, dataset, json.dumps(params), _owner_of(os.getpid()), now, now),
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

    _RUN_COLUMNS = "id, model, dataset, params, status, message, created, updated, final, progress"

    @staticmethod
    def _run_from_row(row: tuple) -> Run:
        id_, model, dataset, params, status, message, created, updated, final, progress = row
        return Run(id_, model, dataset, json.loads(params), status, message, created, updated,
                   json.loads(final), json.loads(progress))

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
            for table in ("metrics", "commands", "artifacts"):
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
        def npy(array) -> bytes:
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(array), allow_pickle=False)
            return buffer.getvalue()
        with self._connect(write=True) as conn:
            conn.executemany("INSERT OR REPLACE INTO artifacts (run_id, epoch, name, data) VALUES (?, ?, ?, ?)",
                             [(run_id, int(epoch), name, npy(a)) for name, a in arrays.items()])

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
        path = self._checkpoint_path(run_id, epoch)
        path.parent.mkdir(parents=True, exist_ok=True)
        # safetensors wants contiguous CPU tensors that share no memory (tied weights would);
        # cloning gives each its own storage and a snapshot the trainer cannot change mid-write.
        tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
        # Write beside the target and rename: a kill mid-write leaves a stray temp file (its name
        # does not match epoch_*.safetensors), never a torn checkpoint.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            save_file(tensors, str(tmp))
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())  # the bytes reach the disk before the name points at them
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def checkpoint_epochs(self, run_id: int) -> list[int]:
        paths = self._checkpoint_dir(run_id).glob("epoch_*.safetensors")
        return sorted(int(p.stem.removeprefix("epoch_")) for p in paths)

    def load_checkpoint(self, run_id: int, epoch: int | None = None) -> dict[str, torch.Tensor]:
        """The state_dict of `epoch`, or of the latest saved epoch when None (never unpickles)."""
        epochs = self.checkpoint_epochs(run_id)
        if not epochs:
            raise FileNotFoundError(f"run {run_id} has no checkpoints")
        if epoch is None:
            epoch = epochs[-1]
        elif epoch not in epochs:
            raise FileNotFoundError(
                f"run {run_id} has no checkpoint for epoch {epoch}; saved epochs: {epochs}"
            )
        return load_file(self._checkpoint_path(run_id, epoch), device="cpu")
