"""The run store when things go wrong around it: a read-only data dir, a full disk, a damaged
runs.sqlite (bad header, truncated, random bytes), and `runs check` / `runs recover`.

Reading must work where writing cannot (listing and opening runs write nothing); every write then
fails with one message that says why and what to do. Read-only folders are made with chmod (which
root writes through: skipped as root) and, where this process may, with a read-only bind mount and
a full tmpfs in a mount namespace of their own (`unshare -m`): the real faults, not simulations."""
import json
import os
import shlex
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from engine.core.loading import load_run
from engine.core.recovery import REBUILT_MESSAGE, check_store, recover_store
from engine.core.runs import RECOVER_HINT, RunStore, StoreDamaged, StoreReadOnly
from tests.stored import stored_run

REPO_ROOT = Path(__file__).resolve().parent.parent


def _small_store(root: Path) -> tuple[RunStore, int]:
    store = RunStore(root)
    run_id = store.create_run("mlp", "spiral", {"epochs": 2})
    store.save_checkpoint(run_id, 1, {"w": torch.arange(4.0)})
    store.set_status(run_id, "completed")
    return store, run_id


# ---- read-only and full ----------------------------------------------------------------------------

@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes through chmod")
def test_a_read_only_data_dir_lists_and_opens_runs_and_refuses_writes(tmp_path):
    """Input: the store's folder, its database and checkpoints chmod'ed read-only."""
    root = tmp_path / "runs"
    _, run_id = _small_store(root)
    paths = [root, root / "checkpoints", root / "checkpoints" / str(run_id)] + list(root.glob("runs.sqlite*"))
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        store = RunStore(root)
        assert store.read_only == "this user may not write to its folder"
        assert [r.id for r in store.list_runs()] == [run_id]
        assert torch.equal(store.load_checkpoint(run_id)["w"], torch.arange(4.0))
        with pytest.raises(StoreReadOnly, match=f"^the run store in {root} cannot be written: this user may not "
                                                "write to its folder: make the folder writable"):
            store.create_run("mlp", "spiral", {})
    finally:
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)


class _FullDisk:
    """A connection on a full disk: reads work, every write fails as SQLite fails it."""
    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql, *args):
        if sql.startswith("BEGIN IMMEDIATE") or "journal_mode=" in sql:
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


@pytest.fixture
def full_disk(monkeypatch):
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _FullDisk(connect(*a, **k)))


def test_a_full_disk_still_lists_runs_and_says_why_a_write_fails(tmp_path, monkeypatch):
    """Input: SQLite answering "database or disk is full" to every write (simulated), with a run
    whose process died (opening the store would mark it interrupted: a write)."""
    store, run_id = _small_store(tmp_path)
    dead = store.create_run("mlp", "spiral", {})
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        conn.execute("UPDATE runs SET owner = 'gone-host:1:1' WHERE id = ?", (dead,))
    monkeypatch.setattr("engine.core.runs.socket.gethostname", lambda: "gone-host")
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _FullDisk(connect(*a, **k)))

    full = RunStore(tmp_path)

    assert full.read_only == "the disk is full"
    assert [r.id for r in full.list_runs()] == [dead, run_id]
    assert torch.equal(full.load_checkpoint(run_id)["w"], torch.arange(4.0))
    message = (f"the run store in {tmp_path} cannot be written: the disk is full: free some space (Home's "
               "\"Disk used by runs\" deletes old checkpoints) and try again")
    with pytest.raises(StoreReadOnly) as caught:
        full.create_run("mlp", "spiral", {})
    assert str(caught.value) == message


def test_a_disk_that_fills_after_the_store_opened_gives_the_same_message(tmp_path, monkeypatch):
    store, _ = _small_store(tmp_path)
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _FullDisk(connect(*a, **k)))
    with pytest.raises(StoreReadOnly, match="cannot be written: the disk is full: free some space"):
        store.set_status(1, "stopped")


def _may_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_mount_namespace = pytest.mark.skipif(os.name != "posix" or not _may_unshare(),
                                           reason="needs `unshare -m` (a mount namespace) to make the fault")

PROBE = """
    import json, torch
    from engine.core.runs import RunStore, RunStoreError
    store = RunStore({root!r})
    result = {{"read_only": store.read_only, "runs": [r.id for r in store.list_runs()],
               "weights": store.load_checkpoint({run_id})["w"].tolist()}}
    try:
        store.create_run("mlp", "spiral", {{}})
    except RunStoreError as err:
        result["write"] = str(err)
    print(json.dumps(result))
"""


