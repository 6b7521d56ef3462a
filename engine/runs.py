"""RunStore: every training run, its metrics and its checkpoints, kept on disk as they happen.

Layout under `root`:
    runs.sqlite                                   runs + metrics (SQLite in WAL mode)
    checkpoints/<run_id>/epoch_0003.safetensors   one state_dict per saved epoch

The app (several threads) and the CLI (another process) write the same database at once, so every
public method opens its own short-lived connection: nothing is shared between threads, and SQLite's
locking (with a 30 s busy timeout) serialises the writers.

Metric values: SQLite cannot store NaN (it turns it into NULL), so a NaN value is stored as NULL
and reads back as NaN in the DataFrames. +/-inf are stored as they are.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd
import torch
from safetensors.torch import load_file, save_file

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
    final    TEXT NOT NULL DEFAULT '{}'  -- JSON
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
"""


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
        self._mark_interrupted()

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
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise KeyError(f"no run with id {run_id}")

    def _mark_interrupted(self) -> None:
        """Runs left "running" by a process that no longer exists will never finish: say so."""
        with self._connect() as conn:
            running = conn.execute("SELECT id, owner FROM runs WHERE status = 'running'").fetchall()
        dead = [run_id for run_id, owner in running if not _owner_alive(owner)]
        if not dead:
            return
        with self._connect(write=True) as conn:
            conn.executemany(
                "UPDATE runs SET status = 'interrupted', message = ?, updated = ?"
                " WHERE id = ? AND status = 'running'",
                [(INTERRUPTED_MESSAGE, time.time(), run_id) for run_id in dead],
            )

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

    def heartbeat(self, run_id: int) -> None:
        with self._connect(write=True) as conn:
            cursor = conn.execute("UPDATE runs SET updated = ? WHERE id = ?", (time.time(), run_id))
            if cursor.rowcount == 0:
                raise KeyError(f"no run with id {run_id}")

    _RUN_COLUMNS = "id, model, dataset, params, status, message, created, updated, final"

    @staticmethod
    def _run_from_row(row: tuple) -> Run:
        id_, model, dataset, params, status, message, created, updated, final = row
        return Run(id_, model, dataset, json.loads(params), status, message, created, updated,
                   json.loads(final))

    def get_run(self, run_id: int) -> Run:
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
            conn.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self._checkpoint_dir(run_id), ignore_errors=True)

    # -- metrics -----------------------------------------------------------------------------

    def append_metrics(self, run_id: int, rows: Iterable[tuple]) -> None:
        """rows: (step, epoch or None, name, value, wall_time); NaN values are stored as NULL."""
        records = [
            (run_id, int(step), None if epoch is None else int(epoch), str(name),
             _metric_value(value), float(wall_time))
            for step, epoch, name, value, wall_time in rows
        ]
        if not records:
            return
        try:
            with self._connect(write=True) as conn:
                conn.executemany(
                    "INSERT INTO metrics (run_id, step, epoch, name, value, wall_time)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    records,
                )
        except sqlite3.IntegrityError as error:  # the foreign key: no such run
            raise KeyError(f"no run with id {run_id}") from error

    def metrics(self, run_id: int, names: list[str] | None = None) -> pd.DataFrame:
        """Long format (step, epoch, name, value, wall_time) in the order the rows were written."""
        query = "SELECT step, epoch, name, value, wall_time FROM metrics WHERE run_id = ?"
        args: list = [run_id]
        if names is not None:
            query += f" AND name IN ({','.join('?' * len(names))})"
            args += list(names)
        with self._connect() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(query + " ORDER BY rowid", args).fetchall()
        frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
        # Fixed dtypes, also for an empty run: epoch may be missing (step-level metrics).
        return frame.astype({"step": "int64", "epoch": "Int64", "name": "str",
                             "value": "float64", "wall_time": "float64"})

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
