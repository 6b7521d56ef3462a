"""Checking and recovering a run store: `python -m engine runs check` and `runs recover`.

A damaged runs.sqlite (overwritten header, truncated, random bytes) makes every run unreachable,
though their checkpoints are still on disk, and each checkpoint carries its run's model, dataset
and params in its metadata (RunStore.save_checkpoint). Recovery moves the damaged file aside (kept,
never deleted), starts a new store, copies what SQLite can still read of the old one (often the
runs table survives a truncation), then rebuilds every run that is still missing from its
checkpoints' metadata. Those runs open again on every page; their curves were in the lost file.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.runs import RUN_TABLES, RunStore, RunStoreError, read_only_uri, sqlite_error_kind

# The tables worth copying out of a damaged store (commands are transient), sweeps and runs first.
SALVAGED_TABLES = ("sweeps", "runs") + tuple(t for t in RUN_TABLES if t != "commands")

REBUILT_MESSAGE = ("rebuilt from its checkpoints by `runs recover` after runs.sqlite was damaged: its checkpoints "
                   "open as before; its curves and metrics were in the damaged file")


@dataclass
class StoreCheck:
    """What `runs check` found: the database's problem (None: it passed SQLite's integrity check)
    and every checkpoint that fails its checksum or cannot be read."""
    db_path: Path
    database: str | None = None
    damaged_checkpoints: list[tuple[int, int, str]] = field(default_factory=list)  # (run, epoch, problem)
    checkpoints_checked: int = 0

    @property
    def ok(self) -> bool:
        return self.database is None and not self.damaged_checkpoints


@dataclass
class Recovery:
    """What `runs recover` did."""
    moved_to: Path | None                                     # where the damaged file went (None: it was fine)
    from_store: list[int] = field(default_factory=list)       # runs copied from the damaged file
    from_checkpoints: list[int] = field(default_factory=list)  # runs rebuilt from their checkpoints
    not_recovered: list[int] = field(default_factory=list)     # checkpoint folders with no run to rebuild

    @property
    def recovered(self) -> int:
        return len(self.from_store) + len(self.from_checkpoints)


def database_problem(db_path: Path) -> str | None:
    """What SQLite's integrity check finds wrong with the file (None: nothing). Only reads it."""
    if not db_path.exists():
        return None
    try:
        conn = sqlite3.connect(read_only_uri(db_path), uri=True)
        try:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        if sqlite_error_kind(err) != "damaged":  # e.g. a folder this user may not read
            raise RunStoreError(f"cannot check the run store {db_path}: {err}") from err
        return str(err)
    return None if rows == ["ok"] else "; ".join(rows[:5])


def check_store(root: Path) -> StoreCheck:
    """The database's integrity, then (if it is readable) every checkpoint's checksum."""
    root = Path(root)
    check = StoreCheck(root / "runs.sqlite", database_problem(root / "runs.sqlite"))
    if check.database is not None:
        return check  # the checksums are in the damaged file: recover it first
    store = RunStore(root)
    for run_id in store.checkpoint_run_ids():
        for epoch in store.checkpoint_epochs(run_id):
            check.checkpoints_checked += 1
            problem = store.checkpoint_problem(run_id, epoch)
            if problem:
                check.damaged_checkpoints.append((run_id, epoch, problem))
    return check


def recover_store(root: Path) -> Recovery:
    """Move a damaged runs.sqlite aside, start a new store with what can still be read of it, and
    rebuild every run that has checkpoints but no row, from their metadata. On a sound store, only
    the rebuilding (runs whose rows were lost another way, e.g. a store deleted by hand)."""
    root = Path(root)
    db_path = root / "runs.sqlite"
    moved_to = None
    if database_problem(db_path) is not None:
        try:
            moved_to = _move_aside(db_path)
        except OSError as err:  # a read-only folder: nothing can be rebuilt here
            raise RunStoreError(f"cannot move the damaged {db_path} aside ({err.strerror}): make its folder "
                                "writable and run `python -m engine runs recover` again") from err
    store = RunStore(root)
    recovery = Recovery(moved_to)
    if moved_to is not None:
        recovery.from_store = _salvage(moved_to, db_path)
    known = {run.id for run in store.list_runs()}
    for run_id in store.checkpoint_run_ids():
        if run_id in known:
            continue
        meta = store.checkpoint_run_metadata(run_id)
        if not _describes_run(meta, run_id):
            recovery.not_recovered.append(run_id)
            continue
        _insert_run(db_path, run_id, meta, store.checkpoint_epochs(run_id))
        recovery.from_checkpoints.append(run_id)
    for run_id in store.checkpoint_run_ids():
        if run_id not in recovery.not_recovered:
            store.record_checksums(run_id)  # the checksums were in the damaged file: from now on, changes show
    store.mark_interrupted()  # copied runs that were training when the file broke
    return recovery


