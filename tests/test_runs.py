"""RunStore: runs, metrics, checkpoints, and surviving kills and concurrent writers."""
from __future__ import annotations

import math
import os
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from engine.core.runs import INTERRUPTED_MESSAGE, RunStore

REPO_ROOT = Path(__file__).resolve().parent.parent

posix_only = pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL and select on pipes")


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path)


def _state(seed: float) -> dict[str, torch.Tensor]:
    return {
        "layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3) * seed,
        "layer.bias": torch.tensor([seed, -seed]),
        "steps": torch.tensor([int(seed)], dtype=torch.int64),
    }


def _assert_same_tensors(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for key in expected:
        assert got[key].dtype == expected[key].dtype
        assert torch.equal(got[key], expected[key]), key


def _start(script: str, stdin=None) -> subprocess.Popen:
    """A Python subprocess that imports the engine from this checkout."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO_ROOT, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _read_line(proc: subprocess.Popen, timeout: float = 60) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        pytest.fail(f"subprocess printed nothing in {timeout} s: {proc.stderr.read()}")
    line = proc.stdout.readline()
    if not line:
        pytest.fail(f"subprocess exited early: {proc.wait()} {proc.stderr.read()}")
    return line.strip()


# -- runs ------------------------------------------------------------------------------------

def test_create_get_list(store):
    first = store.create_run("mlp", "digits", {"lr": 0.01, "hidden": [64, 32]})
    second = store.create_run("cnn", "mnist", {"lr": 0.001})

    run = store.get_run(first)
    assert run.id == first
    assert (run.model, run.dataset) == ("mlp", "digits")
    assert run.params == {"lr": 0.01, "hidden": [64, 32]}
    assert run.status == "running"
    assert run.message is None
    assert run.final == {}
    assert run.created == run.updated
    assert abs(run.created - time.time()) < 60

    assert [r.id for r in store.list_runs()] == [second, first]
    assert [r.id for r in store.list_runs(limit=1)] == [second]


def test_set_status_with_final_metrics(store):
    run_id = store.create_run("mlp", "digits", {})
    store.set_status(run_id, "diverged", "loss became NaN at step 12")
    run = store.get_run(run_id)
    assert (run.status, run.message, run.final) == ("diverged", "loss became NaN at step 12", {})
    assert run.updated >= run.created

    store.set_status(run_id, "completed", final={"val_acc": 0.97, "val_loss": 0.1})
    run = store.get_run(run_id)
    assert (run.status, run.message) == ("completed", None)
    assert run.final == {"val_acc": 0.97, "val_loss": 0.1}

    # A later status change without `final` keeps the summary.
    store.set_status(run_id, "stopped")
    assert store.get_run(run_id).final == {"val_acc": 0.97, "val_loss": 0.1}

    with pytest.raises(ValueError, match="unknown run status 'done'"):
        store.set_status(run_id, "done")


def test_progress_is_written_with_the_metrics_it_goes_with(store):
    run_id = store.create_run("mlp", "digits", {})
    before = store.get_run(run_id)
    assert before.progress == {}
    store.append_metrics(run_id, [(5, 1, "val_acc", 0.5, 1.0)], progress={"state": "paused", "epoch": 1})
    after = store.get_run(run_id)
    assert after.progress == {"state": "paused", "epoch": 1} and after.updated >= before.updated
    store.set_progress(run_id, {"state": "training", "step": 6})
    assert store.get_run(run_id).progress == {"state": "training", "step": 6}


def test_metrics_since_reads_only_new_rows(store):
    run_id = store.create_run("mlp", "digits", {})
    store.append_metrics(run_id, [(1, 1, "loss", 1.0, 0.0), (2, 1, "loss", 0.5, 0.0)])
    first, last = store.metrics_since(run_id, 0)
    assert list(first.value) == [1.0, 0.5]
    store.append_metrics(run_id, [(3, 1, "loss", 0.25, 0.0)])
    new, last2 = store.metrics_since(run_id, last)
    assert list(new.step) == [3] and last2 > last
    empty, last3 = store.metrics_since(run_id, last2)
    assert empty.empty and last3 == last2


def test_commands_queue_per_run(store):
    a, b = store.create_run("mlp", "digits", {}), store.create_run("mlp", "digits", {})
    first = store.send_command(a, "pause")
    store.send_command(b, "stop")
    store.send_command(a, "step", n=2)
    commands = store.commands_since(a, 0)
    assert [(c.verb, c.args) for c in commands] == [("pause", {}), ("step", {"n": 2})]
    assert [c.verb for c in store.commands_since(a, first)] == ["step"]
    with pytest.raises(KeyError, match="4242"):
        store.send_command(4242, "stop")


def test_artifacts_latest_or_by_epoch(store):
    run_id = store.create_run("mlp", "digits", {})
    assert store.artifact(run_id, "confusion") is None
    store.save_artifacts(run_id, 1, {"confusion": [[1, 0], [0, 1]]})
    store.save_artifacts(run_id, 2, {"confusion": [[2, 0], [1, 1]]})
    epoch, matrix = store.artifact(run_id, "confusion")
    assert epoch == 2 and matrix.tolist() == [[2, 0], [1, 1]]
    assert store.artifact(run_id, "confusion", 1)[1].tolist() == [[1, 0], [0, 1]]
    store.delete_run(run_id)
    assert store.artifact(run_id, "confusion") is None


def test_a_store_from_before_progress_gains_the_column(tmp_path):
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        conn.executescript("""CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL,
            dataset TEXT NOT NULL, params TEXT NOT NULL, status TEXT NOT NULL, message TEXT,
            owner TEXT NOT NULL DEFAULT '', created REAL NOT NULL, updated REAL NOT NULL,
            final TEXT NOT NULL DEFAULT '{}');
            INSERT INTO runs (model, dataset, params, status, created, updated)
            VALUES ('mlp', 'digits', '{}', 'completed', 1, 1);""")
    store = RunStore(tmp_path)
    assert store.get_run(1).progress == {} and store.get_run(1).status == "completed"


def test_delete_removes_rows_and_checkpoints(store, tmp_path):
    keep = store.create_run("mlp", "digits", {})
    gone = store.create_run("mlp", "digits", {})
    store.append_metrics(gone, [(0, 0, "loss", 1.0, 0.0)])
    store.append_metrics(keep, [(0, 0, "loss", 2.0, 0.0)])
    folder = store.save_checkpoint(gone, 1, _state(1)).parent
    assert folder == tmp_path / "checkpoints" / str(gone)

    store.delete_run(gone)

    assert not folder.exists()
    assert [r.id for r in store.list_runs()] == [keep]
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM metrics WHERE run_id = ?", (gone,)).fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM metrics WHERE run_id = ?", (keep,)).fetchone() == (1,)


def test_unknown_run_id(store):
    with pytest.raises(KeyError, match="no run with id 4242"):
        store.get_run(4242)
    for call in (lambda: store.set_status(4242, "failed"),
                 lambda: store.set_progress(4242, {}),
                 lambda: store.delete_run(4242),
                 lambda: store.metrics(4242),
                 lambda: store.append_metrics(4242, [(0, 0, "loss", 1.0, 0.0)])):
        with pytest.raises(KeyError, match="4242"):
            call()


# -- metrics ---------------------------------------------------------------------------------

ROWS = [
    (0, None, "loss", 2.5, 100.0),
    (0, None, "acc", 0.1, 100.0),
    (1, None, "loss", float("nan"), 101.0),
    (1, None, "acc", None, 101.0),
    (1, 0, "val_acc", 0.5, 101.5),
    (2, 1, "loss", float("inf"), 102.0),
]


def test_metrics_round_trip_in_order(store):
    run_id = store.create_run("mlp", "digits", {})
    store.append_metrics(run_id, ROWS[:3])
    store.append_metrics(run_id, iter(ROWS[3:]))  # any iterable

    frame = store.metrics(run_id)
    assert list(frame.columns) == ["step", "epoch", "name", "value", "wall_time"]
    assert frame["step"].tolist() == [0, 0, 1, 1, 1, 2]
    assert frame["epoch"].tolist() == [pd.NA, pd.NA, pd.NA, pd.NA, 0, 1]
    assert frame["name"].tolist() == ["loss", "acc", "loss", "acc", "val_acc", "loss"]
    assert frame["wall_time"].tolist() == [100.0, 100.0, 101.0, 101.0, 101.5, 102.0]
    values = frame["value"].tolist()
    assert values[:2] == [2.5, 0.1]
    # NaN and None both come back as NaN (stored as NULL); inf is kept.
    assert math.isnan(values[2]) and math.isnan(values[3])
    assert values[4:] == [0.5, math.inf]
    assert frame["value"].dtype == "float64"

    only = store.metrics(run_id, names=["acc", "val_acc"])
    assert only["name"].tolist() == ["acc", "acc", "val_acc"]
    assert only["step"].tolist() == [0, 1, 1]
    assert store.metrics(run_id, names=[]).empty


def test_metrics_of_empty_run(store):
    run_id = store.create_run("mlp", "digits", {})
    frame = store.metrics(run_id)
    assert frame.empty
    assert list(frame.columns) == ["step", "epoch", "name", "value", "wall_time"]
    assert list(store.metrics_wide(run_id).columns) == ["step", "epoch"]


def test_metrics_wide_and_csv(store):
    run_id = store.create_run("mlp", "digits", {})
    store.append_metrics(run_id, ROWS)
    store.append_metrics(run_id, [(2, 1, "loss", 0.75, 103.0)])  # re-logged: later value wins

    wide = store.metrics_wide(run_id)
    assert list(wide.columns) == ["step", "epoch", "loss", "acc", "val_acc"]
    assert wide["step"].tolist() == [0, 1, 1, 2]
    assert wide["epoch"].tolist() == [pd.NA, pd.NA, 0, 1]
    assert wide.loc[0, ["loss", "acc"]].tolist() == [2.5, 0.1]
    assert wide.loc[3, "loss"] == 0.75
    assert wide.loc[2, "val_acc"] == 0.5
    assert wide[["loss", "acc", "val_acc"]].isna().sum().tolist() == [2, 3, 3]

    assert store.export_csv(run_id).splitlines() == [
        "step,epoch,loss,acc,val_acc",
        "0,,2.5,0.1,",
        "1,,,,",
        "1,0,,,0.5",
        "2,1,0.75,,",
    ]


# -- checkpoints -----------------------------------------------------------------------------

def test_checkpoint_round_trip(store, tmp_path):
    run_id = store.create_run("mlp", "digits", {})
    tied = torch.ones(2, 2)
    store.save_checkpoint(run_id, 1, _state(1) | {"a": tied, "b": tied})  # shared storage is fine
    path = store.save_checkpoint(run_id, 2, _state(2))

    assert path == tmp_path / "checkpoints" / str(run_id) / "epoch_0002.safetensors"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "epoch_0001.safetensors", "epoch_0002.safetensors"]  # no temp files left behind
    assert store.checkpoint_epochs(run_id) == [1, 2]
    _assert_same_tensors(store.load_checkpoint(run_id), _state(2))
    _assert_same_tensors(store.load_checkpoint(run_id, 1), _state(1) | {"a": tied, "b": tied})

    with pytest.raises(FileNotFoundError, match="no checkpoint for epoch 3"):
        store.load_checkpoint(run_id, 3)


def test_checkpoint_of_non_contiguous_tensor(store):
    run_id = store.create_run("mlp", "digits", {})
    transposed = torch.arange(6.0).reshape(2, 3).t()
    store.save_checkpoint(run_id, 1, {"w": transposed})
    assert torch.equal(store.load_checkpoint(run_id)["w"], transposed)


def test_load_checkpoint_without_any(store):
    run_id = store.create_run("mlp", "digits", {})
    assert store.checkpoint_epochs(run_id) == []
    with pytest.raises(FileNotFoundError, match=f"run {run_id} has no checkpoints"):
        store.load_checkpoint(run_id)


# -- owners and interrupted runs -------------------------------------------------------------

def _set_owner(tmp_path, run_id: int, owner: str) -> None:
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        conn.execute("UPDATE runs SET owner = ? WHERE id = ?", (owner, run_id))


def test_live_owner_is_not_interrupted(store, tmp_path):
    run_id = store.create_run("mlp", "digits", {})
    RunStore(tmp_path)
    assert store.get_run(run_id).status == "running"


def test_owner_on_another_host_is_left_alone(store, tmp_path):
    run_id = store.create_run("mlp", "digits", {})
    _set_owner(tmp_path, run_id, "some-other-host.example:1:1")
    RunStore(tmp_path)
    assert store.get_run(run_id).status == "running"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_reused_pid_counts_as_gone(store, tmp_path):
    import socket

    run_id = store.create_run("mlp", "digits", {})
    # Our own pid, but a start time that is not ours: another process that once had this pid.
    _set_owner(tmp_path, run_id, f"{socket.gethostname()}:{os.getpid()}:1")
    RunStore(tmp_path)
    run = store.get_run(run_id)
    assert (run.status, run.message) == ("interrupted", INTERRUPTED_MESSAGE)


@posix_only
def test_killed_trainer_is_marked_interrupted(tmp_path):
    proc = _start(f"""
        import time, torch
        from engine.core.runs import RunStore
        store = RunStore({str(tmp_path)!r})
        run_id = store.create_run("mlp", "digits", {{"lr": 0.1}})
        store.append_metrics(run_id, [(i, 0, "loss", 1.0 / (i + 1), time.time()) for i in range(5)])
        store.save_checkpoint(run_id, 1, {{"w": torch.arange(4.0), "b": torch.tensor([7])}})
        print(run_id, flush=True)
        step = 5
        while True:
            store.append_metrics(run_id, [(step, 1, "loss", 0.5, time.time())])
            step += 1
    """)
    try:
        run_id = int(_read_line(proc))
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    store = RunStore(tmp_path)
    run = store.get_run(run_id)
    assert (run.status, run.message) == ("interrupted", INTERRUPTED_MESSAGE)
    frame = store.metrics(run_id)
    assert len(frame) >= 5
    assert frame["step"].tolist() == list(range(len(frame)))
    assert frame["value"].tolist()[:5] == [1.0 / (i + 1) for i in range(5)]
    _assert_same_tensors(store.load_checkpoint(run_id),
                         {"w": torch.arange(4.0), "b": torch.tensor([7])})


@pytest.mark.slow
@posix_only
def test_two_processes_write_at_once(tmp_path):
    script = f"""
        import sys, time
        from engine.core.runs import RunStore
        store = RunStore({str(tmp_path)!r})
        run_id = store.create_run("mlp", "digits", {{}})
        print(run_id, flush=True)
        sys.stdin.readline()  # wait until both writers are ready, so they really overlap
        for batch in range(200):
            store.append_metrics(run_id, [(batch * 10 + i, batch // 20, "loss", float(batch * 10 + i),
                                           time.time()) for i in range(10)])
        print("done", flush=True)
    """
    procs = [_start(script, stdin=subprocess.PIPE) for _ in range(2)]
    try:
        run_ids = [int(_read_line(p)) for p in procs]
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        assert [_read_line(p) for p in procs] == ["done", "done"]
        for p in procs:
            assert p.wait(timeout=60) == 0, p.stderr.read()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    store = RunStore(tmp_path)
    assert len(set(run_ids)) == 2
    for run_id in run_ids:
        frame = store.metrics(run_id)
        assert frame["step"].tolist() == list(range(2000))
        assert frame["value"].tolist() == [float(i) for i in range(2000)]
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


# -- checksums and temp files left by a kill -------------------------------------------------

def _overwrite_weight_bytes(path: Path) -> None:
    """Flip bytes inside the tensor data (the header stays valid): safetensors alone loads this."""
    data = bytearray(path.read_bytes())
    header = int.from_bytes(data[:8], "little")
    start = 8 + header
    data[start:start + 8] = bytes(255 - b for b in data[start:start + 8])
    path.write_bytes(bytes(data))


def test_a_checkpoint_whose_weight_bytes_were_overwritten_fails_its_checksum(store):
    """Input: epoch 2's file with 8 bytes of its tensor data inverted, same length, valid header."""
    from engine.core.runs import DamagedCheckpoint

    run_id = store.create_run("mlp", "digits", {})
    store.save_checkpoint(run_id, 1, _state(1))
    path = store.save_checkpoint(run_id, 2, _state(2))
    assert len(store.checksums(run_id)[2]) == 64  # a SHA-256 recorded at save

    _overwrite_weight_bytes(path)

    with pytest.raises(DamagedCheckpoint, match="^its bytes have changed since it was saved: its SHA-256 differs "
                                                "from the one recorded then$"):
        store.load_checkpoint(run_id, 2)
    _assert_same_tensors(store.load_checkpoint(run_id, 1), _state(1))
    assert store.checkpoint_problem(run_id, 2).startswith("DamagedCheckpoint: its bytes have changed")
    assert store.checkpoint_problem(run_id, 1) is None