def _in_mount_namespace(setup: str, *python_args: str) -> subprocess.CompletedProcess:
    """`python ARGS` after `setup` (shell commands that mount), in a mount namespace of its own."""
    command = " ".join(shlex.quote(a) for a in (sys.executable, *python_args))
    return subprocess.run(["unshare", "-m", "sh", "-c", f"{setup} && exec {command}"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def _probe_in_mount_namespace(setup: str, root: Path, run_id: int) -> dict:
    result = _in_mount_namespace(setup, "-c", textwrap.dedent(PROBE.format(root=str(root), run_id=run_id)))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@needs_mount_namespace
def test_a_read_only_file_system_lists_and_opens_runs(tmp_path):
    """Input: the data dir on a read-only bind mount (EROFS for every write, the -shm file included)."""
    root = tmp_path / "runs"
    _, run_id = _small_store(root)
    found = _probe_in_mount_namespace(f"mount --bind -o ro {shlex.quote(str(root))} {shlex.quote(str(root))}",
                                      root, run_id)
    assert found["read_only"] == "it is on a read-only file system"
    assert found["runs"] == [run_id] and found["weights"] == [0.0, 1.0, 2.0, 3.0]
    assert found["write"].startswith(f"the run store in {root} cannot be written: it is on a read-only file system: "
                                     "make the folder writable, or use another data dir")


@needs_mount_namespace
def test_the_cli_lists_a_read_only_store_and_refuses_to_train_with_one_line(tmp_path):
    """Input: `runs list` and `train` with the data dir on a read-only bind mount."""
    _, run_id = _small_store(tmp_path / "runs")
    read_only = f"mount --bind -o ro {shlex.quote(str(tmp_path))} {shlex.quote(str(tmp_path))}"
    listed = _in_mount_namespace(read_only, "-m", "engine", "--data-dir", str(tmp_path), "runs", "list")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["run_id"] for line in listed.stdout.splitlines()] == [run_id]
    trained = _in_mount_namespace(read_only, "-m", "engine", "--data-dir", str(tmp_path), "train", "--model", "mlp",
                                  "--dataset", "spiral")
    assert trained.returncode == 2
    assert trained.stderr == (f"error: the run store in {tmp_path / 'runs'} cannot be written: it is on a read-only "
                              "file system: make the folder writable, or use another data dir ($DEEP_PLAYGROUND_DATA "
                              "or --data-dir); runs can still be listed and opened\n")


@needs_mount_namespace
def test_a_really_full_disk_lists_and_opens_runs(tmp_path):
    """Input: the store on a 2 MB tmpfs filled to the last byte, with a run whose process died
    (opening the store marks it interrupted: a write, which fails)."""
    mount = tmp_path / "small"
    mount.mkdir()
    seed = tmp_path / "seed"
    store, run_id = _small_store(seed)
    dead = store.create_run("mlp", "spiral", {})
    with sqlite3.connect(seed / "runs.sqlite") as conn:
        conn.execute("UPDATE runs SET owner = ? WHERE id = ?", (f"{socket.gethostname()}:999999999:1", dead))
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    q = shlex.quote
    setup = (f"mount -t tmpfs -o size=2m tmpfs {q(str(mount))} && cp -r {q(str(seed))} {q(str(mount / 'runs'))} "
             f"&& (dd if=/dev/zero of={q(str(mount / 'fill'))} bs=4096 2>/dev/null; true)")
    found = _probe_in_mount_namespace(setup, mount / "runs", run_id)
    assert found["read_only"] == "the disk is full"
    assert found["runs"] == [dead, run_id] and found["weights"] == [0.0, 1.0, 2.0, 3.0]
    assert found["write"] == (f"the run store in {mount / 'runs'} cannot be written: the disk is full: free some "
                              "space (Home's \"Disk used by runs\" deletes old checkpoints) and try again")


# ---- a damaged runs.sqlite ---------------------------------------------------------------------------

def _bad_magic(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:16] = b"NOT A DATABASE!!"
    path.write_bytes(bytes(data))


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(20_000))


DAMAGE = {"bad magic": (_bad_magic, "file is not a database"),
          "truncated": (_truncated, "database disk image is malformed"),
          "random bytes": (_random_bytes, "file is not a database")}


def _damaged_store(root: Path, damage) -> list[int]:
    """Three runs with checkpoints (one of them a real model), then runs.sqlite damaged."""
    store = RunStore(root)
    ids = [stored_run(store, "mlp", "spiral", {"epochs": 2}, epochs=2)]
    for _ in range(2):
        run_id = store.create_run("mlp", "circle", {"epochs": 3})
        store.append_metrics(run_id, [(i, 1, "loss", 1.0, 0.0) for i in range(500)])  # a store of several pages
        store.save_checkpoint(run_id, 1, {"w": torch.ones(3)})
        ids.append(run_id)
    with sqlite3.connect(root / "runs.sqlite") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, as after a clean exit
    damage(root / "runs.sqlite")
    return ids


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_store_says_what_is_wrong_and_how_to_recover(tmp_path, kind):
    """Input: runs.sqlite with its header overwritten, cut in half, or replaced by random bytes."""
    damage, what = DAMAGE[kind]
    _damaged_store(tmp_path, damage)
    with pytest.raises(StoreDamaged) as caught:
        RunStore(tmp_path)
    assert str(caught.value) == f"the run store {tmp_path / 'runs.sqlite'} is damaged ({what}): {RECOVER_HINT}"
    assert RECOVER_HINT.startswith("run `python -m engine runs recover` to move it aside")
    check = check_store(tmp_path)
    assert not check.ok and check.database == what