def _move_aside(db_path: Path) -> Path:
    """runs.sqlite -> runs.sqlite.damaged-<time>, with its -wal and -shm files (a new database must
    never pick up the old one's write-ahead log)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = db_path.with_name(f"{db_path.name}.damaged-{stamp}-{n}")
    db_path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


def _salvage(damaged: Path, db_path: Path) -> list[int]:
    """Copy every row SQLite can still read from the damaged file's tables into the new store;
    returns the ids of the runs copied. A table stops at its first unreadable page."""
    try:
        old = sqlite3.connect(read_only_uri(damaged), uri=True)
    except sqlite3.DatabaseError:
        return []
    new = sqlite3.connect(db_path)
    try:
        new.execute("PRAGMA foreign_keys=OFF")  # rows are copied table by table; orphans go at the end
        for table in SALVAGED_TABLES:
            columns = {row[1] for row in new.execute(f"PRAGMA table_info({table})")}
            try:
                cursor = old.execute(f"SELECT * FROM {table}")
                names = [d[0] for d in cursor.description]
                keep = [i for i, name in enumerate(names) if name in columns]
                insert = (f"INSERT OR IGNORE INTO {table} ({', '.join(names[i] for i in keep)}) "
                          f"VALUES ({', '.join('?' * len(keep))})")
                while rows := cursor.fetchmany(1000):
                    new.executemany(insert, [tuple(row[i] for i in keep) for row in rows])
            except sqlite3.DatabaseError:
                pass  # not there, or damaged from here on: keep what was read
            new.commit()
        for table in RUN_TABLES:
            new.execute(f"DELETE FROM {table} WHERE run_id NOT IN (SELECT id FROM runs)")
        new.commit()
        return [row[0] for row in new.execute("SELECT id FROM runs ORDER BY id")]
    finally:
        old.close()
        new.close()


def _describes_run(meta, run_id: int) -> bool:
    """Whether a checkpoint's metadata names this run with all a run row needs."""
    return (isinstance(meta, dict) and meta.get("id") == run_id and isinstance(meta.get("model"), str)
            and isinstance(meta.get("dataset"), str) and isinstance(meta.get("params"), dict))


def _insert_run(db_path: Path, run_id: int, meta: dict, epochs: list[int]) -> None:
    """A run row rebuilt from its checkpoints' metadata, under its own id (links to it still work)."""
    planned = meta["params"].get("epochs")
    status = "completed" if isinstance(planned, int) and epochs[-1] >= planned else "interrupted"
    conn = sqlite3.connect(db_path)
    try:
        # A sweep's trial goes back into its sweep when the sweep's row was saved (else the run stands alone).
        sweep_id = meta.get("sweep_id")
        if not isinstance(sweep_id, int) or not conn.execute("SELECT 1 FROM sweeps WHERE id = ?", (sweep_id,)).fetchone():
            sweep_id = None
        conn.execute(
            "INSERT INTO runs (id, model, dataset, params, status, message, owner, created, updated, final, sweep_id)"
            " VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?)",
            (run_id, meta["model"], meta["dataset"], json.dumps(meta["params"]), status, REBUILT_MESSAGE,
             float(meta.get("created", time.time())), time.time(), json.dumps({"epochs": epochs[-1]}), sweep_id))
        conn.commit()
    finally:
        conn.close()

