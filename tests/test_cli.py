"""The headless CLI, run as a person runs it: `python -m engine ...` in a subprocess."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.core.runs import RunStore

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # each test starts `python -m engine` (torch's import alone takes seconds)


def cli(*args, data, check=True, timeout=300):
    env = {**os.environ, "DEEP_PLAYGROUND_DATA": str(data)}
    result = subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env, text=True,
                            capture_output=True, timeout=timeout)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_help_lists_models_params_and_datasets(tmp_path, monkeypatch):
    # Fashion-MNIST not installed (an empty folder in its place, whatever this machine has): the install hint
    monkeypatch.setenv("DEEP_PLAYGROUND_FASHION_DIR", str(tmp_path / "no-fashion"))
    out = cli("--help", data=tmp_path).stdout
    for word in ("mlp:", "cnn:", "resnet:", "conv_pool", "activation", "relu|leaky_relu|elu|selu|tanh|sigmoid",
                 "sgd|momentum|nesterov|adam|adamw|rmsprop", "mnist:", "digits:", "spiral:", "noise",
                 "fashion-mnist: ", "dataset-fashion-mnist"):
        assert word in out


def test_a_setting_the_optimiser_ignores_exits_2_and_help_says_when_it_applies(tmp_path):
    """Input: `train --optimizer adam --set momentum=0.5` (Adam has no momentum: the run would ignore it)."""
    result = cli("train", "--model", "mlp", "--dataset", "spiral", "--optimizer", "adam", "--set", "momentum=0.5",
                 data=tmp_path, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("error: momentum is used only when optimizer is momentum or nesterov (here optimizer "
                             "is adam): leave it out, or change optimizer\n")
    assert "momentum for SGD+momentum and Nesterov (only when optimizer is momentum or nesterov)" in \
        cli("train", "--help", data=tmp_path).stdout


def test_train_then_list_show_export(tmp_path, shared_data_dir):
    data = shared_data_dir
    result = cli("train", "--model", "mlp", "--dataset", "spiral", "--epochs", "3", "--lr", "0.01",
                 "--set", "depth=3", "--option", "noise=0.2", data=data)
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["status"] == "completed" and line["final"]["epochs"] == 3
    run_id = line["run_id"]
    assert "epoch 1/3" in result.stderr and "epoch 3/3" in result.stderr

    listed = [json.loads(l) for l in cli("runs", "list", data=data).stdout.splitlines()]
    assert run_id in [r["run_id"] for r in listed]
    shown = json.loads(cli("runs", "show", str(run_id), data=data).stdout)
    assert shown["params"]["depth"] == 3 and shown["params"]["lr"] == 0.01
    assert shown["params"]["dataset_options"]["noise"] == 0.2
    assert shown["checkpoint_epochs"] == [1, 2, 3]

    out = tmp_path / "run.csv"
    cli("runs", "export", str(run_id), "--csv", "--out", str(out), data=data)
    header, *rows = out.read_text().splitlines()
    assert header.startswith("step,epoch,loss,train_loss,train_acc,val_loss,val_acc")
    assert len(rows) == 3 * (250 // 64)


@pytest.mark.parametrize("args, message", [
    (["train", "--model", "nope", "--dataset", "mnist"], "unknown model 'nope'"),
    (["train", "--model", "mlp", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["train", "--model", "cnn", "--dataset", "spiral"], "trains on image data"),
    (["train", "--model", "mlp", "--dataset", "spiral", "--lr", "fast"], "lr must be a number, not 'fast'"),
    (["train", "--model", "mlp", "--dataset", "spiral", "--set", "depth"], "--set expects key=value"),
    (["train", "--model", "mlp", "--dataset", "spiral", "--set", "heads=4"], "unknown setting(s) heads"),
    (["train", "--model", "mlp", "--dataset", "spiral", "--device", "tpu"], "unknown device 'tpu'"),
    (["runs", "show", "12345"], "no run with id 12345"),
])
def test_bad_arguments_exit_non_zero_with_a_message(tmp_path, args, message):
    result = cli(*args, data=tmp_path, check=False)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.startswith("error: ")


def test_diverged_run_exits_1(tmp_path):
    result = cli("train", "--model", "mlp", "--dataset", "spiral", "--lr", "100", "--optimizer", "sgd",
                 "--epochs", "50", "--batch-size", "8", data=tmp_path, check=False)
    assert result.returncode == 1
    assert json.loads(result.stdout)["status"] == "diverged"
    assert "diverged" in result.stderr and "lower learning rate" in result.stderr


def test_killed_training_is_interrupted_and_recoverable(tmp_path, shared_data_dir, monkeypatch):
    """SIGKILL the CLI mid-run: on the next open the run is 'interrupted', metrics and checkpoint load."""
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(shared_data_dir))
    runs = tmp_path / "runs"
    env = {**os.environ, "DEEP_PLAYGROUND_DATA": str(shared_data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "--data-dir", str(tmp_path), "train",
                             "--model", "mlp", "--dataset", "digits", "--epochs", "1000", "--batch-size", "16"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        store = None
        while time.monotonic() < deadline:
            if (runs / "runs.sqlite").exists():
                store = RunStore(runs)
                listed = store.list_runs()
                if listed and len(store.checkpoint_epochs(listed[0].id)) >= 2:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the CLI run wrote no checkpoints in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    reopened = RunStore(runs)
    run = reopened.list_runs()[0]
    assert run.status == "interrupted" and "stopped unexpectedly" in run.message
    metrics = reopened.metrics(run.id)
    epochs_done = reopened.checkpoint_epochs(run.id)
    assert len(epochs_done) >= 2
    # The Trainer writes an epoch's checkpoint, then its metrics (a page that sees the epoch finds its
    # checkpoint): a kill between the two leaves the newest checkpoint without its scores, never more.
    assert set(metrics[metrics.name == "val_acc"].epoch) >= set(epochs_done[:-1])
    from engine.data import load_dataset
    from engine.core.registry import validate
    from engine.core.trainer import build_model
    model = build_model(validate("mlp", "digits"), load_dataset("digits"))
    model.load_state_dict(reopened.load_checkpoint(run.id))


def test_a_damaged_store_exits_2_with_one_line_then_check_and_recover(tmp_path):
    """Input: runs.sqlite with its header overwritten, one run with two checkpoints beside it."""
    import torch

    from engine.core.runs import RECOVER_HINT
    store = RunStore(tmp_path / "runs")
    run_id = store.create_run("mlp", "spiral", {"epochs": 2})
    for epoch in (1, 2):
        store.save_checkpoint(run_id, epoch, {"w": torch.zeros(3)})
    db = tmp_path / "runs" / "runs.sqlite"
    db.write_bytes(b"NOT A DATABASE!!" + db.read_bytes()[16:])
    damaged = f"error: the run store {db} is damaged (file is not a database): {RECOVER_HINT}\n"

    for verb in (["runs", "list"], ["runs", "show", str(run_id)], ["train", "--model", "mlp", "--dataset", "spiral"]):
        result = cli(*verb, data=tmp_path, check=False)
        assert (result.returncode, result.stderr) == (2, damaged), verb

    result = cli("runs", "check", data=tmp_path, check=False)
    assert result.returncode == 1 and json.loads(result.stdout)["database"] == "file is not a database"
    assert result.stderr == f"error: {db} is damaged (file is not a database): run `python -m engine runs recover`\n"

    result = cli("runs", "recover", data=tmp_path)
    done = json.loads(result.stdout)
    assert done["recovered"] == 1 and done["from_checkpoints"] == [run_id]
    assert result.stderr.startswith("recovered 1 run(s): 0 read from the damaged store, 1 rebuilt from their "
                                    f"checkpoints; the damaged file is kept as {done['moved_to']}")
    shown = json.loads(cli("runs", "show", str(run_id), data=tmp_path).stdout)
    assert shown["model"] == "mlp" and shown["checkpoint_epochs"] == [1, 2]
    assert json.loads(cli("runs", "check", data=tmp_path).stdout)["ok"] is True


def test_retention_settings_from_the_command_line(tmp_path):
    """Input: --set keep_last=2 --set keep_every=0 --set keep_best=false on a 4-epoch run; then keep_last=0."""
    result = cli("train", "--model", "mlp", "--dataset", "spiral", "--epochs", "4", "--batch-size", "125", "--quiet",
                 "--set", "keep_last=2", "--set", "keep_every=0", "--set", "keep_best=false", data=tmp_path)
    run_id = json.loads(result.stdout)["run_id"]
    assert json.loads(cli("runs", "show", str(run_id), data=tmp_path).stdout)["checkpoint_epochs"] == [3, 4]
    result = cli("train", "--model", "mlp", "--dataset", "spiral", "--set", "keep_last=0", data=tmp_path, check=False)
    assert result.returncode == 2 and result.stderr == "error: keep_last must be between 1 and 1000; got 0\n"


def test_runs_clean_up_applies_the_retention_defaults_to_old_runs(tmp_path):
    """Input: a finished 8-epoch run made before retention settings existed (all 8 checkpoints kept)."""
    import torch

    store = RunStore(tmp_path / "runs")
    run_id = store.create_run("mlp", "spiral", {"epochs": 8})
    for epoch in range(1, 9):
        store.save_checkpoint(run_id, epoch, {"w": torch.zeros(250)})
    store.set_status(run_id, "completed")

    planned = json.loads(cli("runs", "clean-up", "--dry-run", data=tmp_path).stdout)
    assert (planned["checkpoints"], planned["runs"], planned["deleted"]) == (2, [run_id], False)
    assert store.checkpoint_epochs(run_id) == list(range(1, 9))
    result = cli("runs", "clean-up", data=tmp_path)
    assert json.loads(result.stdout)["deleted"] is True and result.stderr.startswith("deleted 2 checkpoint(s) of 1 run(s)")
    assert store.checkpoint_epochs(run_id) == [1, 4, 5, 6, 7, 8]