@pytest.mark.parametrize("kind", DAMAGE)
def test_recover_rebuilds_the_runs_from_their_checkpoints(tmp_path, data_env, kind):
    damage, _ = DAMAGE[kind]
    ids = _damaged_store(tmp_path, damage)
    damaged_bytes = (tmp_path / "runs.sqlite").read_bytes()

    done = recover_store(tmp_path)

    assert done.moved_to.name.startswith("runs.sqlite.damaged-") and done.moved_to.read_bytes() == damaged_bytes
    assert done.recovered == 3 and sorted(done.from_store + done.from_checkpoints) == ids
    store = RunStore(tmp_path)
    runs = {r.id: r for r in store.list_runs()}
    assert sorted(runs) == ids
    rebuilt = runs[ids[1]]
    assert (rebuilt.model, rebuilt.dataset, rebuilt.params, rebuilt.status) == ("mlp", "circle", {"epochs": 3},
                                                                                  "interrupted")
    assert rebuilt.message == REBUILT_MESSAGE
    assert runs[ids[0]].status == "completed"  # its last epoch is its planned last
    loaded = load_run(store, ids[0], device="cpu")
    assert loaded.epoch == 2 and loaded.config.model == "mlp"
    assert set(store.checksums(ids[0])) == {1, 2}  # from now on a change is caught
    assert check_store(tmp_path).ok
    assert store.create_run("mlp", "spiral", {}) == ids[-1] + 1  # new runs never reuse a recovered id


def test_recover_keeps_a_sound_store_and_rebuilds_only_missing_runs(tmp_path):
    """Input: a sound store where one run's row was deleted by hand, and a checkpoint folder saved
    before checkpoints carried their run (no metadata)."""
    store, kept = _small_store(tmp_path)
    lost = store.create_run("mlp", "spiral", {"epochs": 1})
    store.save_checkpoint(lost, 1, {"w": torch.zeros(2)})
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        conn.execute("DELETE FROM runs WHERE id = ?", (lost,))
    bare = tmp_path / "checkpoints" / "77"
    bare.mkdir()
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, str(bare / "epoch_0001.safetensors"))

    done = recover_store(tmp_path)

    assert done.moved_to is None and done.from_store == [] and done.from_checkpoints == [lost]
    assert done.not_recovered == [77]
    assert sorted(r.id for r in RunStore(tmp_path).list_runs()) == [kept, lost]


def test_recover_puts_a_sweeps_trials_back_into_their_sweep(tmp_path):
    """Input: a store holding a sweep and its two trials with checkpoints, its last pages (metrics)
    overwritten with random bytes. The sweep's row is copied out of the damaged file with its trials."""
    store = RunStore(tmp_path)
    sweep = store.create_sweep({"model": "mlp"}, "val_acc", "max")
    trials = [store.create_run("mlp", "spiral", {"epochs": 1}, sweep_id=sweep) for _ in range(2)]
    for run_id in trials:
        store.save_checkpoint(run_id, 1, {"w": torch.zeros(2)})
        store.append_metrics(run_id, [(i, 1, "loss", 1.0, 0.0) for i in range(500)])  # a store of several pages
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = (tmp_path / "runs.sqlite").read_bytes()
    (tmp_path / "runs.sqlite").write_bytes(data[:-3 * 4096] + os.urandom(3 * 4096))

    done = recover_store(tmp_path)

    assert done.moved_to is not None and done.from_store == trials
    store = RunStore(tmp_path)
    assert [s.id for s in store.list_sweeps()] == [sweep]
    assert sorted(r.id for r in store.sweep_runs(sweep)) == trials


def test_a_rebuilt_trial_goes_back_into_its_sweep(tmp_path):
    """Input: a sound store where a sweep's trial lost its row: rebuilt from its checkpoint, it is in
    its sweep again."""
    store = RunStore(tmp_path)
    sweep = store.create_sweep({"model": "mlp"}, "val_acc", "max")
    lost = store.create_run("mlp", "spiral", {"epochs": 1}, sweep_id=sweep)
    store.save_checkpoint(lost, 1, {"w": torch.zeros(2)})
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        conn.execute("DELETE FROM runs WHERE id = ?", (lost,))

    assert recover_store(tmp_path).from_checkpoints == [lost]
    assert [r.id for r in RunStore(tmp_path).sweep_runs(sweep)] == [lost]


def test_check_finds_damaged_checkpoints(tmp_path):
    store, run_id = _small_store(tmp_path)
    path = store.save_checkpoint(run_id, 2, {"w": torch.arange(4.0)})
    data = bytearray(path.read_bytes())
    data[-4:] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    check = check_store(tmp_path)
    assert check.database is None and check.checkpoints_checked == 2
    assert [(r, e) for r, e, _ in check.damaged_checkpoints] == [(run_id, 2)] and not check.ok