def test_a_checkpoint_saved_before_checksums_still_loads(store, tmp_path):
    """Input: a checkpoint with no recorded checksum (as every checkpoint saved before them)."""
    run_id = store.create_run("mlp", "digits", {})
    store.save_checkpoint(run_id, 1, _state(1))
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        conn.execute("DELETE FROM checkpoints")
    assert store.checksums(run_id) == {}
    _assert_same_tensors(store.load_checkpoint(run_id), _state(1))
    assert store.record_checksums(run_id) == 1 and 1 in store.checksums(run_id)


def test_a_checkpoint_carries_its_run_for_recovery(store):
    run_id = store.create_run("mlp", "spiral", {"epochs": 4, "lr": 0.1})
    store.save_checkpoint(run_id, 3, _state(3))
    meta = store.checkpoint_run_metadata(run_id)
    assert {k: meta[k] for k in ("id", "model", "dataset", "params", "epoch")} == {
        "id": run_id, "model": "mlp", "dataset": "spiral", "params": {"epochs": 4, "lr": 0.1}, "epoch": 3}


@posix_only
def test_temp_files_of_a_process_killed_mid_write_are_removed_when_the_store_opens(tmp_path):
    """Input: a process SIGKILLed while writing epoch 2's checkpoint (its temp file written, not yet
    renamed), and a temp file of a live process (ours), which must stay."""
    store = RunStore(tmp_path)
    run_id = store.create_run("mlp", "digits", {})
    store.save_checkpoint(run_id, 1, _state(1))
    proc = _start(f"""
        import os, sys, time, torch
        from engine.core.runs import RunStore
        store = RunStore({str(tmp_path)!r})
        def stuck(src, dst):  # the kill lands between writing the temp file and renaming it
            print(src, flush=True)
            time.sleep(600)
        os.replace = stuck
        store.save_checkpoint({run_id}, 2, {{"w": torch.zeros(1000)}})
    """)
    try:
        orphan = Path(_read_line(proc))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert orphan.exists() and orphan.name == f".epoch_0002.safetensors.{proc.pid}.tmp"
    live = orphan.with_name(f".epoch_0003.safetensors.{os.getpid()}.tmp")
    live.write_bytes(b"being written")

    RunStore(tmp_path)

    assert not orphan.exists() and live.exists()
    assert store.checkpoint_epochs(run_id) == [1]
