"""The run store's sweeps: one row per hyperparameter sweep (engine/sweep), its trials being ordinary
runs tagged with its id (runs.sweep_id), so every page opens a trial like any other run.

A sweep is driven by one process (the CLI's, or a page's child: engine.sweep.job.SweepJob); pages
and the CLI stop it through `sweep_commands`, as they control a run through `commands`. A sweep
whose driving process is gone is marked interrupted, as a run is.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

SWEEP_STATUSES = ("running", "completed", "stopped", "failed", "interrupted")


@dataclass
class Sweep:
    id: int
    created: float
    updated: float
    spec: dict     # engine.sweep.spec.SweepSpec.as_dict()
    status: str
    message: str | None
    metric: str
    mode: str      # "max" | "min"
    best_run: int | None

    @property
    def running(self) -> bool:
        return self.status == "running"


class SweepRecords:
    """Mixed into RunStore (engine/core/runs.py): the same database, connections and owners
    (`_connect`, `_owner_of`, `_interrupt_dead`, `_RUN_COLUMNS`, `_run_from_row` are the store's)."""

    _SWEEP_COLUMNS = "id, created, updated, spec, status, message, metric, mode, best_run"
    has_sweeps = True  # False: an older store opened read-only, made before sweeps (it has none)

    def create_sweep(self, spec: dict, metric: str, mode: str) -> int:
        now = time.time()
        with self._connect(write=True) as conn:
            return conn.execute(
                "INSERT INTO sweeps (created, updated, spec, status, metric, mode, owner)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?)",
                (now, now, json.dumps(spec), metric, mode, self._owner_of(os.getpid()))).lastrowid

    @staticmethod
    def _sweep_from_row(row: tuple) -> Sweep:
        id_, created, updated, spec, status, message, metric, mode, best_run = row
        return Sweep(id_, created, updated, json.loads(spec), status, message, metric, mode, best_run)

    def get_sweep(self, sweep_id: int) -> Sweep:
        if not self.has_sweeps:
            raise KeyError(f"no sweep with id {sweep_id}")
        with self._connect() as conn:
            row = conn.execute(f"SELECT {self._SWEEP_COLUMNS} FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        if row is None:
            raise KeyError(f"no sweep with id {sweep_id}")
        return self._sweep_from_row(row)

    def list_sweeps(self, limit: int | None = None) -> list[Sweep]:
        """Newest first."""
        if not self.has_sweeps:
            return []
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {self._SWEEP_COLUMNS} FROM sweeps ORDER BY id DESC LIMIT ?",
                                (-1 if limit is None else limit,)).fetchall()
        return [self._sweep_from_row(row) for row in rows]

    def set_sweep_status(self, sweep_id: int, status: str, message: str | None = None,
                         best_run: int | None = None) -> None:
        if status not in SWEEP_STATUSES:
            raise ValueError(f"unknown sweep status {status!r}; expected one of {SWEEP_STATUSES}")
        with self._connect(write=True) as conn:
            cursor = conn.execute("UPDATE sweeps SET status = ?, message = ?, updated = ?,"
                                  " best_run = COALESCE(?, best_run) WHERE id = ?",
                                  (status, message, time.time(), best_run, sweep_id))
            if cursor.rowcount == 0:
                raise KeyError(f"no sweep with id {sweep_id}")

    def set_sweep_best(self, sweep_id: int, best_run: int | None) -> None:
        with self._connect(write=True) as conn:
            conn.execute("UPDATE sweeps SET best_run = ?, updated = ? WHERE id = ?", (best_run, time.time(), sweep_id))

    def set_sweep_owner(self, sweep_id: int, pid: int) -> None:
        with self._connect(write=True) as conn:
            conn.execute("UPDATE sweeps SET owner = ? WHERE id = ?", (self._owner_of(pid), sweep_id))

    def sweep_runs(self, sweep_id: int) -> list:
        """The sweep's trials (runs), oldest first."""
        if not self.has_sweeps:
            return []
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {self._RUN_COLUMNS} FROM runs WHERE sweep_id = ? ORDER BY id",
                                (sweep_id,)).fetchall()
        return [self._run_from_row(row) for row in rows]

    def send_sweep_command(self, sweep_id: int, verb: str) -> int:
        self.get_sweep(sweep_id)  # KeyError when there is none
        with self._connect(write=True) as conn:
            return conn.execute("INSERT INTO sweep_commands (sweep_id, verb, created) VALUES (?, ?, ?)",
                                (sweep_id, verb, time.time())).lastrowid

    def sweep_commands_since(self, sweep_id: int, after: int) -> list[tuple[int, str]]:
        """(id, verb) of the commands sent to the sweep after command id `after`, oldest first."""
        with self._connect() as conn:
            return conn.execute("SELECT id, verb FROM sweep_commands WHERE sweep_id = ? AND id > ? ORDER BY id",
                                (sweep_id, after)).fetchall()

    def mark_sweeps_interrupted(self) -> list[int]:
        """Sweeps left "running" by a process that no longer exists: say so (as mark_interrupted does for runs)."""
        return self._interrupt_dead("sweeps", "the process driving the sweep stopped unexpectedly; its finished "
                                              "trials are kept")
